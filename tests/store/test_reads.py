"""Reads on SQLite run on the event loop, on a connection kept for them (Database.read) — or,
once the writer runs on that loop too (Database.attach), on the writer's connection: a read's
transaction begins with its first statement, so a read answered from caches runs no statement
at all, and a read that fails leaves no transaction open behind it."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, exc, insert, select, update

from pigeon.store.tables import accounts
from tests.conftest import fresh_database_url


@pytest.fixture
def database_url(tmp_path) -> str:
    """SQLite only: PostgreSQL's reads run in a thread, each in a transaction it begins."""
    return fresh_database_url("sqlite", tmp_path, None)


@contextlib.contextmanager
def traced(engine, words: int = 1):
    """The statements SQLite itself runs on ``engine``'s connections checked out meanwhile
    (their first ``words`` words, upper case) — the BEGINs and COMMITs too, which Pigeon sends
    past SQLAlchemy's cursor events."""
    seen: list[str] = []
    raw_connections = []

    def note(statement: str) -> None:
        seen.append(" ".join(statement.split()[:words]).upper())

    def checkout(dbapi_conn, _record, _proxy):
        dbapi_conn.set_trace_callback(note)
        raw_connections.append(dbapi_conn)

    event.listen(engine, "checkout", checkout)
    try:
        yield seen
    finally:
        event.remove(engine, "checkout", checkout)
        for dbapi_conn in raw_connections:
            dbapi_conn.set_trace_callback(None)


@pytest.fixture
def statements(pigeon):
    with traced(pigeon.db.read_engine) as seen:
        yield seen


def read(pigeon, fn):
    async def main():
        return await pigeon.db.read(fn)

    return asyncio.run(main())


def test_a_read_that_runs_no_statement_begins_no_transaction(pigeon, statements):
    assert read(pigeon, lambda conn: 42) == 42
    assert statements == []


def test_a_reads_statements_run_in_one_transaction_ended_after_them(pigeon, statements):
    def two_selects(conn):
        conn.execute(select(accounts.c.id)).all()
        conn.execute(select(accounts.c.name)).all()
        return conn.in_transaction()

    assert read(pigeon, two_selects) is True
    assert statements == ["BEGIN", "SELECT", "SELECT", "COMMIT"]
    assert read(pigeon, lambda conn: conn.in_transaction()) is False  # nothing left open


class Failed(Exception):
    pass


def select_then_fail(conn):
    conn.execute(select(accounts.c.id)).all()
    raise Failed


def test_a_read_that_fails_leaves_no_transaction_open(pigeon, statements):
    with pytest.raises(Failed):
        read(pigeon, select_then_fail)
    assert read(pigeon, lambda conn: conn.in_transaction()) is False


def _attached(pigeon, scenario):
    async def main():
        pigeon.db.attach()
        try:
            return await scenario()
        finally:
            pigeon.db.detach()

    return asyncio.run(main())


def _new_account(conn):
    conn.execute(insert(accounts).values(id=7, name="Lark", status="active",
                                         created_at=datetime.now(UTC)))


def test_on_the_loop_reads_run_on_the_writers_connection_without_its_write_lock(
        pigeon, statements):
    """SQLite drops a connection's page cache after another connection's commit: on the
    reading connection every read would follow one of the writer's; the writer's own commits
    keep its cache.  Its read takes no write lock, and its next write does."""
    with traced(pigeon.db.write_engine, words=2) as on_writer:
        async def scenario():
            await pigeon.db.write(_new_account)
            on_writer.clear()
            name = await pigeon.db.read(lambda conn: conn.scalar(
                select(accounts.c.name).where(accounts.c.id == 7)))
            read_statements = list(on_writer)
            await pigeon.db.write(lambda conn: conn.execute(
                update(accounts).where(accounts.c.id == 7).values(name="Lark 2")))
            return name, read_statements, on_writer[len(read_statements)]

        name, read_statements, next_write = _attached(pigeon, scenario)
    assert name == "Lark"
    assert read_statements == ["BEGIN", "SELECT ACCOUNTS.NAME", "COMMIT"]
    assert next_write == "BEGIN IMMEDIATE"
    assert statements == []  # the reading connection was not used


def test_a_read_that_meets_a_lock_on_the_writers_connection_runs_on_the_reading_one(
        pigeon, statements):
    """The writer's connection does not wait for a lock (another process's WAL recovery, an
    exclusive lock): the read runs again on the reading connection, which waits."""
    engines = []

    def meets_a_lock_on_the_writer(conn):
        engines.append(conn.engine)
        if conn.engine is pigeon.db.write_engine:
            conn.execute(select(accounts.c.id)).all()
            raise exc.OperationalError("SELECT", {}, sqlite3.OperationalError(
                "database is locked"))
        return conn.execute(select(accounts.c.id)).all()

    async def scenario():
        await pigeon.db.write(_new_account)
        return await pigeon.db.read(meets_a_lock_on_the_writer)

    assert _attached(pigeon, scenario) == [(7,)]
    assert engines == [pigeon.db.write_engine, pigeon.db.read_engine]
    assert statements == ["BEGIN", "SELECT", "COMMIT"]


def test_a_reads_own_error_on_the_writers_connection_is_not_run_again(pigeon, statements):
    async def scenario():
        await pigeon.db.write(_new_account)
        with pytest.raises(Failed):
            await pigeon.db.read(select_then_fail)
        # Nothing left open on the writer's connection: the next write begins its own.
        await pigeon.db.write(lambda conn: conn.execute(
            update(accounts).where(accounts.c.id == 7).values(name="Lark 2")))
        return await pigeon.db.read(lambda conn: conn.scalar(select(accounts.c.name)))

    assert _attached(pigeon, scenario) == "Lark 2"
    assert statements == []
