"""The writer's WriteLog: which tables this process wrote, so caches know when to drop copies;
and the group commit's savepoints, which isolate one unit's failure from the others."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, event, insert, select, update

from pigeon.store.database import WriteLog
from pigeon.store.tables import accounts, prices

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
TABLES = ("accounts", "prices")


def version(pigeon) -> tuple[int, ...]:
    return pigeon.db.writes.version(TABLES)


def new_account(conn, account_id: int = 1) -> None:
    conn.execute(insert(accounts).values(id=account_id, name="Lark", status="active",
                                         created_at=NOW))


def test_the_writer_connection_finds_its_log(pigeon):
    assert pigeon.db.write_sync(WriteLog.of) is pigeon.db.writes


def test_a_read_connection_finds_the_writers_log(pigeon):
    # The send path's cache is filled on a read connection too (sending.prepare, on SQLite):
    # it must be dropped by this process's writes like a copy the writer made.
    assert pigeon.db.read_sync(WriteLog.of) is pigeon.db.writes


def test_a_write_is_pending_until_its_transaction_has_committed(pigeon):
    seen = {}

    def write_then_look(conn):
        seen["before"] = pigeon.db.writes.pending(TABLES)
        new_account(conn)
        seen["accounts"] = pigeon.db.writes.pending(("accounts",))
        seen["prices"] = pigeon.db.writes.pending(("prices",))

    pigeon.db.write_sync(write_then_look)
    assert seen == {"before": False, "accounts": True, "prices": False}
    assert pigeon.db.writes.pending(TABLES) is False


def test_a_raw_sql_write_is_pending_for_every_table(pigeon):
    seen = []

    def write_raw(conn):
        conn.exec_driver_sql("UPDATE accounts SET name = name")
        seen.append(pigeon.db.writes.pending(("prices",)))

    pigeon.db.write_sync(write_raw)
    assert seen == [True]


def test_a_write_is_pending_while_its_commit_is_under_way(pigeon):
    # SQLAlchemy's commit event comes before the commit happens; the log's own listener runs
    # first (registered first), so this one sees the commit under way.
    during: list[bool] = []

    def at_commit(_conn):
        during.append(pigeon.db.writes.pending(("accounts",)))

    event.listen(pigeon.db.write_engine, "commit", at_commit)
    try:
        pigeon.db.write_sync(new_account)
    finally:
        event.remove(pigeon.db.write_engine, "commit", at_commit)
    assert during == [True]
    assert pigeon.db.writes.pending(("accounts",)) is False


def test_an_insert_update_or_delete_moves_the_version_of_its_table(pigeon):
    before = version(pigeon)
    pigeon.db.write_sync(new_account)
    after_insert = version(pigeon)
    assert after_insert != before
    assert after_insert[2] == before[2]  # prices: untouched

    pigeon.db.write_sync(lambda conn: conn.execute(
        update(accounts).where(accounts.c.id == 1).values(status="suspended")))
    after_update = version(pigeon)
    assert after_update[1] > after_insert[1]

    pigeon.db.write_sync(lambda conn: conn.execute(delete(accounts).where(accounts.c.id == 1)))
    assert version(pigeon)[1] > after_update[1]


def test_reads_do_not_move_the_version(pigeon):
    pigeon.db.write_sync(new_account)
    before = version(pigeon)
    pigeon.db.write_sync(lambda conn: conn.execute(select(accounts)).all())
    pigeon.db.read_sync(lambda conn: conn.execute(select(accounts)).all())
    assert version(pigeon) == before


def test_a_raw_sql_write_moves_every_version(pigeon):
    pigeon.db.write_sync(new_account)
    before = version(pigeon)
    pigeon.db.write_sync(lambda conn: conn.exec_driver_sql(
        "UPDATE accounts SET name = 'Lark Technology'"))
    assert version(pigeon)[0] > before[0]  # the count of raw writes, part of every version


def test_a_rolled_back_unit_moves_the_version_of_what_it_wrote(pigeon):
    pigeon.db.write_sync(new_account)
    before = version(pigeon)

    def fails(conn):
        conn.execute(update(accounts).where(accounts.c.id == 1).values(status="suspended"))
        raise RuntimeError("undone")

    with pytest.raises(RuntimeError):
        pigeon.db.write_sync(fails)
    # Moved twice: by the update, and again by the rollback that undid it — a cache that read
    # the suspended status in between must not keep it.
    assert version(pigeon)[1] >= before[1] + 2
    assert pigeon.db.read_sync(lambda conn: conn.scalar(select(accounts.c.status))) == "active"


def test_a_committed_write_is_not_moved_again_by_a_later_rollback(pigeon):
    pigeon.db.write_sync(new_account)
    before = version(pigeon)

    def fails(conn):
        raise RuntimeError("nothing written")

    with pytest.raises(RuntimeError):
        pigeon.db.write_sync(fails)
    assert version(pigeon) == before


def test_one_failing_unit_of_a_group_rolls_back_alone(pigeon):
    """Units queued together share a transaction, each in its own savepoint."""
    pigeon.db.write_sync(new_account)
    gate = threading.Event()

    def hold(conn):  # keeps the writer busy until the three units below are queued
        gate.wait(10)

    def add_price(template_type: int):
        def work(conn):
            conn.execute(insert(prices).values(account_id=1, template_type=template_type,
                                               price=40 + template_type))
            return template_type
        return work

    def fails(conn):
        conn.execute(insert(prices).values(account_id=1, template_type=3, price=99))
        raise RuntimeError("this unit only")

    held = pigeon.db.submit_write(hold)
    futures = [pigeon.db.submit_write(add_price(0)), pigeon.db.submit_write(fails),
               pigeon.db.submit_write(add_price(1))]
    gate.set()
    held.result(10)
    assert futures[0].result(10) == 0
    with pytest.raises(RuntimeError, match="this unit only"):
        futures[1].result(10)
    assert futures[2].result(10) == 1
    stored = pigeon.db.read_sync(lambda conn: sorted(conn.execute(
        select(prices.c.template_type, prices.c.price)).all()))
    assert stored == [(0, 40), (1, 41)]


def test_commit_listeners_hear_of_a_transaction_once_its_rows_are_visible(pigeon):
    seen = []

    def listener(tables):
        # In the writer's thread, right after the commit: another connection sees the row.
        found = pigeon.db.read_sync(lambda conn: conn.scalar(
            select(accounts.c.name).where(accounts.c.id == 1)))
        seen.append((tables, found))

    stop = pigeon.db.writes.on_commit(listener)
    pigeon.db.write_sync(new_account)
    pigeon.db.write_sync(lambda conn: conn.execute(select(accounts)).all())  # writes nothing
    stop()
    pigeon.db.write_sync(lambda conn: conn.execute(
        update(accounts).where(accounts.c.id == 1).values(status="suspended")))
    assert seen == [(frozenset({"accounts"}), "Lark")]


def test_a_transaction_that_fails_is_not_announced(pigeon):
    seen = []
    pigeon.db.writes.on_commit(seen.append)

    def fails(conn):
        new_account(conn)
        raise RuntimeError("undone")

    with pytest.raises(RuntimeError):
        pigeon.db.write_sync(fails)
    assert seen == []
