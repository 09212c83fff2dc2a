"""Dispatch as a protocol on the message row: conditional claims, recording, retries, crash
recovery, and the simulator's exactly-once delivery."""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select, update

from pigeon.carriers.base import Submitted
from pigeon.carriers.simulator import network
from pigeon.services import accounts, dispatch, handsets, reports, simulator
from pigeon.store.database import Database
from pigeon.store.tables import balances, handset_messages, ledger, messages, simulator_deliveries

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
ACCESS = "1069"
PRICE = 45


@pytest.fixture
def account_id(pigeon) -> int:
    account = pigeon.db.write_sync(accounts.create_account, "Lark Technology", NOW)
    account_id = int(account["AccountId"])
    pigeon.db.write_sync(lambda conn: conn.execute(
        insert(balances).values(account_id=account_id, amount=10_000)))
    return account_id


def _queue(conn, account_id: int, count: int, phone: str = "13700137000", **values) -> list[int]:
    """Messages as the send path leaves them: queued, charged one segment from the balance."""
    rows = [dict(biz_id=f"{index:018d}^0", account_id=account_id, phone=phone, country_code=86,
                 carrier="mobile", signature_id=1, sign_name="云雀科技", template_id=1,
                 template_code="SMS_1", template_type=0, content=f"【云雀科技】验证码{index}",
                 segments=1, encoding="mainland", extend_code="1234", status="queued",
                 attempts=0, price=PRICE, charged=True, created_at=NOW) | values
            for index in range(count)]
    ids = conn.execute(insert(messages).returning(messages.c.id, sort_by_parameter_order=True),
                       rows).scalars().all()
    conn.execute(insert(ledger), [dict(account_id=account_id, message_id=i, kind="charge",
                                       units=0, amount=-PRICE, created_at=NOW) for i in ids])
    conn.execute(update(balances).where(balances.c.account_id == account_id)
                 .values(amount=balances.c.amount - PRICE * len(ids)))
    return list(ids)


def queue(pigeon, account_id, count=1, **values) -> list[int]:
    return pigeon.db.write_sync(_queue, account_id, count, **values)


def row(pigeon, message_id: int) -> dict:
    return pigeon.db.read_sync(lambda conn: dict(conn.execute(
        select(messages).where(messages.c.id == message_id)).mappings().one()))


def claim(pigeon, limit=dispatch.BATCH, now=NOW):
    return pigeon.db.write_sync(dispatch.claim, limit, now, ACCESS)


def record(pigeon, results, now=NOW):
    return pigeon.db.write_sync(dispatch.record, "simulator", results,
                                pigeon.settings.timezone, now)


def balance(pigeon, account_id) -> int:
    return pigeon.db.read_sync(lambda conn: conn.scalar(
        select(balances.c.amount).where(balances.c.account_id == account_id)))


# -- claiming ------------------------------------------------------------------------------

def test_a_claim_takes_due_queued_messages_oldest_first(pigeon, account_id):
    ids = queue(pigeon, account_id, 4)
    later = queue(pigeon, account_id, 1, next_attempt_at=NOW + timedelta(seconds=5))
    queue(pigeon, account_id, 1, status="sent")

    claimed = claim(pigeon, limit=3)

    assert [m.message_id for _, m in claimed] == ids[:3]
    assert {name for name, _ in claimed} == {"simulator"}
    first = claimed[0][1]
    assert first.sender == "10691234" and first.phone == "13700137000"
    assert first.content == "【云雀科技】验证码0" and first.carrier == "mobile"
    assert row(pigeon, ids[0])["status"] == "sending"
    assert row(pigeon, ids[0])["claimed_at"] == NOW
    # The rest: one more due message; the retry becomes due in five seconds.
    assert [m.message_id for _, m in claim(pigeon)] == [ids[3]]
    assert claim(pigeon) == []
    assert [m.message_id for _, m in claim(pigeon, now=NOW + timedelta(seconds=5))] == later


def test_two_dispatchers_on_two_connections_never_claim_the_same_message(pigeon, account_id):
    ids = queue(pigeon, account_id, 600)
    # A second Database is a second dispatcher process: its own writer and connection.
    other = Database(pigeon.database_url).start()
    got: dict[str, list[int]] = {"one": [], "two": []}

    def drain(name: str, db: Database) -> None:
        while batch := db.write_sync(dispatch.claim, 7, NOW, ACCESS):
            got[name].extend(m.message_id for _, m in batch)

    try:
        with ThreadPoolExecutor(2) as pool:
            drains = [pool.submit(drain, "one", pigeon.db), pool.submit(drain, "two", other)]
            for one_drain in drains:
                one_drain.result(timeout=60)  # a drain's exception fails the test here
    finally:
        other.close()
    assert not set(got["one"]) & set(got["two"])
    assert sorted(got["one"] + got["two"]) == ids


