"""The database: one writer with group commit, parallel readers.

Writes go through one thread and one connection (SQLite has one writer; ``BEGIN IMMEDIATE``
takes the write lock up front so two processes never deadlock half-way through a
transaction).  The writer drains whatever work has queued up and runs it in a single
transaction, each unit of work inside its own savepoint: one commit — one disk flush — makes
many requests durable, and one unit's failure rolls back only that unit.  A caller's future
resolves only after the commit, so "acknowledged" always means "committed".

Reads run on worker threads with their own pooled connections; WAL mode lets them proceed
while the writer writes.  PostgreSQL uses the same two paths.

Work functions are plain synchronous functions ``fn(conn, *args)`` taking a SQLAlchemy
``Connection``; services are written that way and know nothing of threads.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

T = TypeVar("T")

# How many queued units of work one transaction may carry.  Large enough to amortise the
# commit, small enough that a failed commit (rare: disk full, lost connection) fails few.
MAX_GROUP = 512

_STOP = object()


def _sqlite_engine(url: str, *, begin: str, pool_size: int) -> Engine:
    engine = create_engine(url, pool_size=pool_size, max_overflow=8, pool_pre_ping=False)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn, _record):
        # Let SQLAlchemy's "begin" event, not the driver, open transactions, so that
        # BEGIN IMMEDIATE and SAVEPOINT behave as written.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoint, crash-safe
        cur.execute("PRAGMA busy_timeout=10000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql(begin)

    return engine


class Database:
    """Access to the one source of truth.  Call :meth:`start` before use, :meth:`close` after."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.write_engine = _sqlite_engine(url, begin="BEGIN IMMEDIATE", pool_size=1)
            self.read_engine = _sqlite_engine(url, begin="BEGIN", pool_size=8)
        else:
            self.write_engine = create_engine(url, pool_size=2, max_overflow=2, pool_pre_ping=True)
            self.read_engine = create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writer: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Database:
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, name="pigeon-writer",
                                            daemon=True)
            self._writer.start()
        return self

    def close(self) -> None:
        if self._writer is not None:
            self._queue.put(_STOP)
            self._writer.join(timeout=30)
            self._writer = None
        self.write_engine.dispose()
        self.read_engine.dispose()

    # -- writes ----------------------------------------------------------------------------

    def submit_write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Queue ``fn(conn, *args, **kwargs)`` for the writer; the future resolves after the
        commit."""
        if self._writer is None:
            raise RuntimeError("Database.start() was not called")
        future: Future[T] = Future()
        self._queue.put((functools.partial(fn, **kwargs) if kwargs else fn, args, future))
        return future

    def write_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self.submit_write(fn, *args, **kwargs).result()

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.wrap_future(self.submit_write(fn, *args, **kwargs))

    def _write_loop(self) -> None:
        conn: Connection | None = None
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            batch = [item]
            stop = False
            while len(batch) < MAX_GROUP:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            try:
                if conn is None:
                    conn = self.write_engine.connect()
                outcomes = self._run_group(conn, batch)
            except _UnitFailed as failed:  # a lone unit raised; its transaction is rolled back
                batch[0][2].set_exception(failed.exc)
            except Exception as exc:  # the commit itself failed: nothing in the group happened
                log.exception("group commit of %d unit(s) failed", len(batch))
                if conn is not None:
                    try:
                        conn.close()
                    except Exception:
                        pass
                    conn = None
                for _fn, _args, future in batch:
                    if not future.done():
                        future.set_exception(exc)
            else:
                for (_fn, _args, future), (ok, value) in zip(batch, outcomes, strict=True):
                    if ok:
                        future.set_result(value)
                    else:
                        future.set_exception(value)
            if stop:
                break
        if conn is not None:
            conn.close()

    @staticmethod
    def _run_group(conn: Connection, batch: list) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        with conn.begin():
            if len(batch) == 1:
                fn, args, _future = batch[0]
                try:
                    outcomes.append((True, fn(conn, *args)))
                except Exception as exc:
                    # Alone in its transaction: roll the whole thing back.
                    raise _UnitFailed(exc) from exc
            else:
                for fn, args, _future in batch:
                    savepoint = conn.begin_nested()
                    try:
                        value = fn(conn, *args)
                    except Exception as exc:
                        savepoint.rollback()
                        outcomes.append((False, exc))
                    else:
                        savepoint.commit()
                        outcomes.append((True, value))
        return outcomes

    # -- reads -----------------------------------------------------------------------------

    def read_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self.read_engine.connect() as conn, conn.begin():
            return fn(conn, *args, **kwargs)

    async def read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await anyio.to_thread.run_sync(functools.partial(self.read_sync, fn, *args,
                                                                **kwargs))


class _UnitFailed(Exception):
    """Carries a lone unit's own exception out of its rolled-back transaction."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.exc = exc


def maintenance_engine(url: str) -> Engine:
    """An engine for one-off work (migrations) that holds no pooled connections afterwards."""
    return create_engine(url, poolclass=NullPool)
