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

The send path takes its numbers' locks with its reads, and the account's only at the end of its
group, to debit the money (``sending._settle``) — so the account's lock, which every message of
a tenant needs, is held for a commit rather than for a whole group.  A group's end waits for it
while holding numbers' locks; that cannot close a cycle, because whoever holds an account's
lock took its numbers' locks first (a capped account's call: numbers, then account, in one
statement) and only tries others afterwards.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection

from pigeon.store.database import FIRST_UNIT, Busy, Driver

ACCOUNT = 1
"""An account's money, packages and caps: what SendSms decides about the account as a whole."""
LEASE = 2
"""A lease (services/leases.py), by a checksum of its name."""
AUDIT = 3
"""The audit trail's head (services/audit.py): one entry appended at a time, cluster-wide."""
NUMBER = 4
"""One phone number of one account (:func:`number_ident`): its per-number limits' counts."""
SIGN_IN = 5
"""One console email's sign-in attempts (services/console_users.py), by :func:`text_ident`."""

_KEY_BITS = 56  # the kind in the top byte, the id below


def key(kind: int, ident: int) -> int:
    """The advisory lock key (a signed 64-bit integer) of ``ident`` of ``kind``."""
    value = (kind << _KEY_BITS) | (ident & ((1 << _KEY_BITS) - 1))
    return value - (1 << 64) if value >= 1 << 63 else value


def lock(conn: Connection, kind: int, ident: int) -> None:
    """Hold the lock on ``ident`` of ``kind`` until the transaction ends; on PostgreSQL only
    (see the module's note).  Raises :class:`Busy` where waiting could deadlock."""
    taking = statement(conn, kind, ident)
    if taking is not None:
        taking.check(Driver.of(conn).run(conn, None, taking.sql, taking.params))


@dataclass(frozen=True)
class Taking:
    """The statement that takes a lock, to be sent with others (``Driver.run_all``: on
    PostgreSQL one round trip for the lock and the reads it guards — the server runs them in
    order, and each read sees what was committed before the lock was granted), and the check
    of its result."""

    sql: str
    params: tuple
    waits: bool
    what: str

    def check(self, rows: list[tuple]) -> None:
        """Raise :class:`Busy` if the lock was only tried, and not taken."""
        if not self.waits and not rows[0][0]:
            raise Busy(f"lock {self.what} is held by another transaction")


def statement(conn: Connection, kind: int, ident: int) -> Taking | None:
    """How :func:`lock` takes the lock on ``ident`` of ``kind``; None on SQLite (nothing to
    take).  Only the first unit of a transaction waits (the module's note)."""
    if conn.dialect.name != "postgresql":
        return None
    if conn.info.get(FIRST_UNIT, True):
        return Taking(_WAIT, (key(kind, ident),), True, f"{kind}:{ident}")
    return Taking(_TRY, (key(kind, ident),), False, f"{kind}:{ident}")


_WAIT = "SELECT true FROM pg_advisory_xact_lock(?)"
_TRY = "SELECT pg_try_advisory_xact_lock(?)"


def statement_all(conn: Connection, kind: int, idents: Iterable[int]) -> Taking | None:
    """:func:`statement` for the locks on every one of ``idents``, taken in sorted order by one
    statement; None on SQLite."""
    if conn.dialect.name != "postgresql":
        return None
    keys = sorted({key(kind, ident) for ident in idents})
    what = f"{kind}:{len(keys)} keys"
    if conn.info.get(FIRST_UNIT, True):
        return Taking(_WAIT_ALL, (keys,), True, what)
    return Taking(_TRY_ALL, (keys,), False, what)


# unnest() yields the array's elements in order, and the lateral call runs once for each:
# the locks are taken in the keys' order.
_WAIT_ALL = ("SELECT count(*) > 0 FROM unnest(?::bigint[]) AS t(k), "
             "LATERAL pg_advisory_xact_lock(k)")
_TRY_ALL = ("SELECT bool_and(taken) FROM unnest(?::bigint[]) AS t(k), "
            "LATERAL pg_try_advisory_xact_lock(k) AS taken")


def number_ident(account_id: int, phone: str) -> int:
    """The :data:`NUMBER` lock's id of ``phone`` (as stored) of ``account_id``: 56 bits of a
    hash of both (two numbers sharing one only wait for each other)."""
    return text_ident(f"{account_id}/{phone}")


def text_ident(text: str) -> int:
    """A lock's id for a name: 56 bits of its hash (two names sharing one only wait for each
    other)."""
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=7).digest(), "big")


def lock_all(conn: Connection, kind: int, idents: Iterable[int]) -> None:
    """:func:`lock` on every one of ``idents``, in sorted order (so that two transactions
    waiting for several never wait for each other), by one statement."""
    taking = statement_all(conn, kind, idents)
    if taking is not None:
        taking.check(Driver.of(conn).run(conn, None, taking.sql, taking.params))