def test_on_postgresql_a_claim_skips_rows_another_open_claim_holds(pigeon, account_id):
    if pigeon.db.is_sqlite:
        pytest.skip("SQLite has one writer: a second claim waits for the first to commit")
    ids = queue(pigeon, account_id, 10)
    engine = pigeon.db.write_engine
    with engine.connect() as first, engine.connect() as second:
        with first.begin():
            mine = dispatch.claim(first, 4, NOW, ACCESS)
            # The first transaction is still open: its rows are locked, not yet committed.
            with second.begin():
                theirs = dispatch.claim(second, 4, NOW, ACCESS)
    assert [m.message_id for _, m in mine] == ids[:4]
    assert [m.message_id for _, m in theirs] == ids[4:8]


# -- recording -----------------------------------------------------------------------------

def test_an_accepted_submission_is_sent_and_its_effect_runs_in_the_same_transaction(
        pigeon, account_id):
    [message_id] = queue(pigeon, account_id)
    claim(pigeon)
    effects = []
    counts = record(pigeon, [Submitted(message_id, carrier_message_id="abc",
                                       effect=lambda conn: effects.append(conn))])
    assert counts["sent"] == 1 and len(effects) == 1
    sent = row(pigeon, message_id)
    assert (sent["status"], sent["carrier_message_id"], sent["connector"], sent["sent_at"],
            sent["attempts"]) == ("sent", "abc", "simulator", NOW, 1)


def test_a_refused_submission_fails_is_refunded_and_reported(pigeon, account_id):
    [message_id] = queue(pigeon, account_id)
    assert balance(pigeon, account_id) == 10_000 - PRICE
    claim(pigeon)
    record(pigeon, [Submitted(message_id, error="INVALID_NUMBER", error_message="号码无效")])

    failed = row(pigeon, message_id)
    assert (failed["status"], failed["err_code"], failed["charged"]) == \
        ("failed", "INVALID_NUMBER", False)
    assert balance(pigeon, account_id) == 10_000
    kinds = pigeon.db.read_sync(lambda conn: [r.kind for r in conn.execute(
        select(ledger.c.kind).where(ledger.c.message_id == message_id))])
    assert sorted(kinds) == ["charge", "refund"]
    [report] = pigeon.db.read_sync(reports.queued, account_id, "SmsReport")
    assert report["payload"]["err_code"] == "INVALID_NUMBER"
    assert report["payload"]["success"] is False


def test_a_retry_waits_with_exponential_backoff_then_fails_for_good(pigeon, account_id):
    [message_id] = queue(pigeon, account_id)
    now = NOW
    waits = []
    for attempt in range(1, dispatch.MAX_ATTEMPTS):
        [(_, message)] = claim(pigeon, now=now)
        assert message.message_id == message_id
        record(pigeon, [Submitted(message_id, retry=True)], now=now)
        again = row(pigeon, message_id)
        assert (again["status"], again["attempts"]) == ("queued", attempt)
        waits.append(again["next_attempt_at"] - now)
        assert claim(pigeon, now=again["next_attempt_at"] - timedelta(microseconds=1)) == []
        now = again["next_attempt_at"]
    assert waits[:4] == [timedelta(seconds=s) for s in (5, 10, 20, 40)]
    assert waits[-1] == dispatch.BACKOFF_MAX
    # The last attempt is refused too: the message fails, refunded.
    claim(pigeon, now=now)
    record(pigeon, [Submitted(message_id, retry=True)], now=now)
    failed = row(pigeon, message_id)
    assert (failed["status"], failed["err_code"], failed["charged"]) == \
        ("failed", dispatch.GAVE_UP, False)


def test_answers_for_messages_no_longer_claimed_change_nothing(pigeon, account_id):
    [message_id] = queue(pigeon, account_id)
    claim(pigeon)
    record(pigeon, [Submitted(message_id, carrier_message_id="first")])
    effects = []
    counts = record(pigeon, [Submitted(message_id, carrier_message_id="second",
                                       effect=effects.append)])
    assert counts["skipped"] == 1 and effects == []
    assert row(pigeon, message_id)["carrier_message_id"] == "first"


def test_a_batch_effect_runs_once_and_enters_only_the_messages_it_recorded(pigeon, account_id):
    mine, taken_over = queue(pigeon, account_id, 2)
    claim(pigeon)
    # Another dispatcher took the second message over and recorded it first.
    record(pigeon, [Submitted(taken_over, carrier_message_id="theirs")])
    entries = [simulator.Entry(mine, "a", network.DELIVERED, NOW),
               simulator.Entry(taken_over, "b", network.DELIVERED, NOW)]
    calls = []

    def effect(conn):
        calls.append(simulator.schedule(conn, entries))

    counts = record(pigeon, [Submitted(mine, carrier_message_id="a", effect=effect),
                             Submitted(taken_over, carrier_message_id="b", effect=effect)])
    assert counts["sent"] == 1 and counts["skipped"] == 1
    assert calls == [1]
    in_network = pigeon.db.read_sync(lambda conn: conn.execute(
        select(simulator_deliveries.c.message_id, simulator_deliveries.c.carrier_message_id))
        .all())
    assert in_network == [(mine, "a")]


# -- crash recovery ------------------------------------------------------------------------

