"""Locks that make a decision and the write it allows one atomic step across processes and
nodes: "is there money for this message?" then "debit it", "is this number under its limit?"
then "insert the message".

On SQLite the writer's ``BEGIN IMMEDIATE`` already holds the database's only write lock for
the whole transaction: every process's decisions are serialised, and :func:`lock` does
nothing.  On PostgreSQL several nodes write at once, and :func:`lock` takes a transaction-level
advisory lock on the key (released at commit or rollback).

The writer runs many units of work in one transaction (group commit).  A unit that waited for
a lock while earlier units of its transaction hold others could close a cycle with another
node's transaction doing the same the other way round — a deadlock PostgreSQL breaks only
after a second.  So only the first unit of a transaction waits; a later unit *tries* the lock
and, when another transaction holds it, raises :class:`~pigeon.store.database.Busy`: the
writer undoes that unit and runs it first in its next transaction, where it may wait.  Several
keys taken by one unit are taken in sorted order (:func:`lock_all`).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from pigeon.store.database import FIRST_UNIT, Busy

ACCOUNT = 1
"""An account's money, packages, caps and per-number counts: everything SendSms decides."""
LEASE = 2
"""A lease (services/leases.py), by a checksum of its name."""
AUDIT = 3
"""The audit trail's head (services/audit.py): one entry appended at a time, cluster-wide."""

_KEY_BITS = 56  # the kind in the top byte, the id below


def key(kind: int, ident: int) -> int:
    """The advisory lock key (a signed 64-bit integer) of ``ident`` of ``kind``."""
    value = (kind << _KEY_BITS) | (ident & ((1 << _KEY_BITS) - 1))
    return value - (1 << 64) if value >= 1 << 63 else value


def lock(conn: Connection, kind: int, ident: int) -> None:
    """Hold the lock on ``ident`` of ``kind`` until the transaction ends; on PostgreSQL only
    (see the module's note).  Raises :class:`Busy` where waiting could deadlock."""
    if conn.dialect.name != "postgresql":
        return
    lock_key = key(kind, ident)
    if conn.info.get(FIRST_UNIT, True):
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%(k)s)", {"k": lock_key})
    elif not conn.exec_driver_sql("SELECT pg_try_advisory_xact_lock(%(k)s)",
                                  {"k": lock_key}).scalar():
        raise Busy(f"lock {kind}:{ident} is held by another transaction")


def lock_all(conn: Connection, kind: int, idents: Iterable[int]) -> None:
    """:func:`lock` on every one of ``idents``, in sorted order (so that two transactions
    waiting for several never wait for each other)."""
    for ident in sorted(set(idents)):
        lock(conn, kind, ident)
