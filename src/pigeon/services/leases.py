"""Leases: which node does a job that must be done by one node at a time — a loop that must
not run twice (the reviewer, the registrar, the batch sender, the alert evaluator), the binds
of an SMPP connector (its TPS and bind count are the carrier's, not each node's).

A lease is a row: its name, the node that holds it, until when.  Its holder renews it (every
pass of its loop); once it has expired, any node may take it.  Work done under a lease is
*fenced*: :func:`hold` runs in the same transaction as the work it guards, so two nodes can
never both commit work under one lease, whatever their clocks and pauses.  Taking, renewing
and checking are one step, serialised by a lock on the lease's name
(:mod:`pigeon.store.locks`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import Connection, delete, insert, select, update

from pigeon.store import locks
from pigeon.store.tables import leases

T = TypeVar("T")

TTL = timedelta(seconds=10)
"""How long a lease lasts unless renewed: how soon another node takes over a job whose node
died.  Holders renew it every pass, a few times within it."""


def _lock(conn: Connection, name: str) -> None:
    locks.lock(conn, locks.LEASE, zlib.crc32(name.encode()))


def hold(conn: Connection, name: str, node: int, now: datetime, ttl: timedelta = TTL) -> bool:
    """Take the lease ``name`` for ``node``, or renew it, until ``now + ttl``; False if
    another node holds it.  The answer stands until this transaction ends."""
    _lock(conn, name)
    row = conn.execute(select(leases.c.owner, leases.c.expires_at)
                       .where(leases.c.name == name)).first()
    if row is None:
        conn.execute(insert(leases).values(name=name, owner=node, expires_at=now + ttl))
        return True
    if row.owner != node and row.expires_at > now:
        return False
    conn.execute(update(leases).where(leases.c.name == name)
                 .values(owner=node, expires_at=now + ttl))
    return True


def hold_each(conn: Connection, names: list[str], node: int, now: datetime,
              ttl: timedelta = TTL) -> set[str]:
    """:func:`hold` for each of ``names``; the ones ``node`` holds now."""
    return {name for name in sorted(names) if hold(conn, name, node, now, ttl)}


def under(conn: Connection, name: str, node: int, now: datetime, step: Callable[..., T],
          *args) -> T | None:
    """``step(conn, *args)``, only while ``node`` holds the lease ``name`` — taken or renewed
    in this same transaction (the fence); None where another node holds it."""
    if not hold(conn, name, node, now):
        return None
    return step(conn, *args)


def release(conn: Connection, name: str, node: int) -> None:
    """Give the lease up, if ``node`` holds it (a node stopping: the next takes over now)."""
    conn.execute(delete(leases).where(leases.c.name == name, leases.c.owner == node))


def release_all(conn: Connection, node: int) -> int:
    """Give up every lease ``node`` holds; how many."""
    return conn.execute(delete(leases).where(leases.c.owner == node)).rowcount or 0


def holders(conn: Connection, now: datetime) -> dict[str, int]:
    """The leases in force at ``now``: name → node."""
    return dict(conn.execute(select(leases.c.name, leases.c.owner)
                             .where(leases.c.expires_at > now)).all())