def test_stale_claims_go_back_to_the_queue(pigeon, account_id):
    old, recent = queue(pigeon, account_id, 2)
    claim(pigeon, limit=1, now=NOW)
    claim(pigeon, limit=1, now=NOW + timedelta(seconds=50))
    later = NOW + timedelta(seconds=61)

    assert pigeon.db.write_sync(dispatch.requeue_stale, later, dispatch.STALE_AFTER) == 1
    assert row(pigeon, old)["status"] == "queued"
    assert row(pigeon, recent)["status"] == "sending"
    assert pigeon.db.write_sync(dispatch.requeue_stale, later, timedelta(0)) == 1
    assert [m.message_id for _, m in claim(pigeon, now=later)] == [old, recent]


# -- the simulator's exactly-once delivery ------------------------------------------------

def _in_network(pigeon, account_id, count=1, err_code="DELIVERED", **values) -> list[int]:
    """Messages submitted to the simulator and recorded sent, receipts due at NOW."""
    ids = queue(pigeon, account_id, count, **values)
    claim(pigeon)
    fate = network.DELIVERED if err_code == "DELIVERED" else network.MAGIC["1"]
    entries = [simulator.Entry(i, f"c{i}", fate, NOW) for i in ids]
    effect = functools.partial(simulator.schedule, entries=entries)
    record(pigeon, [Submitted(i, carrier_message_id=f"c{i}", effect=effect) for i in ids])
    return ids


def deliver(pigeon, now=NOW) -> int:
    return pigeon.db.write_sync(simulator.deliver_due, pigeon.settings.timezone, now, ACCESS)


def inbox_count(pigeon) -> int:
    return pigeon.db.read_sync(lambda conn: conn.scalar(
        select(func.count()).select_from(handset_messages)))


def test_a_due_receipt_delivers_to_the_handset_and_finishes_the_message(pigeon, account_id):
    [message_id] = _in_network(pigeon, account_id)
    assert deliver(pigeon, NOW - timedelta(seconds=1)) == 0  # not due yet
    assert deliver(pigeon) == 1

    delivered = row(pigeon, message_id)
    assert (delivered["status"], delivered["err_code"], delivered["done_at"]) == \
        ("delivered", "DELIVERED", NOW)
    [received] = pigeon.db.read_sync(handsets.inbox, "13700137000")
    assert received["sender"] == "10691234" and received["text"] == "【云雀科技】验证码0"
    [report] = pigeon.db.read_sync(reports.queued, account_id, "SmsReport")
    assert report["payload"]["success"] is True


def test_a_failure_receipt_refunds_and_leaves_the_inbox_empty(pigeon, account_id):
    [message_id] = _in_network(pigeon, account_id, err_code="MK:0001")
    deliver(pigeon)
    failed = row(pigeon, message_id)
    assert (failed["status"], failed["err_code"], failed["err_msg"]) == \
        ("failed", "MK:0001", network.MAGIC["1"].text)
    assert balance(pigeon, account_id) == 10_000
    assert inbox_count(pigeon) == 0


def test_a_receipt_processed_twice_is_delivered_once(pigeon, account_id):
    ids = _in_network(pigeon, account_id, 3)
    assert deliver(pigeon) == 3
    assert deliver(pigeon) == 0
    # Even were the receipt still in the network (a pass repeated after a crash), a message
    # already final is neither delivered nor reported again.
    pigeon.db.write_sync(lambda conn: conn.execute(insert(simulator_deliveries), [
        dict(message_id=i, carrier_message_id=f"c{i}", stat="DELIVRD", err_code="DELIVERED",
             due_at=NOW) for i in ids]))
    assert deliver(pigeon) == 0
    assert inbox_count(pigeon) == 3
    assert len(pigeon.db.read_sync(reports.queued, account_id, "SmsReport")) == 3


def test_two_delivery_passes_at_once_deliver_each_message_once(pigeon, account_id):
    _in_network(pigeon, account_id, 50)
    other = Database(pigeon.database_url).start()
    done = []

    def run(db):
        done.append(db.write_sync(simulator.deliver_due, pigeon.settings.timezone, NOW, ACCESS,
                                  limit=5))

    try:
        with ThreadPoolExecutor(2) as pool:
            for _ in range(10):
                passes = [pool.submit(run, db) for db in (pigeon.db, other)]
                for one_pass in passes:
                    one_pass.result(timeout=60)  # a pass's exception fails the test here
    finally:
        other.close()
    assert sum(done) == 50
    assert inbox_count(pigeon) == 50


def test_on_postgresql_a_delivery_pass_skips_receipts_another_pass_holds(pigeon, account_id):
    if pigeon.db.is_sqlite:
        pytest.skip("SQLite has one writer: a second pass waits for the first to commit")
    _in_network(pigeon, account_id, 4)
    zone = pigeon.settings.timezone
    engine = pigeon.db.write_engine
    with engine.connect() as first, engine.connect() as second:
        with first.begin():
            assert simulator.deliver_due(first, zone, NOW, ACCESS, limit=2) == 2
            with second.begin():
                assert simulator.deliver_due(second, zone, NOW, ACCESS) == 2
    assert inbox_count(pigeon) == 4
