"""The records queries on both databases: local days in any zone, and the indexes they use."""

from __future__ import annotations

import re
import sqlite3
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, insert

from pigeon.services import accounts, records
from pigeon.store.tables import messages

NOW = datetime(2024, 4, 1, 2, 0, tzinfo=UTC)
PHONE = "13700137000"


@pytest.fixture
def account_id(pigeon) -> int:
    return int(pigeon.db.write_sync(accounts.create_account, "Lark Technology", NOW)["AccountId"])


def add(pigeon, account_id: int, *moments: datetime, **values) -> None:
    rows = [dict(biz_id=f"{index:018d}^0", account_id=account_id, phone=PHONE, country_code=86,
                 carrier="mobile", signature_id=1, sign_name="云雀科技", template_id=1,
                 template_code="SMS_1", template_type=1, content="【云雀科技】通知",
                 segments=1, encoding="mainland", status="queued", attempts=0, price=45,
                 charged=True, created_at=moment) | values
            for index, moment in enumerate(moments)]
    pigeon.db.write_sync(lambda conn: conn.execute(insert(messages), rows))


def local(zone: str, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=ZoneInfo(zone))


def days(pigeon, account_id: int, zone: str, first: date, last: date, **filters):
    found = pigeon.db.read_sync(records.send_statistics, account_id, ZoneInfo(zone),
                                first=first, last=last, international=False, **filters)
    return {row["day"]: row["total"] for row in found}


def test_days_follow_a_zone_through_its_clock_changes(pigeon, account_id):
    berlin = "Europe/Berlin"  # summer time began 2024-03-31 at 02:00 (a 23-hour day)
    add(pigeon, account_id,
        local(berlin, 2024, 3, 29, 0, 0, 0), local(berlin, 2024, 3, 30, 23, 59, 59),
        local(berlin, 2024, 3, 31, 0, 30), local(berlin, 2024, 3, 31, 23, 30),
        local(berlin, 2024, 4, 1, 0, 10), local(berlin, 2024, 4, 2, 23, 0))

    assert days(pigeon, account_id, berlin, date(2024, 3, 1), date(2024, 4, 30)) == {
        date(2024, 3, 29): 1, date(2024, 3, 30): 1, date(2024, 3, 31): 2,
        date(2024, 4, 1): 1, date(2024, 4, 2): 1}


def test_days_follow_a_half_hour_offset(pigeon, account_id):
    kolkata = "Asia/Kolkata"  # UTC+05:30
    add(pigeon, account_id, local(kolkata, 2024, 1, 1, 23, 59, 59),
        local(kolkata, 2024, 1, 2, 0, 0, 0), local(kolkata, 2024, 1, 3, 12, 0))

    assert days(pigeon, account_id, kolkata, date(2024, 1, 1), date(2024, 1, 3)) == {
        date(2024, 1, 1): 1, date(2024, 1, 2): 1, date(2024, 1, 3): 1}


def test_the_range_ends_are_local_midnights(pigeon, account_id):
    shanghai = "Asia/Shanghai"
    add(pigeon, account_id, local(shanghai, 2024, 5, 1, 0, 0, 0),
        local(shanghai, 2024, 5, 2, 23, 59, 59), local(shanghai, 2024, 5, 3, 0, 0, 0),
        local(shanghai, 2024, 4, 30, 23, 59, 59))

    assert days(pigeon, account_id, shanghai, date(2024, 5, 1), date(2024, 5, 2)) == {
        date(2024, 5, 1): 1, date(2024, 5, 2): 1}


def test_details_are_the_local_day_of_one_number(pigeon, account_id):
    shanghai = ZoneInfo("Asia/Shanghai")
    add(pigeon, account_id, datetime(2024, 5, 1, 0, 0, tzinfo=shanghai),
        datetime(2024, 5, 1, 23, 59, 59, tzinfo=shanghai),
        datetime(2024, 5, 2, 0, 0, tzinfo=shanghai))
    add(pigeon, account_id, datetime(2024, 5, 1, 12, 0, tzinfo=shanghai), phone="13700137001")

    page = pigeon.db.read_sync(records.send_details, account_id, shanghai, phone=PHONE,
                               day=date(2024, 5, 1), page=1, page_size=50)
    assert page.total == 2
    assert [item["created_at"] for item in page.items] == [
        datetime(2024, 5, 1, 15, 59, 59, tzinfo=UTC), datetime(2024, 4, 30, 16, 0, tzinfo=UTC)]


def _plans(pigeon, run) -> list[str]:
    """SQLite's query plan of every SELECT on messages that ``run`` issues."""
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM messages" in statement:
            statements.append((statement, parameters))

    engine = pigeon.db.read_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        run()
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    database = pigeon.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as raw:
        return [" ".join(row[-1] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params))
                for sql, params in statements]


def test_the_queries_search_an_index_however_large_the_table(pigeon, account_id):
    if not pigeon.db.is_sqlite:
        pytest.skip("reads SQLite's query plans")
    shanghai = ZoneInfo("Asia/Shanghai")
    add(pigeon, account_id, NOW)

    # QuerySendDetails' statements run on the driver, past SQLAlchemy's events: planned here
    # from their text, with and without a BizId.
    database = pigeon.database_url.removeprefix("sqlite:///")
    start, end = "2024-03-31 16:00:00.000000", "2024-04-01 16:00:00.000000"
    with sqlite3.connect(database) as raw:
        details = [" ".join(row[-1] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params))
                   for with_biz_id in (False, True)
                   for sql, params in zip(records.details_sql(with_biz_id), (
                       (account_id, PHONE, start, end, *(["1^0"] if with_biz_id else [])),
                       (account_id, PHONE, start, end, *(["1^0"] if with_biz_id else []),
                        10, 0)), strict=True)]
    assert len(details) == 4 and all(
        re.match(r"SEARCH messages USING (COVERING )?INDEX ix_messages_lookup \(account_id=\? "
                 r"AND phone=\? AND created_at>\? AND created_at<\?\)", plan)
        and "TEMP B-TREE" not in plan for plan in details), details

    statistics = _plans(pigeon, lambda: pigeon.db.read_sync(
        records.send_statistics, account_id, shanghai, first=date(2024, 1, 1),
        last=date(2024, 12, 31), international=False))
    assert statistics and all("SEARCH messages USING" in plan and "SCAN messages" not in plan
                              for plan in statistics), statistics


def test_an_account_without_messages_in_the_range_costs_one_look_up(pigeon, account_id):
    add(pigeon, account_id, NOW - timedelta(days=400))
    assert days(pigeon, account_id, "Asia/Shanghai", date(1900, 1, 1), date(2023, 1, 1)) == {}
    sent_on = (NOW - timedelta(days=400)).astimezone(ZoneInfo("Asia/Shanghai")).date()
    assert days(pigeon, account_id, "Asia/Shanghai", date(1900, 1, 1),
                date(9999, 12, 30)) == {sent_on: 1}
