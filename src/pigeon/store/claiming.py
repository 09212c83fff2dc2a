"""Taking rows for one worker: the WHERE clause of a conditional UPDATE or DELETE that claims
the rows a SELECT picks, such that concurrent workers never take the same row.

On SQLite the one writer serialises workers, and ``key IN (SELECT … LIMIT n)`` is enough.  On
PostgreSQL the SELECT locks its rows ``FOR UPDATE SKIP LOCKED`` (a second worker passes over
them instead of waiting), inside a ``MATERIALIZED`` CTE: written as ``IN (subquery)`` the
planner may run the subquery again per outer row and take more than its ``LIMIT`` — rows the
statement itself just updated no longer lock, so a re-run picks the next ones.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, Select


def taken_by(conn: Connection, picked: Select, key: ColumnElement) -> ColumnElement[bool]:
    """A condition on ``key`` matching the rows ``picked`` (a one-column SELECT of the key,
    with its ORDER BY and LIMIT) selects, and no row another open transaction has taken.

    ``UPDATE t … WHERE taken_by(…)`` and ``DELETE FROM t WHERE taken_by(…)`` take them;
    repeat the statement's own state condition in its WHERE as well.
    """
    if conn.dialect.name == "postgresql":
        taken = (picked.with_for_update(skip_locked=True).cte("taken")
                 .prefix_with("MATERIALIZED"))
        return key == taken.c[0]
    return key.in_(picked.scalar_subquery())
