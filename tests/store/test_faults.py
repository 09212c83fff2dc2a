"""Storage faults are told from bugs, and an incident is logged once, however many requests
and worker passes meet it."""

from __future__ import annotations

import errno
import logging
import sqlite3

import psycopg
import pytest
from sqlalchemy import exc

from pigeon.store import faults
from pigeon.store.faults import Incidents, QuietFaults, is_storage_fault


def sqlite_error(conn: sqlite3.Connection, sql: str, *params) -> sqlite3.Error:
    with pytest.raises(sqlite3.Error) as raised:
        conn.execute(sql, params)
    return raised.value


def test_a_read_only_or_full_sqlite_database_is_a_storage_fault(tmp_path):
    path = tmp_path / "x.db"
    sqlite3.connect(path).execute("CREATE TABLE t (v TEXT)")
    read_only = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    error = sqlite_error(read_only, "INSERT INTO t VALUES ('a')")
    assert "readonly" in str(error) and is_storage_fault(error)
    # As SQLAlchemy raises it, from a unit of work.
    assert is_storage_fault(exc.OperationalError("INSERT …", {}, error))
    full = sqlite3.connect(path)
    full.execute("PRAGMA max_page_count=3")
    error = sqlite_error(full, "INSERT INTO t VALUES (?)", "x" * 100_000)
    assert "full" in str(error) and is_storage_fault(error)


def test_bugs_and_bad_requests_are_not_storage_faults(tmp_path):
    conn = sqlite3.connect(tmp_path / "x.db")
    conn.execute("CREATE TABLE t (v TEXT NOT NULL)")
    assert not is_storage_fault(sqlite_error(conn, "INSERT INTO t VALUES (NULL)"))
    assert not is_storage_fault(sqlite_error(conn, "SELECT nope FROM t"))
    assert not is_storage_fault(ValueError("x"))
    assert not is_storage_fault(OSError(errno.ENOENT, "no such file"))


@pytest.mark.parametrize("error", [
    psycopg.errors.DiskFull("could not extend file"),
    psycopg.errors.OutOfMemory("out of memory"),
    psycopg.errors.TooManyConnections("too many clients"),
    psycopg.errors.AdminShutdown("terminating connection"),
    psycopg.errors.ReadOnlySqlTransaction("read-only transaction"),
    psycopg.OperationalError("connection refused"),
    OSError(errno.ENOSPC, "No space left on device"),
    OSError(errno.EROFS, "Read-only file system"),
])
def test_postgresql_and_the_file_system_running_out_are_storage_faults(error):
    assert is_storage_fault(error)
    wrapped = exc.OperationalError("INSERT …", {}, error)
    assert is_storage_fault(wrapped)


def test_a_task_groups_faults_are_one_when_all_it_holds_are():
    full = exc.OperationalError("COMMIT", {}, OSError(errno.ENOSPC, "No space left on device"))
    assert is_storage_fault(ExceptionGroup("unhandled errors in a TaskGroup", [full]))
    nested = ExceptionGroup("outer", [full, ExceptionGroup("inner", [full])])
    assert is_storage_fault(nested)
    assert not is_storage_fault(ExceptionGroup("mixed", [full, RuntimeError("a bug")]))


def test_unique_violations_on_postgresql_are_not():
    assert not is_storage_fault(psycopg.errors.UniqueViolation("duplicate key"))


def test_an_incident_is_one_line_when_it_begins_and_one_when_it_ends(caplog, monkeypatch):
    clock = [100.0]
    monkeypatch.setattr(faults.time, "monotonic", lambda: clock[0])
    incidents = Incidents(logging.getLogger("pigeon.store.faults"), settle=5.0)
    full = OSError(errno.ENOSPC, "No space left on device")
    with caplog.at_level(logging.INFO, logger="pigeon.store.faults"):
        for _ in range(1000):
            assert incidents.report(full)
        assert not incidents.report(ValueError("a bug"))
        clock[0] += 1
        incidents.recovered()  # a small write got through while the disk is still full
        assert incidents.open
        clock[0] += 10
        incidents.recovered()
        incidents.recovered()
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert lines[0].startswith("storage unavailable (OSError")
    assert "available again after 11.0 s (1000 failed" in lines[1]


def test_the_log_filter_drops_a_workers_storage_traceback_and_keeps_the_rest():
    incidents = Incidents(logging.getLogger("test.faults.quiet"))
    quiet = QuietFaults(incidents)

    def record(error: BaseException | None) -> logging.LogRecord:
        info = (type(error), error, None) if error else None
        return logging.LogRecord("pigeon.workers.dispatcher", logging.ERROR, __file__, 1,
                                 "dispatcher: pass failed; retrying", (), info)

    assert not quiet.filter(record(OSError(errno.ENOSPC, "No space left on device")))
    assert incidents.open
    assert quiet.filter(record(RuntimeError("a bug")))
    assert quiet.filter(record(None))
    # The reporter's lanes run in a task group: its fault comes wrapped in an ExceptionGroup.
    full = OSError(errno.ENOSPC, "No space left on device")
    assert not quiet.filter(record(ExceptionGroup("unhandled errors in a TaskGroup", [full])))
