"""Storage faults: the database cannot write (disk full, read-only, I/O error, unreachable).

Nothing a client sent causes one and nothing it can fix: every route answers it with a
retryable ``ServiceUnavailable`` (HTTP 503), and the writer starts over on a fresh connection,
so service resumes by itself once space (or the database) returns.  Until then every request
and every worker pass meets the same fault: the log gets one line when an incident begins and
one when it ends (:class:`Incidents`, and :class:`QuietFaults` for the tracebacks of code that
logs its own failures, such as the workers' loops) — not a traceback per attempt.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
import threading
import time

from pigeon import metrics

log = logging.getLogger(__name__)

# SQLite primary result codes (the low byte of the extended code).
_SQLITE_FAULTS = {
    8: "read-only",  # SQLITE_READONLY: a read-only file or file system
    10: "I/O error",  # SQLITE_IOERR
    13: "disk full",  # SQLITE_FULL
    14: "cannot open",  # SQLITE_CANTOPEN
}
# PostgreSQL SQLSTATE classes and codes: insufficient resources (disk full, out of memory, too
# many connections), the server going away, and a read-only server (a standby, or
# default_transaction_read_only after a failover).
_PG_CLASSES = ("08", "53", "57P", "58")
_PG_CODES = frozenset({"25006"})
_OS_ERRNOS = frozenset({errno.ENOSPC, errno.EROFS, errno.EDQUOT, errno.EIO})


def is_storage_fault(error: BaseException) -> bool:
    """Whether ``error`` (or what it wraps) is the store failing rather than a bug or a bad
    request: SQLite's full/read-only/I/O errors, PostgreSQL's lost connection or exhausted
    resources, the file system's ENOSPC/EROFS/EDQUOT/EIO.

    A task group's :class:`BaseExceptionGroup` is one when every exception it holds is one: a
    bug among the faults is still a bug, and keeps its traceback.
    """
    seen = 0
    while error is not None and seen < 8:
        if isinstance(error, BaseExceptionGroup):
            return all(is_storage_fault(inner) for inner in error.exceptions)
        if _fault_kind(error) is not None:
            return True
        error = getattr(error, "orig", None) or error.__cause__ or error.__context__
        seen += 1
    return False


def _fault_kind(error: BaseException) -> str | None:
    if isinstance(error, sqlite3.Error):
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None:
            return _SQLITE_FAULTS.get(code & 0xFF)
        text = str(error).lower()  # a driver without error codes: its fixed wording
        if "disk is full" in text or "readonly database" in text or "disk i/o" in text:
            return "storage"
        return None
    sqlstate = getattr(error, "sqlstate", None)
    if isinstance(sqlstate, str) and (sqlstate in _PG_CODES
                                      or sqlstate.startswith(_PG_CLASSES)):
        return sqlstate
    if type(error).__module__.startswith("psycopg") and type(error).__name__ in (
            "OperationalError", "InterfaceError") and sqlstate is None:
        return "connection"  # psycopg: the server went away before answering
    if isinstance(error, OSError) and error.errno in _OS_ERRNOS:
        return errno.errorcode.get(error.errno, "OSError")
    return None


SETTLE_SECONDS = 5.0
"""How long without a fault before a successful commit closes an incident: on a nearly full
disk small transactions pass between failing large ones, and the incident should not open and
close (two lines each time) with every one of them."""


class Incidents:
    """One process's storage incidents: the first fault opens one (one line in the log), a
    successful commit once faults have stopped for :data:`SETTLE_SECONDS` closes it (one more
    line, with how many faults it hid and for how long)."""

    def __init__(self, logger: logging.Logger = log, settle: float = SETTLE_SECONDS) -> None:
        self.log = logger
        self.settle = settle
        self._lock = threading.Lock()
        self._since: float | None = None
        self._last = 0.0
        self._faults = 0

    @property
    def open(self) -> bool:
        return self._since is not None

    def report(self, error: BaseException) -> bool:
        """Count ``error`` if it is a storage fault (True), logging only an incident's first.
        Anything else is left to the caller (False)."""
        if not is_storage_fault(error):
            return False
        metrics.storage_fault()
        with self._lock:
            self._faults += 1
            self._last = time.monotonic()
            if self._since is not None:
                return True
            self._since = self._last
        self.log.error("storage unavailable (%s): answering ServiceUnavailable (503) until a "
                       "write succeeds again", _describe(error))
        return True

    def recovered(self) -> None:
        """A write committed: close the incident, if one is open."""
        if self._since is None:  # the common case, without the lock
            return
        with self._lock:
            if time.monotonic() - self._last < self.settle:
                return
            since, faults = self._since, self._faults
            self._since, self._faults = None, 0
        if since is not None:
            self.log.warning("storage available again after %.1f s (%d failed attempt(s) "
                             "not logged one by one)", time.monotonic() - since, faults)


def _describe(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:300]


incidents = Incidents()
"""This process's incidents: the writer, the endpoints and :class:`QuietFaults` share them."""


class QuietFaults(logging.Filter):
    """A log handler's filter: a record carrying a storage fault (``log.exception`` in a loop
    that retries) counts towards the incident instead of printing its traceback; everything
    else passes."""

    def __init__(self, tracker: Incidents = incidents) -> None:
        super().__init__()
        self.tracker = tracker

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if error is None or record.name == log.name:
            return True
        return not self.tracker.report(error)


def install_log_filter(logger: logging.Logger | None = None) -> None:
    """Put :class:`QuietFaults` on every handler of ``logger`` (the root logger by default:
    call it after ``logging.basicConfig``)."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, QuietFaults) for f in handler.filters):
            handler.addFilter(QuietFaults())
