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
import collections
import contextlib
import contextvars
import functools
import json
import logging
import operator
import queue
import threading
import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from datetime import UTC, datetime
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Connection, Engine, Table, create_engine, event, exc
from sqlalchemy.pool import NullPool
from sqlalchemy.types import JSON, Boolean

from pigeon import metrics
from pigeon.store import faults

log = logging.getLogger(__name__)

T = TypeVar("T")

# How many queued units of work one transaction may carry.  Large enough to amortise the
# commit, small enough that a failed commit (rare: disk full, lost connection) fails few.
MAX_GROUP = 512

# The attached loop's writer (Database.attach) runs what was queued during one iteration of
# the loop at the start of the next — unless units still arrived in that iteration: the
# requests in flight reach their write a few iterations apart, and a group that waits while
# they come (at most GATHER_ITERATIONS more iterations, each a fraction of a millisecond under
# load) commits once for them all.  A lone request does not wait: nothing arrived behind it.
# Measured (bench/README.md, "Gathering a group"): SendSms through uvicorn with 32
# connections formed groups of 10.5 units, 28 with this; four of six A/B runs took 9-18 % less
# CPU a request, two more (a noisy machine), and a smaller group costs more per request.
GATHER_ITERATIONS = 4

_STOP = object()

ANNOUNCED = ("messages", "report_events")
"""Tables whose writes other processes learn of at once (:meth:`Database.watch_others`)."""
_CHANNEL = "pigeon_"
WATCH_SECONDS = 0.005

# SQLite, a writer on an event loop (Database.attach): its commits append to the WAL, and a
# thread of the process copies the WAL back into the database file (a checkpoint) every
# CHECKPOINT_SECONDS after commits — not the commit that happens to cross SQLite's
# 1,000-page mark, on the loop, with every request in flight waiting for the copy and its
# fsyncs.  The writer's own automatic checkpoint stays, at CHECKPOINT_BACKSTOP_PAGES, for a
# checkpointer that falls behind.
CHECKPOINT_SECONDS = 0.1
CHECKPOINT_BACKSTOP_PAGES = 16_000

# psycopg prepares a statement run five times on a connection, and PostgreSQL then settles on
# one generic plan for it, costed with the statistics of that moment — and keeps it while the
# connection lives.  Chosen when the messages table was nearly empty (a new deployment), the
# per-number count became a walk through every message of the signature: measured, the count
# and an insert took 313 µs at 2,000 stored messages and 2,527 µs at 16,000; in the SendSms
# benchmark the count averaged 696 µs a call, 17 µs with this (bench/README.md, "PostgreSQL:
# plans and round trips"; tests/services/test_send_queries.py).
# A plan made for each execution's values costs tens of microseconds and never goes stale;
# the parsing saved by preparing is kept.
_CUSTOM_PLANS = "-c plan_cache_mode=force_custom_plan"

_SAVEPOINT = "SAVEPOINT pigeon_unit"
_ROLLBACK_TO = "ROLLBACK TO SAVEPOINT pigeon_unit"
_RELEASE = "RELEASE SAVEPOINT pigeon_unit"
# A unit's release and the next one's savepoint, one round trip on PostgreSQL (psycopg sends a
# statement without parameters as a simple query, which may hold several; sqlite3 runs one).
_RELEASE_AND_SAVEPOINT = f"{_RELEASE}; {_SAVEPOINT}"


def _sqlite_engine(url: str, *, writer: bool, pool_size: int) -> Engine:
    engine = create_engine(url, pool_size=pool_size, max_overflow=8, pool_pre_ping=False)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_conn, _record):
        # Let SQLAlchemy's "begin" event, not the driver, open transactions, so that
        # BEGIN IMMEDIATE and SAVEPOINT behave as written.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable at checkpoint, crash-safe
        # The writer waits for the write lock itself (_begin_immediate); SQLite's own busy
        # handler sleeps 1, 2, 5 … 100 ms between tries, far longer than another process's
        # group commit holds the lock.
        cur.execute(f"PRAGMA busy_timeout={0 if writer else 10000}")
        cur.execute("PRAGMA foreign_keys=ON")
        # SQLite's default page cache is 2 MB.  Every message's row lands in indexes keyed by
        # the phone number (a random page each) — with millions stored, 2 MB holds none of
        # them, and every insert re-reads its pages (bench/README.md, "history").  The writer
        # keeps 64 MB; reads go through a shared memory map of the file.
        cur.execute(f"PRAGMA cache_size={-65536 if writer else -8192}")
        cur.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
        if writer:
            # Each unit of a group runs in savepoints, and SQLite copies a page into the
            # savepoint's journal the first time the unit changes it, to undo the unit alone.
            # That journal is a temporary file once it passes 64 KiB — a group's does after a
            # few units — and then every copy is two write system calls: 14 a SendSms, more
            # than the WAL's own, measured with strace (bench/README.md, "The savepoints'
            # journal").  In memory it is a copy of the page; a group of MAX_GROUP units
            # journals a few MB at most.
            cur.execute("PRAGMA temp_store=MEMORY")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        if writer and not conn.info.get(READING):
            _begin_immediate(conn)
        else:
            _begin_raw(conn, "BEGIN")

    return engine


def _driver_error(conn: Connection, sql: str, params: Any, error: Exception) -> exc.DBAPIError:
    """A driver's ``error`` for a statement run straight on its connection, as the error
    SQLAlchemy raises for it (``OperationalError``, ``IntegrityError`` …, ``.orig`` the
    driver's): what callers catch and :mod:`pigeon.store.faults` classifies."""
    return exc.DBAPIError.instance(sql, params, error, conn.dialect.loaded_dbapi.Error,
                                   dialect=conn.dialect)


def _begin_raw(conn: Connection, sql: str) -> None:
    """``sql`` (a BEGIN) straight on the driver's connection, a driver error raised as
    SQLAlchemy's.  Through ``exec_driver_sql`` a BEGIN cost ~12 µs of SQLAlchemy's statement
    machinery for ~1 µs of SQLite's — once every read that runs a statement, and once every
    group (bench/README.md, "The endpoint's own cost").  (SQLAlchemy's cursor events do not
    see it; nothing of Pigeon's listens for a BEGIN.)"""
    try:
        conn.connection.dbapi_connection.execute(sql)
    except conn.dialect.loaded_dbapi.Error as error:
        raise _driver_error(conn, sql, (), error) from error


MMAP_BYTES = 256 * 1024 * 1024

READING = "pigeon.reading"
"""``conn.info`` key: the writer's connection is running a read (Database.read on the attached
loop): its transaction begins with a plain ``BEGIN``, taking no write lock."""

BUSY_SECONDS = 10.0
"""How long the SQLite writer waits for another process's write transaction to end."""


def _lock_held(error: exc.OperationalError) -> bool:
    """Whether SQLite refused for a lock another connection holds (SQLITE_BUSY: "database
    is locked"), not for a fault."""
    return "locked" in str(error.orig)


