"""SQLite: with the writer on an event loop, the WAL is copied back into the database file by
a thread of its own, not by the commit that crosses SQLite's 1,000-page mark on the loop
(store/database.py, CHECKPOINT_SECONDS)."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from pigeon.store import database
from tests.support.waiting import eventually


def test_a_few_commits_reach_the_database_file_without_the_writer_checkpointing(pigeon):
    if not pigeon.db.is_sqlite:
        pytest.skip("SQLite's WAL")
    path = Path(pigeon.database_url.removeprefix("sqlite:///"))
    pigeon.db.write_sync(lambda conn: conn.exec_driver_sql(
        "CREATE TABLE filler (text TEXT NOT NULL)"))
    with sqlite3.connect(path) as raw:  # everything so far in the file, the WAL empty
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = path.stat().st_size

    def fill(conn, rows: int) -> None:
        conn.exec_driver_sql("INSERT INTO filler (text) VALUES " + ", ".join(
            f"('{n:04d}' || printf('%.2000c', 'x'))" for n in range(rows)))

    async def scenario() -> None:
        pigeon.db.attach()
        try:
            for _ in range(10):
                await pigeon.db.write(fill, 20)  # ~100 pages in all: far below 1,000
            wal = path.with_name(path.name + "-wal")
            assert wal.stat().st_size < database.CHECKPOINT_BACKSTOP_PAGES * 4096
            await eventually(lambda: path.stat().st_size > size + 100 * 2000,
                             what="the commits copied into the database file")
        finally:
            pigeon.db.detach()

    asyncio.run(scenario())
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT count(*) FROM filler").fetchone() == (200,)
