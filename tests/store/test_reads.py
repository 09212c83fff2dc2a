"""Reads on SQLite run on the event loop, on a connection kept for them (Database.read): a
read's transaction begins with its first statement, so a read answered from caches runs no
statement at all, and a read that fails leaves no transaction open behind it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, select

from pigeon.store.tables import accounts
from tests.conftest import fresh_database_url


@pytest.fixture
def database_url(tmp_path) -> str:
    """SQLite only: PostgreSQL's reads run in a thread, each in a transaction it begins."""
    return fresh_database_url("sqlite", tmp_path, None)


@pytest.fixture
def statements(pigeon):
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_):
        seen.append(statement.split()[0].upper())

    event.listen(pigeon.db.read_engine, "before_cursor_execute", note)
    yield seen
    event.remove(pigeon.db.read_engine, "before_cursor_execute", note)


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
    assert statements == ["BEGIN", "SELECT", "SELECT"]
    assert read(pigeon, lambda conn: conn.in_transaction()) is False  # nothing left open


def test_a_read_that_fails_leaves_no_transaction_open(pigeon, statements):
    class Failed(Exception):
        pass

    def select_then_fail(conn):
        conn.execute(select(accounts.c.id)).all()
        raise Failed

    with pytest.raises(Failed):
        read(pigeon, select_then_fail)
    assert read(pigeon, lambda conn: conn.in_transaction()) is False
