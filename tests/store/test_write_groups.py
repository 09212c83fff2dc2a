"""SQLite, the writer on an event loop (Database.attach): the writes of requests in flight that
reach the writer a few iterations of the loop apart commit as one group; a lone write does not
wait, and a stream of writes that never pauses does not hold the group back for long
(store/database.py, GATHER_ITERATIONS)."""

from __future__ import annotations

import asyncio
import contextlib
import os

import pytest

from pigeon.store import database


@pytest.fixture
def db(pigeon):
    if not pigeon.db.is_sqlite:
        pytest.skip("the writer runs on the event loop on SQLite only")
    pigeon.db.write_sync(lambda conn: conn.exec_driver_sql(
        "CREATE TABLE rows_written (n INTEGER NOT NULL)"))
    return pigeon.db


def _write(n: int):
    def work(conn) -> int:
        conn.exec_driver_sql(f"INSERT INTO rows_written (n) VALUES ({n})")
        return n
    return work


class Iterations:
    """Counts the iterations of the running loop, and notes at which one each commit came."""

    def __init__(self, db) -> None:
        self.count = 0
        self.commits: list[int] = []
        self._stop_listening = db.writes.on_commit(lambda _tables: self.commits.append(self.count))
        self._loop = asyncio.get_running_loop()
        self._running = True
        self._loop.call_soon(self._tick)

    def _tick(self) -> None:
        self.count += 1
        if self._running:
            self._loop.call_soon(self._tick)

    def stop(self) -> None:
        self._running = False
        self._stop_listening()


async def _write_after(db, iterations: int, n: int) -> int:
    for _ in range(iterations):
        await asyncio.sleep(0)  # one iteration of the loop
    return await db.write(_write(n))


def _attached(db, scenario):
    async def run():
        db.attach()
        try:
            return await scenario()
        finally:
            db.detach()
    return asyncio.run(run())


def test_writes_arriving_over_a_few_iterations_commit_together(db):
    async def scenario():
        seen = Iterations(db)
        # Two writes reach the writer in each of three iterations in a row, as the requests
        # in flight reach their write a few iterations apart under load.
        done = await asyncio.gather(*(_write_after(db, n // 2, n) for n in range(6)))
        seen.stop()
        return done, seen.commits

    done, commits = _attached(db, scenario)
    assert done == [0, 1, 2, 3, 4, 5]
    assert len(commits) == 1  # one group; each iteration's writes alone made three
    assert db.read_sync(lambda conn: conn.exec_driver_sql(
        "SELECT count(*) FROM rows_written").scalar()) == 6


def test_a_lone_write_commits_at_the_next_iteration(db):
    async def scenario():
        seen = Iterations(db)
        queued_at = seen.count
        await db.write(_write(1))
        seen.stop()
        return seen.commits[0] - queued_at

    assert _attached(db, scenario) <= 1


def test_writes_that_never_pause_commit_within_a_few_iterations(db):
    async def scenario():
        seen = Iterations(db)
        first = seen.count
        # Two new writes every iteration for 40 iterations.
        await asyncio.gather(*(_write_after(db, n // 2, n) for n in range(80)))
        seen.stop()
        return first, seen.commits

    first, commits = _attached(db, scenario)
    assert commits[0] - first <= database.GATHER_ITERATIONS + 2
    assert len(commits) >= 40 // (database.GATHER_ITERATIONS + 2)
    assert db.read_sync(lambda conn: conn.exec_driver_sql(
        "SELECT count(*) FROM rows_written").scalar()) == 80


def _temporary_files() -> list[str]:
    """The SQLite temporary files this process holds open (named etilqs_…, deleted at once)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if "etilqs_" in os.readlink(f"/proc/self/fd/{fd}"):
                found.append(fd)
    return found


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc")
def test_the_savepoints_journal_of_a_group_stays_in_memory(db):
    # Each unit of a group runs in savepoints, and SQLite keeps a copy of every page a unit
    # changes until the unit ends; past 64 KiB that journal went to a temporary file, two
    # system calls a page.
    db.write_sync(lambda conn: conn.exec_driver_sql(
        "CREATE TABLE pages (id INTEGER PRIMARY KEY, filler BLOB NOT NULL)"))
    db.write_sync(lambda conn: [conn.exec_driver_sql(
        "INSERT INTO pages (id, filler) VALUES (?, zeroblob(3000))", (n,)) for n in range(60)])

    def change_many_pages(conn) -> list[str]:
        with database.savepoint(conn, "many_pages"):
            conn.exec_driver_sql("UPDATE pages SET filler = zeroblob(3001)")  # 60 pages, 240 KB
            return _temporary_files()

    assert db.write_sync(change_many_pages) == []
