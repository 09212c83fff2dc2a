"""Retention: finished report events, push attempts and handset inboxes past
``PIGEON_RETENTION`` are dropped; pending reports and younger rows stay."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, insert, select

from pigeon.services import accounts, retention
from pigeon.store.tables import handset_messages, report_attempts, report_events
from pigeon.workers.reporter import PURGE_INTERVAL, Reporter

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
KEEP = timedelta(days=30)


def _seed(pigeon, ages_and_states: list[tuple[timedelta, str]]) -> int:
    def write(conn):
        account_id = int(accounts.create_account(conn, "Lark", NOW - 2 * KEEP)["AccountId"])
        for age, state in ages_and_states:
            at = NOW - age
            conn.execute(insert(report_events).values(
                account_id=account_id, type="SmsReport", payload={"biz_id": "1"}, state=state,
                attempts=1, created_at=at))
            conn.execute(insert(report_attempts).values(
                account_id=account_id, type="SmsReport", url="http://127.0.0.1:9/r",
                reports=1, status_code=200, ok=True, duration_ms=3, created_at=at))
            conn.execute(insert(handset_messages).values(
                phone="13800138000", sender="1069000", text="hello", received_at=at))
        return account_id

    return pigeon.db.write_sync(write)


def _states(pigeon) -> list[str]:
    def read(conn):
        return conn.execute(select(report_events.c.state).order_by(report_events.c.id)) \
            .scalars().all()

    return pigeon.db.read_sync(read)


def _count(pigeon, table) -> int:
    return pigeon.db.read_sync(lambda conn: conn.execute(
        select(func.count()).select_from(table)).scalar_one())


def test_old_finished_rows_go_and_pending_or_young_rows_stay(pigeon):
    day = timedelta(days=1)
    _seed(pigeon, [(40 * day, "delivered"), (39 * day, "pending"), (35 * day, "failed"),
                   (31 * day, "skipped"), (29 * day, "delivered"), (1 * day, "pending")])

    dropped = asyncio.run(retention.purge(pigeon.db, NOW, KEEP, chunk=2))

    assert dropped == {"report_events": 3, "report_attempts": 4, "handset_messages": 4}
    assert _states(pigeon) == ["pending", "delivered", "pending"]
    assert _count(pigeon, report_attempts) == 2
    assert _count(pigeon, handset_messages) == 2
    # Nothing more is past retention: a second purge drops nothing.
    assert asyncio.run(retention.purge(pigeon.db, NOW, KEEP)) == {
        "report_events": 0, "report_attempts": 0, "handset_messages": 0}


def test_the_cutoff_search_finds_the_last_old_row_among_many(pigeon):
    ages = [(timedelta(minutes=1000 - i), "delivered") for i in range(1000)]
    _seed(pigeon, ages)
    cutoff = NOW - timedelta(minutes=400)  # rows 0..599 are older

    def read(conn):
        first = conn.execute(select(func.min(report_events.c.id))).scalar_one()
        return first, retention.cutoff_id(conn, report_events, "created_at", cutoff)

    first, last = pigeon.db.read_sync(read)
    assert last == first + 599
    assert pigeon.db.read_sync(lambda conn: retention.cutoff_id(
        conn, report_events, "created_at", NOW - timedelta(days=365))) is None


def test_an_empty_table_has_no_cutoff(pigeon):
    assert pigeon.db.read_sync(lambda conn: retention.cutoff_id(
        conn, report_events, "created_at", NOW)) is None


def test_the_report_worker_purges_at_start_then_every_interval(pigeon):
    _seed(pigeon, [(timedelta(days=40), "delivered")])
    loop = asyncio.new_event_loop()
    worker = Reporter(pigeon.db, schedule=(), retention=KEEP)
    try:
        first = loop.run_until_complete(worker.purge_if_due(NOW))
        assert first["report_events"] == 1
        _seed(pigeon, [(timedelta(days=40), "delivered")])
        assert loop.run_until_complete(worker.purge_if_due(NOW + timedelta(minutes=1))) is None
        assert _count(pigeon, report_events) == 1
        again = loop.run_until_complete(worker.purge_if_due(NOW + PURGE_INTERVAL))
        assert again["report_events"] == 1
    finally:
        loop.run_until_complete(worker.aclose())
        loop.close()
