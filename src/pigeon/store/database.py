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

The writer's :class:`WriteLog` counts this process's writes per table, so that a service may
cache rows it reads on every call and still see a change made here at once (the send path
does; see :mod:`pigeon.services.sending`).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import queue
import threading
import weakref
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

_SAVEPOINT = "SAVEPOINT pigeon_unit"
_ROLLBACK_TO = "ROLLBACK TO SAVEPOINT pigeon_unit"
_RELEASE = "RELEASE SAVEPOINT pigeon_unit"


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


class WriteLog:
    """How many times this process has written each table, for caches of rarely changed rows.

    Counts the INSERT, UPDATE and DELETE statements run on one engine (the writer's: in this
    process every write goes through it), by table; a write in raw SQL (``text()``,
    ``exec_driver_sql``) counts for every table.  A cache notes :meth:`version` of the
    tables it copied rows from and drops the copy once the version moves: a write made in
    this process is seen by the very next read.  A rolled-back transaction or savepoint moves
    the version of every table written since the last commit (rows a cache read inside it may
    have been undone).  Writes made by other processes (the CLI, other nodes) are not seen
    here: caches bound those by a time to live.
    """

    def __init__(self, engine: Engine) -> None:
        self._counts: dict[str, int] = {}
        self._uncommitted: set[str] = set()
        _WRITE_LOGS[engine] = self
        event.listen(engine, "after_cursor_execute", self._after_cursor_execute)
        event.listen(engine, "commit", self._commit)
        event.listen(engine, "rollback", self.rolled_back)
        event.listen(engine, "rollback_savepoint", self.rolled_back)

    @staticmethod
    def of(conn: Connection) -> WriteLog | None:
        """The log of the engine ``conn`` belongs to; None if nobody keeps one."""
        return _WRITE_LOGS.get(conn.engine)

    def version(self, tables: tuple[str, ...]) -> tuple[int, ...]:
        """The write counts of ``tables`` (and of raw SQL writes); equal versions mean no
        write to them in between."""
        counts = self._counts
        return (counts.get("*", 0), *(counts.get(name, 0) for name in tables))

    def _wrote(self, table: str) -> None:
        self._counts[table] = self._counts.get(table, 0) + 1
        self._uncommitted.add(table)

    def _after_cursor_execute(self, _conn, _cursor, statement: str, _parameters, context,
                              _executemany) -> None:
        compiled = getattr(context, "compiled", None)
        if compiled is not None and (context.isinsert or context.isupdate or context.isdelete):
            self._wrote(getattr(getattr(compiled.statement, "table", None), "name", "*"))
        elif statement.lstrip()[:7].upper().startswith(_RAW_WRITES):
            # text() or exec_driver_sql: which table is not worth parsing; "*" moves all
            self._wrote("*")

    def _commit(self, _conn) -> None:
        self._uncommitted.clear()

    def rolled_back(self, *_args) -> None:
        """Writes since the last commit may have been undone (a transaction or savepoint was
        rolled back): move the versions of the tables they touched."""
        for table in self._uncommitted:
            self._counts[table] = self._counts.get(table, 0) + 1


_WRITE_LOGS: weakref.WeakKeyDictionary[Engine, WriteLog] = weakref.WeakKeyDictionary()
_RAW_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE", "UPSERT", "WITH")  # WITH: maybe DML


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
        self.writes = WriteLog(self.write_engine)
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        # Each event loop thread's own SQLite read connection (see read()).
        self._inline = threading.local()
        self._inline_all: list[Connection] = []

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
        for conn in self._inline_all:
            try:
                conn.close()
            except Exception:  # closed from another thread than its own: nothing to keep
                pass
        self._inline_all.clear()
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
            # A caller that gave up (its task was cancelled) before the writer got to its unit
            # cancelled the future: skip that unit.  A running future cannot be cancelled, so
            # setting the results below cannot fail.
            batch = [unit for unit in batch if unit[2].set_running_or_notify_cancel()]
            if not batch:
                if stop:
                    break
                continue
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

    def _run_group(self, conn: Connection, batch: list) -> list[tuple[bool, Any]]:
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
                # Each unit in a savepoint of its own, written as plain SQL: SQLAlchemy's
                # begin_nested() costs ~70 µs a unit where these two statements cost ~20 µs
                # (bench/README.md), and a unit's own nested transactions keep their names.
                for fn, args, _future in batch:
                    conn.exec_driver_sql(_SAVEPOINT)
                    try:
                        value = fn(conn, *args)
                    except Exception as exc:
                        conn.exec_driver_sql(_ROLLBACK_TO)
                        conn.exec_driver_sql(_RELEASE)
                        self.writes.rolled_back()
                        outcomes.append((False, exc))
                    else:
                        conn.exec_driver_sql(_RELEASE)
                        outcomes.append((True, value))
        return outcomes

    # -- reads -----------------------------------------------------------------------------

    def read_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self.read_engine.connect() as conn, conn.begin():
            return fn(conn, *args, **kwargs)

    async def read(self, fn: Callable[..., T], *args: Any, offload: bool = False,
                   **kwargs: Any) -> T:
        """Run ``fn(conn, *args)`` in a read transaction.

        On SQLite a read takes microseconds, far less than handing it to a worker thread and
        back (the hop and the GIL hand-offs cost ~3x the read itself; see bench/README.md),
        so it runs right here on the event loop, on a connection kept for that.  Reads that
        may scan many rows pass ``offload=True``; PostgreSQL reads always go to a thread.
        """
        if self.is_sqlite and not offload:
            return self._read_inline(fn, *args, **kwargs)
        return await anyio.to_thread.run_sync(functools.partial(self.read_sync, fn, *args,
                                                                **kwargs))

    def _read_inline(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        conn = getattr(self._inline, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._inline.conn = self.read_engine.connect()
            self._inline_all.append(conn)
        with conn.begin():
            return fn(conn, *args, **kwargs)


class _UnitFailed(Exception):
    """Carries a lone unit's own exception out of its rolled-back transaction."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.exc = exc


def maintenance_engine(url: str) -> Engine:
    """An engine for one-off work (migrations) that holds no pooled connections afterwards."""
    return create_engine(url, poolclass=NullPool)
