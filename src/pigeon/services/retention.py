"""Dropping what is kept only for a while: finished report events, push attempts, and the
virtual handsets' inboxes older than ``PIGEON_RETENTION``.

Messages, the ledger and alerts are never dropped here (billing and statistics read them).
A report event is dropped only once it reached a final state — a ``pending`` one is still owed
to its tenant, whatever its age.

The tables have no index on their time column (none of their queries needs one), so the
cut-off is found on the primary key instead: ids grow with time, and a binary search of
primary-key seeks (:func:`cutoff_id`) finds the last row older than the cut-off in ~30
look-ups even on a table of billions.  Deletes then go by id range in bounded chunks, so the
single writer never holds a long transaction while sending goes on.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, Table, delete, func, select

from pigeon.store.tables import handset_messages, report_attempts, report_events

CHUNK = 5000
FINAL_STATES = ("delivered", "queued", "failed", "skipped")

# Each table with the column that dates its rows.
DATED: tuple[tuple[Table, str], ...] = (
    (report_events, "created_at"),
    (report_attempts, "created_at"),
    (handset_messages, "received_at"),
)


def cutoff_id(conn: Connection, table: Table, column: str, cutoff: datetime) -> int | None:
    """The largest id whose row is dated before ``cutoff`` (assuming ids grow with time),
    or None when no row is that old."""
    ids, dated = table.c.id, table.c[column]
    low, high = conn.execute(select(func.min(ids), func.max(ids))).one()
    if low is None:
        return None

    def first_from(key: int):  # the first row at or after id ``key``: a primary-key seek
        return conn.execute(select(ids, dated).where(ids >= key).order_by(ids).limit(1)).first()

    first = first_from(low)
    if first is None or first[1] >= cutoff:
        return None
    found = first[0]  # invariant: row `found` is older than the cut-off
    while low <= high:
        middle = (low + high) // 2
        row = first_from(middle)
        if row is None or row[1] >= cutoff:
            high = middle - 1
        else:
            found, low = row[0], row[0] + 1
    return found


def purge_chunk(conn: Connection, table: Table, column: str, cutoff: datetime,
                chunk: int = CHUNK) -> int:
    """Delete up to ``chunk`` of ``table``'s rows older than ``cutoff``; how many went."""
    last = cutoff_id(conn, table, column, cutoff)
    if last is None:
        return 0
    ids = select(table.c.id).where(table.c.id <= last)
    if table is report_events:
        ids = ids.where(report_events.c.state.in_(FINAL_STATES))
    ids = ids.order_by(table.c.id).limit(chunk)
    # Materialised first: MySQL-style "DELETE … WHERE id IN (SELECT … LIMIT)" is not portable,
    # and a list of at most CHUNK ids binds fine on both databases.
    doomed = conn.execute(ids).scalars().all()
    if not doomed:
        return 0
    conn.execute(delete(table).where(table.c.id.in_(doomed)))
    return len(doomed)


async def purge(db, now: datetime, keep: timedelta, chunk: int = CHUNK) -> dict[str, int]:
    """Drop everything older than ``keep``, one chunk per write so sending is never held up
    for long; the counts per table."""
    cutoff = now - keep
    dropped: dict[str, int] = {}
    for table, column in DATED:
        total = 0
        while True:
            gone = await db.write(purge_chunk, table, column, cutoff, chunk)
            total += gone
            if gone < chunk:
                break
        dropped[table.name] = total
    return dropped
