"""Account locks in the writer's group commit: a unit that would wait for a lock behind others
of its transaction steps aside instead, and runs first in the next transaction — where it
waits.  So two nodes' transactions never wait for each other in a cycle."""

from __future__ import annotations

import threading

import psycopg
import pytest

from pigeon.store import locks
from pigeon.store.database import FIRST_UNIT


def hold_elsewhere(database_url: str, account: int):
    """Another node's transaction holding ``account``'s lock until closed."""
    url = database_url.replace("postgresql+psycopg://", "postgresql://")
    conn = psycopg.connect(url)
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (locks.key(locks.ACCOUNT, account),))
    return conn


def test_a_unit_that_meets_a_held_lock_runs_again_first_and_waits(pigeon, database_url):
    if pigeon.db.is_sqlite:
        pytest.skip("SQLite: the writer's transaction holds the only write lock; no lock here")
    ran: list[tuple[str, bool]] = []

    def unit(name: str, account: int):
        def run(conn):
            ran.append((name, conn.info[FIRST_UNIT]))
            locks.lock(conn, locks.ACCOUNT, account)
            return name
        return run

    gate, blocking = threading.Event(), threading.Event()

    def block(_conn) -> bool:
        blocking.set()
        return gate.wait(30)

    other = hold_elsewhere(database_url, 2)
    try:
        blocker = pigeon.db.submit_write(block)
        assert blocking.wait(30)  # the writer is inside the blocker's transaction
        first = pigeon.db.submit_write(unit("first", 1))
        contended = pigeon.db.submit_write(unit("contended", 2))
        last = pigeon.db.submit_write(unit("last", 3))
        gate.set()  # the three now run as one transaction
        assert blocker.result(30) is True
        assert (first.result(30), last.result(30)) == ("first", "last")
        assert not contended.done()  # stepped aside, now waiting first in its own transaction
    finally:
        other.close()  # the other node commits
    assert contended.result(30) == "contended"
    assert ran[:3] == [("first", True), ("contended", False), ("last", False)]
    assert ran[3:] == [("contended", True)]


def test_lock_keys_keep_kinds_apart_and_fit_a_bigint():
    assert locks.key(locks.ACCOUNT, 7) != locks.key(locks.LEASE, 7)
    for ident in (0, 1, 2**53, 2**56 - 1):
        for kind in (locks.ACCOUNT, locks.LEASE, 0xFF):
            assert -(2**63) <= locks.key(kind, ident) < 2**63
