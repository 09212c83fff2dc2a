"""The hot statements' path past SQLAlchemy (store.database.Driver, BulkInsert): values stored
exactly as SQLAlchemy stores them, read back the same, counted by the WriteLog, inside the
writer's transaction."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import exc, insert, select, text

from pigeon.store.database import BulkInsert, Driver
from pigeon.store.tables import accounts, handset_messages, report_events

NOW = datetime(2027, 3, 1, 2, 0, 5, 120, tzinfo=UTC)
ROUND = datetime(2027, 3, 1, 2, 0, 6, tzinfo=UTC)  # no microseconds
EAST = datetime(2027, 3, 1, 10, 0, 7, tzinfo=timezone(timedelta(hours=8)))


def new_account(conn) -> None:
    conn.execute(insert(accounts).values(id=1, name="Lark", status="active", created_at=NOW))


def raw(conn, table: str) -> list[tuple]:
    """Rows as the database holds them (no SQLAlchemy type processing)."""
    return [tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id")]


def test_a_bulk_insert_stores_what_sqlalchemy_stores(pigeon):
    items = [{"account_id": 1, "type": "SmsReport", "created_at": moment,
              "payload": {"biz_id": "1^0", "err_msg": "用户接收成功", "n": i, "ok": True}}
             for i, moment in enumerate((NOW, ROUND, EAST))]
    pigeon.db.write_sync(new_account)
    pigeon.db.write_sync(lambda conn: conn.execute(insert(report_events), items))
    pigeon.db.write_sync(lambda conn: BulkInsert(
        report_events, ("account_id", "type", "payload", "created_at")).run(conn, items))
    rows = pigeon.db.read_sync(raw, "report_events")
    by_sqlalchemy, by_driver = rows[:3], rows[3:]
    assert [row[1:] for row in by_driver] == [row[1:] for row in by_sqlalchemy]
    read = pigeon.db.read_sync(lambda conn: conn.execute(
        select(report_events).order_by(report_events.c.id)).mappings().all())
    assert [r["created_at"] for r in read] == [NOW, ROUND, EAST] * 2
    assert read[4]["payload"] == items[1]["payload"]
    assert read[3]["state"] == "pending" and read[3]["attempts"] == 0  # the column defaults


def test_a_json_none_is_stored_as_sqlalchemy_stores_it(pigeon):
    from pigeon.store.tables import messages

    pigeon.db.write_sync(new_account)
    row = {"biz_id": "1^0", "account_id": 1, "phone": "13800138000", "country_code": 86,
           "carrier": "mobile", "signature_id": 1, "sign_name": "云雀", "template_id": 1,
           "template_code": "SMS_1", "template_type": 1, "params": None, "content": "【云雀】hi",
           "segments": 1, "encoding": "mainland", "extend_code": "01", "out_id": None,
           "status": "queued", "err_code": None, "err_msg": None, "attempts": 0, "price": 45,
           "charged": True, "created_at": NOW, "done_at": None, "source_ip": None}
    pigeon.db.write_sync(lambda conn: conn.execute(insert(messages), [row]))
    ids = pigeon.db.write_sync(lambda conn: BulkInsert(messages, list(row)).returning_ids(
        conn, [row, row | {"params": {"code": "1234"}}, row | {"charged": False}]))
    rows = pigeon.db.read_sync(raw, "messages")
    assert ids == [rows[1][0], rows[2][0], rows[3][0]]
    assert rows[1][1:] == rows[0][1:]  # params None: JSON null, as SQLAlchemy writes it
    read = pigeon.db.read_sync(lambda conn: conn.execute(
        select(messages.c.params, messages.c.charged).order_by(messages.c.id)).all())
    assert read == [(None, True), (None, True), ({"code": "1234"}, True), (None, False)]


def test_returned_ids_follow_the_rows_order(pigeon):
    rows = [{"phone": f"1380013{i:04d}", "sender": "106", "text": str(i), "received_at": NOW}
            for i in range(250)]
    ids = pigeon.db.write_sync(lambda conn: BulkInsert(
        handset_messages, ("phone", "sender", "text", "received_at")).returning_ids(conn, rows))
    stored = dict(pigeon.db.read_sync(lambda conn: conn.execute(
        select(handset_messages.c.id, handset_messages.c.text)).all()))
    assert [stored[i] for i in ids] == [str(i) for i in range(250)]


def test_times_and_id_lists_round_trip(pigeon):
    def run(conn):
        driver = Driver.of(conn)
        BulkInsert(handset_messages, ("phone", "sender", "text", "received_at")).run(conn, [
            {"phone": "13800138000", "sender": "106", "text": t, "received_at": at}
            for t, at in (("a", NOW), ("b", ROUND), ("c", EAST))])
        got = driver.run(conn, None, "SELECT text, received_at FROM handset_messages "
                         "WHERE id " + driver.in_ids + " ORDER BY id", (driver.ids([1, 3]),))
        return [(t, driver.read_time(at)) for t, at in got]

    assert pigeon.db.write_sync(run) == [("a", NOW), ("c", EAST)]


def test_a_driver_write_moves_only_its_table_in_the_write_log(pigeon):
    before = pigeon.db.writes.version(("handset_messages", "accounts"))
    pigeon.db.write_sync(lambda conn: Driver.of(conn).run(
        conn, "handset_messages", "DELETE FROM handset_messages WHERE id = ?", (1,)))
    after = pigeon.db.writes.version(("handset_messages", "accounts"))
    assert after[1] == before[1] + 1
    assert (after[0], after[2]) == (before[0], before[2])


def test_a_driver_statement_belongs_to_the_unit_s_transaction(pigeon):
    def fails(conn):
        BulkInsert(handset_messages, ("phone", "sender", "text", "received_at")).run(
            conn, [{"phone": "13800138000", "sender": "106", "text": "x", "received_at": NOW}])
        raise RuntimeError("undo")

    with pytest.raises(RuntimeError):
        pigeon.db.write_sync(fails)
    assert pigeon.db.read_sync(lambda conn: conn.scalar(
        text("SELECT count(*) FROM handset_messages"))) == 0


def test_driver_errors_are_sqlalchemy_errors(pigeon):
    with pytest.raises(exc.IntegrityError):
        pigeon.db.write_sync(lambda conn: BulkInsert(
            report_events, ("account_id", "type", "payload", "created_at")).run(
            conn, [{"account_id": 404, "type": "SmsReport", "payload": {}, "created_at": NOW}]))


def test_statements_run_together_run_in_order_and_answer_each_its_rows(pigeon):
    """Driver.run_all: on PostgreSQL one round trip (pipeline mode), on SQLite one after the
    other — the same answers either way."""
    pigeon.db.write_sync(new_account)
    before = pigeon.db.writes.version(("handset_messages", "accounts"))
    add = BulkInsert(handset_messages, ("phone", "sender", "text", "received_at"))

    def run(conn):
        driver = Driver.of(conn)
        answers = driver.run_all(conn, [
            add.statement(driver, [{"phone": "13800138000", "sender": "106", "text": "a",
                                    "received_at": NOW},
                                   {"phone": "13900139000", "sender": "106", "text": "b",
                                    "received_at": EAST}]),
            (None, "SELECT phone, received_at FROM handset_messages ORDER BY id", ()),
            ("handset_messages", "DELETE FROM handset_messages WHERE text = ?", ("a",)),
            (None, "SELECT count(*) FROM handset_messages", ()),
            (None, "SELECT name FROM accounts WHERE id = ?", (404,))])
        answers[1] = [(phone, driver.read_time(at)) for phone, at in answers[1]]
        return answers

    inserted, listed, deleted, counted, nothing = pigeon.db.write_sync(run)
    assert inserted == [] and deleted == [] and nothing == []
    assert listed == [("13800138000", NOW), ("13900139000", EAST)]
    assert counted == [(1,)]
    after = pigeon.db.writes.version(("handset_messages", "accounts"))
    assert after == (before[0], before[1] + 2, before[2])  # ("*", handset_messages, accounts)


def test_an_error_among_statements_run_together_undoes_the_unit(pigeon):
    def run(conn):
        driver = Driver.of(conn)
        driver.run_all(conn, [
            ("handset_messages", "INSERT INTO handset_messages (phone, sender, text, "
             "received_at) VALUES (?, ?, ?, ?)", ("13800138000", "106", "kept?",
                                                   driver.time(NOW))),
            ("report_events", "INSERT INTO report_events (account_id, type, payload, "
             "created_at, state, attempts) VALUES (?, ?, ?, ?, ?, ?)",
             (404, "SmsReport", "{}", driver.time(NOW), "pending", 0)),
            ("handset_messages", "DELETE FROM handset_messages", ())])

    with pytest.raises(exc.IntegrityError):
        pigeon.db.write_sync(run)
    assert pigeon.db.read_sync(lambda conn: conn.scalar(
        text("SELECT count(*) FROM handset_messages"))) == 0


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_last_time_converted_is_kept_for_that_very_object(dialect):
    driver = Driver(dialect)
    first, second = driver.time(NOW), driver.time(EAST)
    assert driver.time(NOW) == first != second  # NOW again, after another
    assert driver.time(EAST) == second
    assert driver.read_time(first) == NOW and driver.read_time(second) == EAST
    with pytest.raises(ValueError, match="naive"):
        driver.time(NOW.replace(tzinfo=None))


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_rows_values_changed_are_the_values_of_the_changed_row(dialect):
    driver = Driver(dialect)
    bulk = BulkInsert(report_events, ("account_id", "type", "payload", "created_at"))
    row = {"account_id": 1, "type": "SmsReport", "payload": {"n": 1}, "created_at": NOW}
    changes = {"payload": {"n": 2, "err_msg": "用户接收成功"}, "created_at": EAST, "type": "x"}
    [values] = bulk.tuples(driver, [row])
    assert bulk.changed(driver, values, changes) == bulk.tuples(driver, [row | changes])[0]
    assert bulk.changed(driver, values, {}) == values


@pytest.mark.parametrize("more_data", [["k1", "k2"], "a JSON string", {"n": 1}, None],
                         ids=["list", "string", "object", "JSON null"])
def test_rows_read_on_the_driver_are_what_sqlalchemy_reads(pigeon, more_data):
    from pigeon.store.database import Rows
    from pigeon.store.tables import signatures

    pigeon.db.write_sync(new_account)
    values = {"account_id": 1, "name": "云雀", "name_key": "云雀", "source": 0, "sign_type": 1,
              "legacy": True, "third_party": False, "more_data": more_data, "status": 1,
              "audit_date": EAST, "extension_code": "01", "created_at": NOW}
    pigeon.db.write_sync(lambda conn: conn.execute(insert(signatures), [
        values, values | {"name": "二", "name_key": "二", "audit_date": None, "remark": "r",
                  "extension_code": "02"}]))
    reader = Rows(signatures)

    def both(conn):
        by_sqlalchemy = [dict(row) for row in conn.execute(
            select(signatures).order_by(signatures.c.id)).mappings()]
        return by_sqlalchemy, reader.read(conn, f"{reader.select} ORDER BY id")

    by_sqlalchemy, by_driver = pigeon.db.read_sync(both)
    assert by_driver == by_sqlalchemy
    assert [type(v) for v in by_driver[0].values()] == [
        type(v) for v in by_sqlalchemy[0].values()]
    assert by_driver[0]["audit_date"] == EAST and by_driver[0]["legacy"] is True
    assert by_driver[0]["more_data"] == more_data
    some = Rows(signatures, ("id", "legacy"))
    assert pigeon.db.read_sync(lambda conn: some.read(
        conn, f"{some.select} WHERE name_key = ?", ("二",))) == [{"id": 2, "legacy": True}]
