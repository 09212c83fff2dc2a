"""``Database.read(fn, cached=True)``: a read its caches answer runs on the event loop, even on
PostgreSQL, whose reads otherwise go to a thread; one that needs a statement is run again on a
real connection (the send path's checks, sending.prepare)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import select

from pigeon.store.database import CachesOnly
from pigeon.store.tables import accounts


def read(pigeon, fn):
    async def main():
        return await pigeon.db.read(fn, cached=True)

    return asyncio.run(main())


def test_a_read_its_caches_answer_runs_once_on_the_loop(pigeon):
    calls = []

    def from_cache(conn):
        calls.append((type(conn).__name__, threading.current_thread()))
        return conn.dialect.name, conn.engine is pigeon.db.read_engine

    answer = read(pigeon, from_cache)
    assert answer == (pigeon.db.read_engine.dialect.name, True)
    assert len(calls) == 1 and calls[0][1] is threading.current_thread()


def test_a_read_that_needs_a_statement_runs_on_a_connection(pigeon):
    calls = []

    def needs_the_database(conn):
        calls.append(type(conn))
        return conn.execute(select(accounts.c.id)).all()

    assert read(pigeon, needs_the_database) == []
    # PostgreSQL: tried from the caches first, then again on a connection; SQLite's reads run
    # on the loop on a real connection at once.
    expected = [] if pigeon.db.is_sqlite else [CachesOnly]
    assert calls[:-1] == expected and calls[-1] is not CachesOnly


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)  # SQLite: no retry
def test_a_reads_own_except_exception_does_not_take_the_need_for_a_statement(pigeon):
    seen = []

    def careless(conn):
        try:
            return conn.execute(select(accounts.c.id)).all()
        except Exception as error:  # the read's own errors
            seen.append(error)
            raise

    assert read(pigeon, careless) == []
    assert seen == []