def _begin_immediate(conn: Connection) -> None:
    """``BEGIN IMMEDIATE``: take the database's write lock now, waiting for another process
    (``pigeon serve --workers N``, the CLI) to finish its transaction — in steps of a fraction
    of a millisecond at first, as long as a group commit holds the lock — or, on a
    :data:`NO_WAIT` connection, raising :class:`WriteLockBusy` at once."""
    deadline = time.monotonic() + BUSY_SECONDS
    pause = 0.0001
    while True:
        try:
            _begin_raw(conn, "BEGIN IMMEDIATE")
            return
        except exc.OperationalError as error:
            if not _lock_held(error):
                raise
            if conn.info.get(NO_WAIT):
                raise WriteLockBusy from None
            if time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.005)


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

    It also tells listeners (:meth:`on_commit`) which tables a transaction of the writer
    wrote, once that transaction has committed — not when SQLAlchemy announces the commit,
    which is before it happens: a reader woken then could look before the rows are visible.
    """

    def __init__(self, engine: Engine) -> None:
        self._counts: dict[str, int] = {}
        self._uncommitted: set[str] = set()
        self._committing: set[str] = set()  # what the commit under way wrote
        self._listeners: list[Callable[[frozenset[str]], None]] = []
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

    @property
    def uncommitted(self) -> set[str]:
        """The tables written since the last commit (the transaction under way)."""
        return self._uncommitted

    def pending(self, tables: tuple[str, ...]) -> bool:
        """Whether a transaction of the writer wrote one of ``tables`` (or raw SQL) and has not
        finished committing: a copy read elsewhere meanwhile, under the version it already
        has, would outlive the write (a cache should not keep it).  Any thread may ask."""
        for written in (self._uncommitted, self._committing):
            if "*" in written or any(table in written for table in tables):
                return True
        return False

    def wrote(self, table: str) -> None:
        """Count a write to ``table`` made past SQLAlchemy (see :class:`Driver`)."""
        self._wrote(table)

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

    def on_commit(self, listener: Callable[[frozenset[str]], None]) -> Callable[[], None]:
        """Call ``listener(tables)`` in the writer's thread after each of its transactions
        commits, with the names of the tables it wrote ("*" for raw SQL); it should only
        schedule work elsewhere.  Returns the function that stops the calls."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def committed(self) -> None:
        """The writer's transaction has committed: tell the listeners what it wrote."""
        tables, self._committing = frozenset(self._committing), set()
        if tables:
            for listener in list(self._listeners):
                try:
                    listener(tables)
                except Exception:
                    log.exception("a commit listener failed")

    def _commit(self, _conn) -> None:
        self._committing = set(self._uncommitted)
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
            self.write_engine = _sqlite_engine(url, writer=True, pool_size=1)
            self.read_engine = _sqlite_engine(url, writer=False, pool_size=8)
        else:
            # A lock wait that long is another node's stuck transaction, not a queue: the unit
            # is undone and run again (_again).
            self.write_engine = create_engine(
                url, pool_size=2, max_overflow=2, pool_pre_ping=True,
                connect_args={"options": f"-c lock_timeout=5000 {_CUSTOM_PLANS}"})
            self.read_engine = create_engine(url, pool_size=8, max_overflow=8, pool_pre_ping=True,
                                             connect_args={"options": _CUSTOM_PLANS})
        self.writes = WriteLog(self.write_engine)
        # Reads see the same log: a cache filled on a read connection (services/sending.py's)
        # is dropped by this process's next write to its tables like one filled by the writer.
        _WRITE_LOGS[self.read_engine] = self.writes
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        # The attached event loop's writer (attach()): its queue, its units to run again, its
        # connection, the scheduled group, and how long it last waited for another process.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._pending: collections.deque[_Unit] = collections.deque()
        self._again: collections.deque[_Unit] = collections.deque()
        self._inline_conn: Connection | None = None
        self._flush_handle: asyncio.Handle | None = None
        self._gathered = 0  # units pending when the scheduled group last looked
        self._gathering = 0  # iterations it has waited for more
        self._busy_pause = 0.0
        self._commits = 0  # the attached loop's group commits, for the checkpointer
        self._checkpointer: tuple[threading.Thread, threading.Event] | None = None
        # Each event loop thread's own SQLite read connection (see read()).
        self._inline = threading.local()
        self._inline_all: list[Connection] = []
        # SQLite: the one thread that polls for other processes' commits, and whom it tells.
        self._watch_lock = threading.Lock()
        self._watchers: list[Callable[[], None]] = []
        self._poller: tuple[threading.Thread, threading.Event] | None = None

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> Database:
        if self._writer is None:
            self._writer = threading.Thread(target=self._write_loop, name="pigeon-writer",
                                            daemon=True)
            self._writer.start()
        return self

    def close(self) -> None:
        self.detach()
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
    #
    # Two writers share the group logic (_run_batch): the writer thread, and — once an event
    # loop is attached (SQLite only) — the loop itself.  On SQLite a write takes microseconds
    # and a commit in WAL mode does not wait for the disk, so handing each unit to a thread
    # and its result back costs more than the writing (two GIL hand-offs, a wake-up of the
    # loop, two futures): on an attached loop the units queued during one iteration of the
    # loop run as one transaction at the start of the next, with no thread in between.

    def attach(self) -> None:
        """From now on run this process's writes on the running event loop — on SQLite;
        PostgreSQL keeps its writer thread (a round trip to the server per statement has no
        place on an event loop).  Units submitted from other threads are handed to the
        loop."""
        if not self.is_sqlite:
            return
        self._loop = asyncio.get_running_loop()
        # write() tells the loop's thread by its id: asyncio.get_running_loop() makes a
        # getpid() system call each time on Python 3.11.
        self._loop_thread = threading.get_ident()
        if self._checkpointer is None and self.write_engine.url.database not in (None, "",
                                                                                 ":memory:"):
            stop = threading.Event()
            thread = threading.Thread(target=self._checkpoint, args=(stop,), daemon=True,
                                      name="pigeon-checkpoint")
            thread.start()
            self._checkpointer = (thread, stop)

    def detach(self) -> None:
        """Back to the writer thread (the loop is stopping); what is queued on the loop runs
        there first."""
        loop, self._loop = self._loop, None
        if loop is None:
            return
        if self._checkpointer is not None:
            thread, stop = self._checkpointer
            self._checkpointer = None
            stop.set()
            thread.join(timeout=30)
        pending = [*self._again, *self._pending]
        self._again.clear()
        self._pending.clear()
        for unit in pending:
            self._queue.put(unit)
        if self._inline_conn is not None:
            self._inline_conn.close()
            self._inline_conn = None

    def submit_write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Future[T]:
        """Queue ``fn(conn, *args, **kwargs)`` for the writer; the future resolves after the
        commit.  Any thread may call it."""
        if self._writer is None:
            raise RuntimeError("Database.start() was not called")
        unit = _Unit(functools.partial(fn, **kwargs) if kwargs else fn, args, Future())
        loop = self._loop
        if loop is None:
            self._queue.put(unit)
        else:
            loop.call_soon_threadsafe(self._enqueue, unit)
        return unit.future

    def write_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return self.submit_write(fn, *args, **kwargs).result()

    async def write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        loop = self._loop
        if loop is not None and threading.get_ident() == self._loop_thread:
            unit = _Unit(functools.partial(fn, **kwargs) if kwargs else fn, args,
                         loop.create_future())
            self._enqueue(unit)
            return await unit.future
        return await asyncio.wrap_future(self.submit_write(fn, *args, **kwargs))

    def _write_loop(self) -> None:
        conn: Connection | None = None
        # Units to run again, first, in the next transaction: those that met a lock they could
        # not wait for (Busy) or lost a deadlock (see _again()).
        again: collections.deque[_Unit] = collections.deque()
        stop = False
        while True:
            batch: list[_Unit] = []
            while again and len(batch) < MAX_GROUP:
                batch.append(again.popleft())
            if not batch:
                if stop:
                    break
                item = self._queue.get()
                if item is _STOP:
                    break
                batch.append(item)
            while not stop and len(batch) < MAX_GROUP:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is _STOP:
                    stop = True
                    break
                batch.append(nxt)
            batch = [unit for unit in batch if unit.take()]
            if not batch:
                continue
            if conn is None:
                conn = self._connect(batch)
                if conn is None:
                    continue
            try:
                again.extendleft(reversed(self._run_batch(conn, batch)))
            except _ConnectionLost:
                conn = None
        if conn is not None:
            conn.close()

    def _connect(self, batch: list[_Unit]) -> Connection | None:
        """The writer's new connection; None when the database cannot be reached — then
        ``batch`` fails with the error (a storage fault: the callers answer 503) and the next
        batch tries again, instead of the writer dying with its callers waiting forever."""
        try:
            return self.write_engine.connect()
        except Exception as exc:
            if not faults.incidents.report(exc):
                log.exception("the writer cannot connect to the database")
            for unit in batch:
                _settle(unit.future, False, exc)
            return None

    def _enqueue(self, unit: _Unit) -> None:
        """On the attached loop: queue ``unit`` for the group that starts with the loop's next
        iteration."""
        if self._loop is None:  # detached meanwhile: the writer thread takes it
            self._queue.put(unit)
            return
        self._pending.append(unit)
        if self._flush_handle is None:
            self._gathered = len(self._pending)
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        """On the attached loop: run what is queued as one transaction (or a few: at most
        MAX_GROUP units each), unless another process holds the write lock — then try again
        a moment later, without blocking the loop.  While units still arrive, wait an
        iteration more for them (GATHER_ITERATIONS)."""
        self._flush_handle = None
        loop = self._loop
        if loop is None:
            return
        pending = len(self._pending)
        if (pending > self._gathered and self._gathering < GATHER_ITERATIONS
                and pending < MAX_GROUP and not self._again):
            self._gathered = pending
            self._gathering += 1
            self._flush_handle = loop.call_soon(self._flush)
            return
        self._gathering = 0
        batch: list[_Unit] = []
        while (self._again or self._pending) and len(batch) < MAX_GROUP:
            unit = (self._again or self._pending).popleft()
            if unit.take():
                batch.append(unit)
        if batch:
            if self._inline_conn is None:
                self._inline_conn = self._connect(batch)
                if self._inline_conn is None:  # what is queued behind fails or waits too
                    if self._again or self._pending:
                        self._flush_handle = loop.call_later(0.1, self._flush)
                    return
                self._inline_conn.info[NO_WAIT] = True
                self._inline_conn.connection.dbapi_connection.execute(  # no transaction
                    f"PRAGMA wal_autocheckpoint={CHECKPOINT_BACKSTOP_PAGES}")
            try:
                self._again.extend(self._run_batch(self._inline_conn, batch))
                self._commits += 1
            except _ConnectionLost:
                self._inline_conn = None
            except WriteLockBusy:  # another process is writing: nothing ran
                self._again.extendleft(reversed(batch))
                self._busy_pause = min(self._busy_pause * 2, 0.005) if self._busy_pause else 1e-4
                self._flush_handle = loop.call_later(self._busy_pause, self._flush)
                return
            self._busy_pause = 0.0
        if self._again or self._pending:
            self._gathered = len(self._pending)
            self._flush_handle = loop.call_soon(self._flush)

    def _run_batch(self, conn: Connection, batch: list[_Unit]) -> list[_Unit]:
        """Run ``batch`` as one transaction and settle the units' futures; the units to run
        again first in the next transaction.  Raises :class:`_ConnectionLost` when the
        connection failed (it is closed), :class:`WriteLockBusy` when it could not even
        begin (the attached loop's writer does not wait for the lock)."""
        again: list[_Unit] = []
        hooks: list[Callable[[], None]] = []
        try:
            outcomes = self._run_group(conn, batch, hooks)
        except WriteLockBusy:
            raise
        except Conflict as conflict:  # rolled back whole: every unit again, under the locks
            log.debug("group of %d unit(s) undone: %s", len(batch), conflict)
            metrics.writer_conflict()
            for unit in batch:
                unit.cautious = True
            again.extend(batch)
        except _UnitFailed as failed:  # a lone unit raised; its transaction is rolled back
            if _again(batch[0], failed.exc):
                again.append(batch[0])
            else:
                _settle(batch[0].future, False, failed.exc)
        except Exception as exc:  # the commit itself failed: nothing in the group happened
            if not faults.incidents.report(exc):  # disk full &c.: one line an incident
                log.exception("group commit of %d unit(s) failed", len(batch))
            try:
                conn.close()
            except Exception:
                pass
            for unit in batch:
                _settle(unit.future, False, exc)
            raise _ConnectionLost from exc
        else:
            metrics.writer_group(len(batch), self._queue.qsize() + len(self._pending))
            self.writes.committed()
            faults.incidents.recovered()
            for hook in hooks:
                try:
                    hook()
                except Exception:
                    log.exception("an after-commit call failed")
            for unit, (ok, value) in zip(batch, outcomes, strict=True):
                if not ok and _again(unit, value):
                    again.append(unit)
                else:
                    _settle(unit.future, ok, value)
        return again

    def _run_group(self, conn: Connection, batch: list[_Unit],
                   hooks: list[Callable[[], None]]) -> list[tuple[bool, Any]]:
        """Run ``batch`` in one transaction; the :func:`after_commit` calls of the units
        that were not undone are added to ``hooks``."""
        outcomes: list[tuple[bool, Any]] = []
        info = conn.info
        info[GROUP_END] = ends = _GroupEnd()
        try:
            with conn.begin():
                self._run_units(conn, batch, hooks, outcomes, ends)
                info[FIRST_UNIT] = True
                ends.settle(conn)
                if not self.is_sqlite:
                    self._announce(conn)
                committing = time.perf_counter()
        finally:
            info[GROUP_END] = None
            info[CAUTIOUS] = False
        metrics.writer_commit(time.perf_counter() - committing)
        return outcomes

    def _run_units(self, conn: Connection, batch: list[_Unit], hooks: list[Callable[[], None]],
                   outcomes: list[tuple[bool, Any]], ends: _GroupEnd) -> None:
        """:meth:`_run_group`'s units, each (when there are several) in a savepoint of its
        own; what each returned or raised is appended to ``outcomes``."""
        info = conn.info
        if len(batch) == 1:
            unit = batch[0]
            info[FIRST_UNIT] = True
            info[CAUTIOUS] = unit.cautious
            info[AFTER_COMMIT] = mine = []
            ends.unit = []
            try:
                outcomes.append((True, unit.run(conn)))
            except Exception as exc:
                # Alone in its transaction: roll the whole thing back.
                raise _UnitFailed(exc) from exc
            finally:
                info[AFTER_COMMIT] = None
            hooks += mine
            ends.keep()
        else:
            # Each unit in a savepoint of its own, written as plain SQL straight on the
            # driver's connection: SQLAlchemy's begin_nested() costs ~70 µs a unit where
            # these two statements cost a few (bench/README.md), and a unit's own nested
            # transactions keep their names.  Only the first unit may wait for a lock
            # (store/locks.py).  Units that may be merged (mergeable()) run as one, in one
            # savepoint; a merge that declines is undone and they run one by one.
            # The last unit's savepoint is not released: the commit ends it.
            raw = conn.connection.dbapi_connection.execute
            first = True
            open_savepoint = False  # a unit's, to release before the next unit's
            at = 0
            alone = 0  # units up to here run one by one: their merge declined
            while at < len(batch):
                unit = batch[at]
                run = _mergeable(batch, at) if at >= alone else 1
                info[FIRST_UNIT] = first
                first = False
                info[CAUTIOUS] = unit.cautious
                info[AFTER_COMMIT] = mine = []
                ends.unit = []
                if open_savepoint and not self.is_sqlite:
                    raw(_RELEASE_AND_SAVEPOINT)
                else:
                    if open_savepoint:
                        raw(_RELEASE)
                    raw(_SAVEPOINT)
                open_savepoint = True
                try:
                    if run > 1:
                        values = unit.context.run(unit.fn.merge, conn,
                                                  [u.args for u in batch[at:at + run]])
                    else:
                        value = unit.run(conn)
                except Exception as exc:
                    raw(_ROLLBACK_TO)
                    raw(_RELEASE)
                    open_savepoint = False
                    self.writes.rolled_back()
                    if run > 1:  # each of them alone, as if never merged
                        log.debug("%d units not merged: %r", run, exc)
                        alone = at + run
                        first = info[FIRST_UNIT]
                        continue
                    outcomes.append((False, exc))
                else:
                    if run > 1:
                        metrics.writer_merged(run)
                        outcomes += [(False, value.error) if isinstance(value, Raised)
                                     else (True, value) for value in values]
                    else:
                        outcomes.append((True, value))
                    if mine:
                        hooks += mine
                    ends.keep()
                at += run
            info[AFTER_COMMIT] = None

    def _announce(self, conn: Connection) -> None:
        """Tell the other processes listening (:meth:`watch_others`) which of the
        :data:`ANNOUNCED` tables this transaction wrote: PostgreSQL delivers a NOTIFY at
        commit, and not at all if the transaction rolls back."""
        written = self.writes.uncommitted
        if "*" in written:
            written = ANNOUNCED
        for table in ANNOUNCED:
            if table in written:
                conn.exec_driver_sql(f"NOTIFY {_CHANNEL}{table}")

    # -- other processes' writes ------------------------------------------------------------

    def watch_others(self, table: str, notify: Callable[[], None]) -> Callable[[], None]:
        """Call ``notify()`` (from a thread of its own) soon after a transaction of another
        process that wrote ``table`` (one of :data:`ANNOUNCED`) commits — so that a worker
        here (the dispatcher, the report pusher) starts at once on what an API process
        accepted, instead of at its next poll.  Returns the function that stops watching.

        PostgreSQL: ``LISTEN`` for the writers' ``NOTIFY`` (:meth:`_announce`).  SQLite has no
        such channel; ``PRAGMA data_version``, which moves when another connection commits,
        is read every :data:`WATCH_SECONDS` (a few microseconds each): any table's commit,
        this process's writer's included, wakes the watcher — a spare look, never a missed
        one.
        """
        if table not in ANNOUNCED:
            raise ValueError(f"{table} is not announced (ANNOUNCED: {ANNOUNCED})")
        if self.is_sqlite:
            return self._watch_data_version(notify)
        stop = threading.Event()
        thread = threading.Thread(target=self._listen, args=(table, notify, stop), daemon=True,
                                  name=f"pigeon-watch-{table}")
        thread.start()

        def stopping() -> None:
            stop.set()
            thread.join(timeout=5)

        return stopping

    def _watch_data_version(self, notify: Callable[[], None]) -> Callable[[], None]:
        """SQLite: every watcher of the process shares one polling thread (a commit of any
        table wakes them all alike); the last to stop watching stops it."""
        with self._watch_lock:
            self._watchers.append(notify)
            if self._poller is None:
                stop = threading.Event()
                thread = threading.Thread(target=self._poll_data_version, args=(stop,),
                                          daemon=True, name="pigeon-watch")
                thread.start()
                self._poller = (thread, stop)

        def stopping() -> None:
            with self._watch_lock:
                if notify in self._watchers:
                    self._watchers.remove(notify)
                poller = None
                if not self._watchers:
                    poller, self._poller = self._poller, None
            if poller is not None:
                poller[1].set()
                poller[0].join(timeout=5)

        return stopping

    def _poll_data_version(self, stop: threading.Event) -> None:
        import sqlite3

        path = self.write_engine.url.database
        conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        try:
            seen = conn.execute("PRAGMA data_version").fetchone()[0]
            while not stop.wait(WATCH_SECONDS):
                now = conn.execute("PRAGMA data_version").fetchone()[0]
                if now != seen:
                    seen = now
                    for notify in list(self._watchers):
                        notify()
        except Exception:
            log.exception("watching the database for other processes' commits failed")
        finally:
            conn.close()

    def _checkpoint(self, stop: threading.Event) -> None:
        """The attached loop's checkpointer (see :data:`CHECKPOINT_SECONDS`): a ``PASSIVE``
        checkpoint, which never waits for a writer or a reader and lets the writer go on
        appending meanwhile, from a connection of its own.  sqlite3 lets go of the GIL while
        SQLite copies and syncs, so the loop keeps running; once a checkpoint has copied the
        whole WAL, the writer's next transaction starts it over from the beginning."""
        import sqlite3

        conn = sqlite3.connect(self.write_engine.url.database, isolation_level=None,
                               check_same_thread=False)
        try:
            seen = self._commits
            while not stop.wait(CHECKPOINT_SECONDS):
                if self._commits == seen:
                    continue
                seen = self._commits
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                except sqlite3.Error as error:  # a full disk &c.: the backstop still runs
                    if not faults.incidents.report(error):
                        log.warning("WAL checkpoint failed: %s", error)
        finally:
            conn.close()

    def _listen(self, table: str, notify: Callable[[], None], stop: threading.Event) -> None:
        import psycopg

        url = self.write_engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False)
        while not stop.is_set():
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    conn.execute(f"LISTEN {_CHANNEL}{table}")
                    notify()  # whatever was announced while nobody listened
                    while not stop.is_set():
                        for _ in conn.notifies(timeout=1.0, stop_after=1):
                            notify()
            except Exception:
                if stop.is_set():
                    return
                log.warning("listening for other processes' commits failed; reconnecting")
                stop.wait(1.0)

    # -- reads -----------------------------------------------------------------------------

    def read_sync(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        with self.read_engine.connect() as conn, conn.begin():
            return fn(conn, *args, **kwargs)

    async def read(self, fn: Callable[..., T], *args: Any, offload: bool = False,
                   cached: bool = False, **kwargs: Any) -> T:
        """Run ``fn(conn, *args)`` in a read transaction.

        On SQLite a read takes microseconds, far less than handing it to a worker thread and
        back (the hop and the GIL hand-offs cost ~3x the read itself; see bench/README.md),
        so it runs right here on the event loop, on a connection kept for that.  Reads that
        may scan many rows pass ``offload=True``; PostgreSQL reads always go to a thread —
        except, with ``cached=True``, a read that its caches answer: ``fn`` is first run here
        with a connection that has no statement to give (:class:`CachesOnly`), and only when
        it asks for one is it run again, in a thread.  ``fn`` must then do nothing before its
        first statement that it cannot do twice.
        """
        if self.is_sqlite and not offload:
            return self._read_inline(fn, *args, **kwargs)
        if cached:
            try:
                return fn(CachesOnly(self.read_engine), *args, **kwargs)
            except CachesOnly.NeedsStatement:
                pass
        return await anyio.to_thread.run_sync(functools.partial(self.read_sync, fn, *args,
                                                                **kwargs))

    def _read_inline(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        writer = self._writer_for_reading()
        if writer is not None:
            writer.info[READING] = True
            try:
                return self._read_on(writer, fn, *args, **kwargs)
            except exc.OperationalError as error:
                # The writer's connection does not wait for a lock (NO_WAIT); a read meets
                # one only in SQLite's rare cases (another process recovering the WAL, or
                # holding the database exclusively): the reading connection waits for it.
                if not _lock_held(error):
                    raise
            finally:
                writer.info[READING] = False
        conn = getattr(self._inline, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self._inline.conn = self.read_engine.connect()
            self._inline_all.append(conn)
        return self._read_on(conn, fn, *args, **kwargs)

    def _writer_for_reading(self) -> Connection | None:
        """On the attached loop's thread, between its groups: the loop writer's connection,
        for a read.  SQLite drops a connection's whole page cache when another connection
        has committed since its last transaction — it cannot tell which pages changed — and
        in this process the other connection is the writer, after every group: a
        QuerySendDetails' two statements on a million messages took 56-59 µs on a reading
        connection after each commit, 13-21 µs on the writer's own (bench/README.md,
        "Reads on the writer's connection").  Its own commits keep its cache."""
        conn = self._inline_conn
        if (conn is None or self._loop is None or threading.get_ident() != self._loop_thread
                or conn.closed or conn.invalidated or conn.in_transaction()):
            return None
        return conn

    @staticmethod
    def _read_on(conn: Connection, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        # The transaction begins with the first statement (SQLAlchemy's autobegin, then the
        # "begin" event's BEGIN): a read answered from a cache — the send path's checks,
        # sending.prepare — costs no BEGIN and COMMIT (~13 µs).  Every statement of ``fn``
        # still reads one snapshot.
        try:
            result = fn(conn, *args, **kwargs)
        except BaseException:
            if conn.in_transaction():
                conn.rollback()
            raise
        if conn.in_transaction():
            conn.commit()
        return result


class CachesOnly:
    """What a read answered from caches gets for a connection (:meth:`Database.read`,
    ``cached=True``): the engine and dialect a cache or :class:`Driver` asks for, and no
    statement — anything else raises :class:`CachesOnly.NeedsStatement`, and the read is run
    again on a real connection."""

    class NeedsStatement(BaseException):
        """The read needs the database.  A BaseException: a read's ``except Exception`` must
        not take it for its own error."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = engine.dialect

    def __getattr__(self, name: str) -> Any:
        raise CachesOnly.NeedsStatement(name)


@contextlib.contextmanager
def savepoint(conn: Connection, name: str, *, begun: bool = False, release: bool = True):
    """A savepoint of ``name`` inside the transaction (written straight on the driver's
    connection, as the writer's own): an exception rolls the block's writes back, and only
    them, then goes on.  ``begun``: the caller has set the savepoint already (sent with its
    own statements, :meth:`Driver.run_all`).  ``release=False`` leaves it set after a block
    that succeeded, for the transaction's end or an enclosing savepoint's release to end —
    a round trip saved on PostgreSQL."""
    raw = conn.connection.dbapi_connection.execute
    if not begun:
        raw(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        raw(f"ROLLBACK TO SAVEPOINT {name}")
        raw(f"RELEASE SAVEPOINT {name}")
        log_ = WriteLog.of(conn)
        if log_ is not None:
            log_.rolled_back()
        raise
    if release:
        raw(f"RELEASE SAVEPOINT {name}")


class _Unit:
    """A unit of work queued for the writer, and how often it was run and undone."""

    __slots__ = ("fn", "args", "future", "tries", "taken", "context", "cautious")

    def __init__(self, fn: Callable[..., Any], args: tuple, future) -> None:
        self.fn = fn
        self.args = args
        self.future = future  # a concurrent or an asyncio Future
        self.tries = 0
        self.taken = False  # picked up by a writer once (its future marked running)
        self.cautious = False  # undone by a Conflict: decides under the locks (CAUTIOUS)
        # The caller's context variables (the request id its log lines carry, who an audit
        # entry names): the unit runs in them, on whichever thread writes.  A copy costs a
        # fraction of a microsecond (contexts are immutable maps).
        self.context = contextvars.copy_context()

    def run(self, conn: Connection) -> Any:
        return self.context.run(self.fn, conn, *self.args)

    def take(self) -> bool:
        """Whether the caller still wants the result (the first time a writer picks the unit
        up: a cancelled one is skipped); always True afterwards."""
        if not self.taken:
            self.taken = True
            return _take(self.future)
        return True


class Busy(Exception):
    """Raised by a unit of work that needs a lock another transaction holds, where waiting
    could deadlock (:mod:`pigeon.store.locks`): the writer undoes the unit and runs it again
    first in its next transaction, where it may wait."""


class Conflict(Exception):
    """Raised by a group's end (:func:`defer`) when what its units decided no longer holds
    there — another node spent the money meanwhile: the writer rolls the whole transaction
    back and runs every unit of it again, first in its next transaction, cautiously
    (:data:`CAUTIOUS`)."""


CAUTIOUS = "pigeon.cautious"
"""``conn.info`` key: True while the running unit was undone by a :class:`Conflict` — it
decides under the locks instead of leaving its changes for the group's end."""

GROUP_END = "pigeon.group_end"
"""``conn.info`` key: the :class:`_GroupEnd` of the writer's running transaction."""


class _GroupEnd:
    """What the units of one transaction left for its end (:func:`defer`): the items of the
    units that were not undone, by settle function and key, and the running unit's own."""

    __slots__ = ("kept", "unit")

    def __init__(self) -> None:
        self.kept: dict[Callable[[Connection, list], None], dict[Any, list]] = {}
        self.unit: list[tuple[Callable[[Connection, list], None], Any, Any]] = []

    def keep(self) -> None:
        """The running unit succeeded: its items are the group's."""
        for settle, key, item in self.unit:
            self.kept.setdefault(settle, {}).setdefault(key, []).append(item)
        self.unit = []

    def settle(self, conn: Connection) -> None:
        """Call each settle function once with its items; a lost deadlock or lock wait there
        is a :class:`Conflict` (the group runs again)."""
        for settle, by_key in self.kept.items():
            try:
                settle(conn, [item for items in by_key.values() for item in items])
            except exc.DBAPIError as error:
                if getattr(error.orig, "sqlstate", None) in _TRANSIENT:
                    raise Conflict(f"the group's end met {error.orig.sqlstate}") from error
                raise


def defer(conn: Connection, settle: Callable[[Connection, list], None], key: Any,
          item: Any) -> None:
    """Leave ``item`` for ``settle(conn, items)``, called once at the end of the writer's
    transaction — after its last unit, before the commit — with the items of every unit that
    was not undone.  A change to a row every unit touches (a tenant's balance) made there holds
    the row's lock for the commit only, not for the whole group; ``settle`` raises
    :class:`Conflict` when the change no longer holds.  ``key`` files the item for
    :func:`deferred`.  Only where :func:`deferring` says so."""
    conn.info[GROUP_END].unit.append((settle, key, item))


def deferring(conn: Connection) -> bool:
    """Whether the running unit may leave changes for its group's end (:func:`defer`): it
    runs in the writer, and was not undone by a :class:`Conflict` there."""
    return conn.info.get(GROUP_END) is not None and not conn.info.get(CAUTIOUS, False)


def deferred(conn: Connection, settle: Callable[[Connection, list], None], key: Any) -> list:
    """The items the earlier units of the running transaction left for ``settle`` under ``key``
    (those not undone): what a unit must count as already spent."""
    ends = conn.info.get(GROUP_END)
    if ends is None:
        return []
    return ends.kept.get(settle, {}).get(key, [])


AFTER_COMMIT = "pigeon.after_commit"
"""``conn.info`` key: the list of calls the running unit asked for (:func:`after_commit`)."""


def after_commit(conn: Connection, call: Callable[[], None]) -> None:
    """Call ``call()`` once the transaction ``conn`` runs has committed — on the writer, after
    its group commit, and only if the unit of work that asked was not undone (a unit run
    again asks again).  What counts what was committed (metrics) uses it: a count made inside
    the unit would count a unit undone or run twice.  On a connection outside the writer (a
    tool's own transaction) ``call`` runs at once."""
    calls = conn.info.get(AFTER_COMMIT)
    if calls is None:
        call()
    else:
        calls.append(call)


FIRST_UNIT = "pigeon.first_unit"
"""``conn.info`` key: True while the unit running is the first of its transaction (or runs
outside the writer), which holds no lock yet and so may wait for one."""

MAX_TRIES = 20
"""How often a unit is run again after a Busy lock or a lost deadlock before its error
stands."""

# PostgreSQL's deadlock_detected, lock_not_available (lock_timeout) and serialization_failure:
# the unit was undone whole and may simply run again.
_TRANSIENT = frozenset({"40P01", "55P03", "40001"})


def _again(unit: _Unit, error: BaseException) -> bool:
    """Whether ``unit``, undone by ``error``, should run again (and count the try)."""
    if not isinstance(error, Busy):
        code = getattr(getattr(error, "orig", None), "sqlstate", None)
        if code not in _TRANSIENT:
            return False
    unit.tries += 1
    return unit.tries < MAX_TRIES


class WriteLockBusy(Exception):
    """SQLite's write lock is held by another process, and this writer does not wait for it
    (the attached loop's: it tries again a moment later instead of blocking the loop)."""


class _ConnectionLost(Exception):
    """The writer's connection failed (and is closed): the next group opens a new one."""


NO_WAIT = "pigeon.no_wait"
"""``conn.info`` key: this connection's ``BEGIN IMMEDIATE`` tries once and raises
:class:`WriteLockBusy` instead of waiting for another process's transaction."""


def _take(future) -> bool:
    """Whether the caller still wants the unit's result: a concurrent future is marked
    running (a cancelled one is skipped), an asyncio future must not be cancelled yet."""
    if isinstance(future, Future):
        return future.set_running_or_notify_cancel()
    return not future.cancelled()


def _settle(future, ok: bool, value: Any) -> None:
    if future.done():  # an asyncio future whose waiter was cancelled meanwhile
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class _UnitFailed(Exception):
    """Carries a lone unit's own exception out of its rolled-back transaction."""

    def __init__(self, exc: BaseException) -> None:
        super().__init__(str(exc))
        self.exc = exc


def _mergeable(batch: list[_Unit], at: int) -> int:
    """How many units from ``batch[at]`` on run as one (:func:`mergeable`): those of one
    function whose ``merge_key`` gives the same key, none of them undone by a Conflict."""
    unit = batch[at]
    key_of = getattr(unit.fn, "merge_key", None)
    if key_of is None or unit.cautious:
        return 1
    key = key_of(*unit.args)
    if key is None:
        return 1
    end = at + 1
    while end < len(batch):
        other = batch[end]
        if other.fn is not unit.fn or other.cautious or key_of(*other.args) != key:
            break
        end += 1
    return end - at


class Declined(Exception):
    """Raised by a merge (:func:`mergeable`) that will not decide its units as one: it is
    undone without a word, and they run one by one."""


class Raised:
    """What a merge (:func:`mergeable`) gives for a unit that fails with ``error`` — having
    written nothing for it: its caller gets the error, as if the unit had raised it alone."""

    __slots__ = ("error",)

    def __init__(self, error: Exception) -> None:
        self.error = error


def mergeable(merge_key: Callable[..., Any], merge: Callable[[Connection, list[tuple]], list]):
    """Let the writer run units of the decorated function ``fn(conn, *args)`` that follow
    one another in its group as one call, ``merge(conn, [args, …])``, returning what each
    would have returned, in order (:class:`Raised` for one that fails) — where
    ``merge_key(*args)`` is the same and not None for them all.  The call runs in the first
    unit's context variables (its RequestId on a log line).  A merge that raises is undone,
    and its units run one by one as if it had never been tried: it may decline anything it
    does not decide exactly as they would (a replayed nonce, a lock it cannot take).  What it
    leaves for the group's end (:func:`defer`) and after the commit (:func:`after_commit`) is
    kept or undone with it as a whole."""
    def mark(fn: Callable[..., T]) -> Callable[..., T]:
        fn.merge_key = merge_key  # type: ignore[attr-defined]
        fn.merge = merge  # type: ignore[attr-defined]
        return fn
    return mark


# -- hot statements on the driver -------------------------------------------------------------

class Driver:
    """Hot multi-row statements run on the DB-API cursor of a SQLAlchemy connection.

    SQLAlchemy processes every parameter of every row of an ``executemany`` (type
    processors, the ``UTCDateTime`` conversion, dict building): for the status changes and
    inserts that every message goes through several times, that is most of their cost
    (bench/README.md).  Here the caller writes the SQL once, with ``?`` placeholders (``%s``
    for psycopg is substituted), and passes values already as the column types store them —
    :meth:`time` for ``UTCDateTime`` (naive UTC; on SQLite the very text SQLAlchemy's
    ``DATETIME`` writes), :meth:`json` for ``JSON`` — converting a value shared by all the rows
    (the batch's ``now``) once.  What SQLAlchemy's events would have noticed is done here: the
    write is counted in the engine's :class:`WriteLog` under ``table``.  The statement runs in
    the connection's transaction (begun if it was not) and driver errors are raised as
    SQLAlchemy's.  Only for statements whose SQL is plain on both databases.
    """

    def __init__(self, dialect_name: str) -> None:
        self.sqlite = dialect_name == "sqlite"
        # A list of ids as one parameter (:meth:`ids`): ``id`` + this.
        self.in_ids = "IN (SELECT value FROM json_each(?))" if self.sqlite else "= ANY(?)"
        self._last_time: tuple[datetime | None, Any] = (None, None)
        self._times: dict[datetime, Any] = {}  # time(): recent conversions, by value
        self._last_read: tuple[Any, datetime | None] = (None, None)
        self._sql: dict[str, str] = {}

    @staticmethod
    def of(conn: Connection) -> Driver:
        name = conn.dialect.name
        driver = _DRIVERS.get(name)
        if driver is None:
            driver = _DRIVERS[name] = Driver(name)
        return driver

    # -- values as stored ---------------------------------------------------------------------

    def time(self, value: datetime | None) -> Any:
        """An aware datetime as ``UTCDateTime`` stores it: naive UTC (SQLite: its text)."""
        if value is None:
            return None
        # A call converts its one ``now`` several times (its rows, its counts, its nonce), a
        # batch's rows share their times: the last conversion is kept, as one tuple (any
        # thread may read it while another replaces it), for that very object.
        last = self._last_time
        if last[0] is value:
            return last[1]
        # Other calls' times recur too — the day's and the month's starts, the windows' — and
        # one call alternates between its own few: those are found by value.
        stored = self._times.get(value)
        if stored is None:
            if value.tzinfo is None:
                raise ValueError("naive datetime given to the database; pass an aware UTC time")
            naive = value.astimezone(UTC).replace(tzinfo=None)
            stored = naive.isoformat(" ", "microseconds") if self.sqlite else naive
            if len(self._times) >= 256:
                self._times.clear()
            self._times[value] = stored
        self._last_time = (value, stored)
        return stored

    def read_time(self, value: Any) -> datetime | None:
        """A stored ``UTCDateTime`` as read from the driver, aware UTC again."""
        if value is None:
            return None
        # The rows of a batch share their times (a SendBatchSms call's messages were all
        # accepted at one ``now``): the last conversion is kept, as time() keeps its own.
        last = self._last_read
        if last[0] == value:
            return last[1]
        read = (datetime.fromisoformat(value) if isinstance(value, str) else value
                ).replace(tzinfo=UTC)
        self._last_read = (value, read)
        return read

    @staticmethod
    def json(value: Any) -> str:
        """A value for a ``JSON`` column as SQLAlchemy writes it (``None`` too: JSON null)."""
        return json.dumps(value)

    def ids(self, ids: Iterable[int]) -> Any:
        """A list of ids as the one parameter of :attr:`in_ids`."""
        return json.dumps(list(ids)) if self.sqlite else list(ids)

    def sql(self, text: str) -> str:
        """``text`` with the driver's placeholders."""
        found = self._sql.get(text)
        if found is None:
            if "%" in text:
                raise ValueError("driver SQL must not contain '%'")
            found = self._sql[text] = text if self.sqlite else text.replace("?", "%s")
        return found

    # -- running ------------------------------------------------------------------------------

    def run_many(self, conn: Connection, table: str, text: str,
                 rows: Sequence[Sequence]) -> None:
        """``executemany`` of a write to ``table``."""
        if rows:
            self._run(conn, table, text, rows, many=True)

    def run(self, conn: Connection, table: str | None, text: str,
            params: Sequence = ()) -> list[tuple]:
        """One statement (a write to ``table``, or a read: None); the rows it returned."""
        return self._run(conn, table, text, params, many=False)

    def run_all(self, conn: Connection,
                statements: Sequence[tuple[str | None, str, Sequence]]) -> list[list[tuple]]:
        """Several statements ``(table, text, params)`` as :meth:`run`, in order; the rows
        each returned.  On PostgreSQL they go in one round trip (psycopg's pipeline mode) —
        what a unit of work pays most for there is waiting for the server, statement after
        statement (bench/README.md, "scaling").  The server still runs them one after the
        other; an error in one fails the call, and those after it do not run."""
        if self.sqlite:
            return [self._run(conn, table, text, params, many=False)
                    for table, text, params in statements]
        if not conn.in_transaction():
            conn.begin()
        raw = conn.connection.dbapi_connection
        cursors = []
        try:
            with raw.pipeline():
                for _table, text, params in statements:
                    cursor = raw.cursor()
                    cursors.append(cursor)
                    cursor.execute(self.sql(text), params)
            results = [cursor.fetchall() if cursor.description is not None else []
                       for cursor in cursors]
        except conn.dialect.loaded_dbapi.Error as error:
            raise _driver_error(conn, "; ".join(text for _, text, _ in statements), None,
                                error) from error
        finally:
            for cursor in cursors:
                cursor.close()
        log_ = WriteLog.of(conn)
        if log_ is not None:
            for table, _text, _params in statements:
                if table is not None:
                    log_.wrote(table)
        return results

    def _run(self, conn: Connection, table: str | None, text: str, params, *, many: bool):
        sql = self.sql(text)
        if not conn.in_transaction():
            conn.begin()  # what SQLAlchemy's autobegin would do at the first execute
        cursor = conn.connection.cursor()
        try:
            if many:
                cursor.executemany(sql, params)
                rows = []
            else:
                cursor.execute(sql, params)
                rows = cursor.fetchall() if cursor.description is not None else []
        except conn.dialect.loaded_dbapi.Error as error:
            raise _driver_error(conn, sql, params, error) from error
        finally:
            cursor.close()
        if table is not None:
            log_ = WriteLog.of(conn)
            if log_ is not None:
                log_.wrote(table)
        return rows


_DRIVERS: dict[str, Driver] = {}


def _kind(table: Table, name: str) -> str | None:
    """How the driver converts column ``name``'s values, which SQLAlchemy's type would
    convert: ``"time"`` (``UTCDateTime``), ``"json"``, ``"bool"``, or None (as they are)."""
    from pigeon.store.tables import UTCDateTime

    kind = table.c[name].type
    return ("time" if isinstance(kind, UTCDateTime) else "json" if isinstance(kind, JSON)
            else "bool" if isinstance(kind, Boolean) else None)


class Rows:
    """Rows of ``table`` read on the driver (:class:`Driver`) as dicts, each value as the
    column's SQLAlchemy type would return it: ``UTCDateTime`` aware UTC, ``Boolean`` a bool,
    ``JSON`` decoded.  The columns are the table's (or those given), in its order, so a
    reader never lists them again.  :attr:`select` is ``SELECT <columns> FROM <table>``, for
    the caller to add its ``WHERE`` (``?`` placeholders) and order."""

    def __init__(self, table: Table, columns: Sequence[str] | None = None) -> None:
        self.names = tuple(columns) if columns else tuple(c.name for c in table.columns)
        self.select = f"SELECT {', '.join(self.names)} FROM {table.name}"
        self._kinds = [(name, kind) for name in self.names
                       if (kind := _kind(table, name)) is not None]

    def read(self, conn: Connection, text: str, params: Sequence = (), *,
             wrote: str | None = None) -> list[dict]:
        """Run ``text`` (a :attr:`select` with its conditions, or a write to table ``wrote``
        that returns these columns) and return its rows."""
        driver = Driver.of(conn)
        found = []
        for values in driver.run(conn, wrote, text, params):
            row = dict(zip(self.names, values, strict=True))
            for name, kind in self._kinds:
                value = row[name]
                if value is None:
                    continue
                if kind == "time":
                    row[name] = driver.read_time(value)
                elif kind == "bool":
                    row[name] = bool(value)
                elif driver.sqlite:  # JSON: SQLite's text (psycopg decodes it itself)
                    row[name] = json.loads(value)
            found.append(row)
        return found


class BulkInsert:
    """A multi-row INSERT of dicts into ``table`` on the driver (:class:`Driver`).

    The columns are the ``columns`` given plus every column with a constant Python default
    (as SQLAlchemy's ``insert()`` would fill them); values are converted by the column's type
    (``UTCDateTime``, ``JSON``; a value repeated across rows — the batch's ``now`` — is
    converted once).  :meth:`returning_ids` gives the new rows' ids in the rows' order.
    """

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self.table = table
        given = list(columns)
        self.defaults = {c.name: c.default.arg for c in table.columns
                         if c.name not in given and c.default is not None
                         and c.default.is_scalar}
        self.columns = given + list(self.defaults)
        # A bool is stored as given (sqlite3 and psycopg both take it).
        self.kinds = [None if (kind := _kind(table, name)) == "bool" else kind
                      for name in self.columns]
        picked = operator.itemgetter(*self.columns)
        self._pick = picked if len(self.columns) > 1 else lambda row: (picked(row),)
        names = ", ".join(self.columns)
        self.values = "(" + ", ".join("?" for _ in self.columns) + ")"
        self.text = f"INSERT INTO {table.name} ({names}) VALUES {self.values}"
        self._positions = {name: at for at, name in enumerate(self.columns)}
        self._multi: dict[int, str] = {}

    def tuples(self, driver: Driver, rows: Sequence[dict]) -> list[tuple]:
        """The rows as the statements' parameters: the columns in order, values as stored."""
        converting = [(i, driver.time if kind == "time" else driver.json)
                      for i, kind in enumerate(self.kinds) if kind is not None]
        pick = self._pick
        defaults = self.defaults
        out = []
        for row in rows:
            values = pick({**defaults, **row} if defaults else row)
            if converting:
                values = list(values)
                for i, convert in converting:
                    values[i] = convert(values[i])
                values = tuple(values)
            out.append(values)
        return out

    def _rows_text(self, count: int) -> str:
        """The INSERT of ``count`` rows in one statement."""
        text = self._multi.get(count)
        if text is None:
            text = self._multi[count] = self.text + (", " + self.values) * (count - 1)
        return text

    def run(self, conn: Connection, rows: Sequence[dict]) -> None:
        if rows:
            driver = Driver.of(conn)
            driver.run_many(conn, self.table.name, self.text, self.tuples(driver, rows))

    def statement(self, driver: Driver, rows: Sequence[dict]) -> tuple[str, str, list]:
        """One INSERT of all ``rows`` (at least one) as a ``(table, text, params)`` statement
        of :meth:`Driver.run_all`."""
        return (self.table.name, self._rows_text(len(rows)),
                [value for row in self.tuples(driver, rows) for value in row])

    def changed(self, driver: Driver, values: tuple, changes: dict) -> tuple:
        """A row's :meth:`tuples` entry with some columns' values changed."""
        out = list(values)
        for name, value in changes.items():
            at = self._positions[name]
            kind = self.kinds[at]
            out[at] = driver.time(value) if kind == "time" else \
                driver.json(value) if kind == "json" else value
        return tuple(out)

    def returning_ids(self, conn: Connection, rows: Sequence[dict]) -> list[int]:
        """Insert ``rows``; their ids, in the rows' order."""
        if not rows:
            return []
        return self.returning_ids_of(conn, self.tuples(Driver.of(conn), rows))

    def returning_ids_of(self, conn: Connection, params: list[tuple]) -> list[int]:
        """:meth:`returning_ids` of rows already made :meth:`tuples`."""
        if not params:
            return []
        driver = Driver.of(conn)
        if driver.sqlite:
            # One multi-row INSERT: its rows are inserted in order, each taking the next rowid
            # on the single writer, so the ids sorted are the ids in the rows' order.
            text = self._rows_text(len(params)) + " RETURNING id"
            flat = [value for row in params for value in row]
            return sorted(row[0] for row in driver.run(conn, self.table.name, text, flat))
        return _returning_many(conn, driver, self.table.name, self.text + " RETURNING id",
                               params)


def _returning_many(conn: Connection, driver: Driver, table: str, text: str,
                    params: list[tuple]) -> list[int]:
    """psycopg's ``executemany(returning=True)``: one result per row, in the rows' order."""
    sql = driver.sql(text)
    if not conn.in_transaction():
        conn.begin()
    cursor = conn.connection.cursor()
    ids: list[int] = []
    try:
        cursor.executemany(sql, params, returning=True)
        while True:
            ids.append(cursor.fetchone()[0])
            if not cursor.nextset():
                break
    except conn.dialect.loaded_dbapi.Error as error:
        raise _driver_error(conn, sql, params, error) from error
    finally:
        cursor.close()
    log_ = WriteLog.of(conn)
    if log_ is not None:
        log_.wrote(table)
    return ids


def maintenance_engine(url: str) -> Engine:
    """An engine for one-off work (migrations) that holds no pooled connections afterwards.

    Its transactions take the database's write lock when they begin (SQLite: ``BEGIN
    IMMEDIATE``; PostgreSQL: an advisory lock of its own), so that processes and nodes
    starting together migrate one after the other: the second finds the work done."""
    engine = create_engine(url, poolclass=NullPool)
    if url.startswith("sqlite"):
        @event.listens_for(engine, "connect")
        def _configure(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # BEGIN as written below, DDL included
            dbapi_conn.execute("PRAGMA busy_timeout=60000")

        @event.listens_for(engine, "begin")
        def _begin(conn):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        @event.listens_for(engine, "begin")
        def _lock(conn):
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MAINTENANCE_LOCK})")
    return engine


MAINTENANCE_LOCK = 0x70696765_6f6e0001  # "pigeon" + 1: the advisory lock migrations hold
