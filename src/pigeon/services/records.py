"""Delivery records: QuerySendDetails (one number's messages on one day) and
QuerySendStatistics (daily totals), always the tenant's own messages only.

Days are platform-local calendar days (``PIGEON_TIMEZONE``) and a message belongs to the day
it was *accepted* (``messages.created_at``): that is what the indexes cover, and a message is
submitted to the carrier within seconds of acceptance anyway.

Both stay fast on large tables.  QuerySendDetails is one range scan of ``ix_messages_lookup``
(account, phone, accepted-at) over the UTC span of the local day, whatever the table's size.
QuerySendStatistics aggregates in SQL over ``ix_messages_account_day`` (account, accepted-at):
the day of each message is integer arithmetic on its UTC instant inside a stretch of 24-hour
days (:func:`pigeon.core.days.uniform_runs`) — one query for zones without daylight saving,
one more per transition otherwise — so no rows travel to Python, only one row per day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import (
    BigInteger,
    Connection,
    case,
    cast,
    extract,
    func,
    literal,
    literal_column,
    select,
)

from pigeon.core import days as days_rules
from pigeon.core.limits import INTERNATIONAL
from pigeon.store.database import Driver, Rows
from pigeon.store.tables import messages

FINAL = ("delivered", "failed")
"""A message in any other status (queued, sending, sent) is still waiting for its receipt."""


@dataclass(frozen=True)
class Page:
    total: int
    items: list[dict]


# QuerySendDetails' two statements, run on the driver (store/database.py, Driver): built with
# SQLAlchemy they cost ~250 µs of a ~800-µs request, as plain SQL ~15 (bench/README.md).
# Parameters: account id, phone, the day's UTC start and end (as Driver.time stores them),
# then the BizId if any; the page adds LIMIT and OFFSET.
_DETAILS_WHERE = "account_id = ? AND phone = ? AND created_at >= ? AND created_at < ?"
_DETAILS = Rows(messages, ("phone", "status", "err_code", "template_code", "content", "out_id",
                           "created_at", "sent_at", "done_at", "biz_id", "segments"))


def details_sql(with_biz_id: bool) -> tuple[str, str]:
    """The count and the page statement of :func:`send_details` (``?`` placeholders)."""
    where = _DETAILS_WHERE + (" AND biz_id = ?" if with_biz_id else "")
    return (f"SELECT count(*) FROM messages WHERE {where}",
            f"{_DETAILS.select} WHERE {where} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?")


_DETAILS_SQL = {with_biz_id: details_sql(with_biz_id) for with_biz_id in (False, True)}


def send_details(conn: Connection, account_id: int, zone: ZoneInfo, *, phone: str, day: date,
                 page: int, page_size: int, biz_id: str | None = None) -> Page:
    """One number's messages accepted on the local ``day``, newest first, one page of them.

    ``phone`` is the wire form (:attr:`pigeon.core.numbers.PhoneNumber.wire`).  ``total``
    counts every matching message (one per number and call, not billing segments).
    """
    driver = Driver.of(conn)
    start, end = days_rules.utc_span(day, zone)
    params: tuple = (account_id, phone, driver.time(start), driver.time(end))
    if biz_id is not None:
        params += (biz_id,)
    count_sql, page_sql = _DETAILS_SQL[biz_id is not None]
    [(total,)] = driver.run(conn, None, count_sql, params)
    if not total or (page - 1) * page_size >= total:
        return Page(total or 0, [])
    return Page(total, _DETAILS.read(conn, page_sql, (*params, page_size,
                                                      (page - 1) * page_size)))


STATUSES = ("delivered", "failed", "waiting")
def on_days(account_id: int, first: date, last: date, zone: ZoneInfo) -> list:
    """The conditions for the account's messages accepted on the local days ``first``…``last``
    (a range of ``created_at``, as the account-and-day indexes are read)."""
    start, _ = days_rules.utc_span(first, zone)
    _, end = days_rules.utc_span(last, zone)
    return [messages.c.account_id == account_id, messages.c.created_at >= start,
            messages.c.created_at < end]


COUNT_LIMIT = 10_000
""":func:`search` counts at most this many matches (``Page.total`` then says "at least")."""


def search(conn: Connection, account_id: int, zone: ZoneInfo, *, first: date, last: date,
           page: int, page_size: int, phone: str | None = None, status: str | None = None,
           template_code: str | None = None, biz_id: str | None = None) -> Page:
    """The console's Sending Records: the account's messages accepted on the local days
    ``first``…``last``, newest first, one page of them, narrowed by number (wire form),
    status (one of :data:`STATUSES`: ``waiting`` is every status before a final receipt),
    template and BizId.

    Bounded on any table: one range scan of ``ix_messages_account_day`` (or
    ``ix_messages_lookup`` with a number, ``ix_messages_biz`` with a BizId), and the count
    stops at :data:`COUNT_LIMIT`.
    """
    where = on_days(account_id, first, last, zone)
    if phone is not None:
        where.append(messages.c.phone == phone)
    if biz_id is not None:
        where.append(messages.c.biz_id == biz_id)
    if template_code is not None:
        where.append(messages.c.template_code == template_code)
    if status == "waiting":
        where.append(messages.c.status.not_in(FINAL))
    elif status is not None:
        where.append(messages.c.status == status)
    counted = select(literal(1)).select_from(messages).where(*where).limit(COUNT_LIMIT)
    total = conn.scalar(select(func.count()).select_from(counted.subquery())) or 0
    if not total or (page - 1) * page_size >= total:
        return Page(total, [])
    rows = conn.execute(
        select(messages.c.phone, messages.c.status, messages.c.err_code, messages.c.err_msg,
               messages.c.template_code, messages.c.sign_name, messages.c.content,
               messages.c.out_id, messages.c.created_at, messages.c.sent_at,
               messages.c.done_at, messages.c.biz_id, messages.c.segments)
        .where(*where)
        .order_by(messages.c.created_at.desc(), messages.c.id.desc())
        .limit(page_size).offset((page - 1) * page_size)).mappings()
    return Page(total, [dict(row) for row in rows])


def _epoch_seconds(conn: Connection, column):
    """Whole seconds since 1970 of a stored (naive UTC) timestamp, on either backend."""
    if conn.dialect.name == "sqlite":
        return cast(func.strftime("%s", column), BigInteger)
    # ``timestamp without time zone``: PostgreSQL takes the stored value as is, no session zone.
    return cast(func.floor(extract("epoch", column)), BigInteger)


def send_statistics(conn: Connection, account_id: int, zone: ZoneInfo, *, first: date,
                    last: date, international: bool, template_type: int | None = None,
                    sign_name: str | None = None) -> list[dict]:
    """Per local day from ``first`` to ``last``: the segments accepted, delivered, failed and
    still waiting for a receipt.  Days without messages are left out; oldest day first.

    Counts are billing segments (a 71-character message counts 2), Alibaba's "billable count";
    ``TotalCount`` is the sum of the three others.  ``international`` picks international
    templates (type 3) or the domestic ones; ``template_type`` and ``sign_name`` narrow further.
    """
    # Only the days that hold messages need cutting into runs: two index look-ups bound them,
    # so a range of decades costs no more than the days the account actually sent on.
    bounds = conn.execute(select(func.min(messages.c.created_at), func.max(messages.c.created_at))
                          .where(*on_days(account_id, first, last, zone))).one()
    if bounds[0] is None:
        return []
    first = max(first, bounds[0].astimezone(zone).date())
    last = min(last, bounds[1].astimezone(zone).date())

    filters = [messages.c.account_id == account_id]
    if international:
        filters.append(messages.c.template_type == INTERNATIONAL)
    else:
        filters.append(messages.c.template_type != INTERNATIONAL)
    if template_type is not None:
        filters.append(messages.c.template_type == template_type)
    if sign_name is not None:
        filters.append(messages.c.sign_name == sign_name)

    def segments_where(condition):
        return func.coalesce(func.sum(case((condition, messages.c.segments), else_=0)), 0)

    totals = (
        func.coalesce(func.sum(messages.c.segments), 0),
        segments_where(messages.c.status == "delivered"),
        segments_where(messages.c.status == "failed"),
        segments_where(messages.c.status.not_in(FINAL)),
    )
    result: list[dict] = []
    for run in days_rules.uniform_runs(first, last, zone):
        span = [messages.c.created_at >= run.start, messages.c.created_at < run.end]
        if run.days == 1:
            index = literal(0, BigInteger)
            query = select(index.label("day"), *totals).where(*filters, *span)
        else:
            # Constants are written into the SQL, not bound: PostgreSQL accepts the SELECT
            # only if its expression is textually the one in GROUP BY.
            offset = literal_column(str(int(run.start.timestamp())), BigInteger)
            per_day = literal_column(str(days_rules.SECONDS_PER_DAY), BigInteger)
            index = (_epoch_seconds(conn, messages.c.created_at) - offset) // per_day
            query = (select(index.label("day"), *totals).where(*filters, *span)
                     .group_by(index))
        for row in conn.execute(query):
            if not row[1]:
                continue  # an aggregate without a GROUP BY answers a row even for no message
            result.append({"day": run.day_of(int(row[0])), "total": int(row[1]),
                           "delivered": int(row[2]), "failed": int(row[3]),
                           "waiting": int(row[4])})
    result.sort(key=lambda item: item["day"])
    return result
