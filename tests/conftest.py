"""Fixtures shared by the whole suite.

Tests that take ``pigeon``, ``server`` or ``database_url`` run twice: on SQLite and on
PostgreSQL (see tests/support/postgres.py for how PostgreSQL is found or started).
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import sqlite3
import tempfile
from datetime import timedelta
from pathlib import Path

import pytest

from pigeon.app import Pigeon
from pigeon.config import Secret, Settings
from pigeon.services import accounts
from tests.support.postgres import PostgresServer
from tests.support.sdk import CoreClient, Tenant, tea_client
from tests.support.server import LiveServer

MISSING_TOOL = "missing tool: "
"""How a skip for a tool this machine lacks begins (the end-of-run summary counts them)."""

# A fixed key so that a test failure never depends on a generated file.
TEST_SECRET_KEY = Secret("dGVzdC1rZXktZm9yLXBpZ2Vvbi10ZXN0cy0wMDAwMDA=")


@pytest.fixture(scope="session")
def postgres():
    server = PostgresServer.start()
    yield server
    if server is not None:
        server.stop()


def fresh_database_url(kind: str, directory: Path, postgres: PostgresServer | None) -> str:
    """A new database of ``kind`` (``sqlite`` in ``directory``, or ``postgresql``) with
    Pigeon's schema and nothing else."""
    if kind == "sqlite":
        # A copy of one migrated file: migrating each test's database from nothing took
        # 70-120 ms, a copy ~1 ms (PostgreSQL copies a template database the same way).
        path = directory / "pigeon.db"
        shutil.copyfile(_sqlite_template(), path)
        return f"sqlite:///{path}"
    if postgres is None:
        if os.environ.get("PIGEON_TEST_REQUIRE_POSTGRES"):
            pytest.fail("PostgreSQL is required (PIGEON_TEST_REQUIRE_POSTGRES) but not found")
        pytest.skip(f"{MISSING_TOOL}PostgreSQL is not installed and PIGEON_TEST_POSTGRES_URL "
                    "is not set")
    return postgres.fresh_database()


@functools.cache
def _sqlite_template() -> Path:
    """A SQLite file with Pigeon's schema, migrated once for the run (the migrations from
    nothing: tests/store/test_migrations.py checks they give the tables)."""
    from pigeon.store import migrate

    directory = tempfile.mkdtemp(prefix="pigeon-schema-")
    atexit.register(shutil.rmtree, directory, True)
    path = Path(directory) / "pigeon.db"
    migrate.upgrade(f"sqlite:///{path}")
    with sqlite3.connect(path) as conn:  # one file, no WAL beside it, to copy
        conn.execute("PRAGMA journal_mode=DELETE")
    return path


def suite_settings(directory: Path, database_url: str) -> Settings:
    """The suite's settings: reviews decided at once by the rules, carrier registration done."""
    return Settings(data_dir=directory / "data", database_url=database_url, review_mode="rules",
                    registration_delay=timedelta(0), secret_key=TEST_SECRET_KEY)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, postgres) -> str:
    return fresh_database_url(request.param, tmp_path, postgres)


@pytest.fixture
def settings(tmp_path, database_url) -> Settings:
    return suite_settings(tmp_path, database_url)


@pytest.fixture
def pigeon(settings):
    instance = Pigeon(settings)
    yield instance
    instance.close()


@pytest.fixture
def server(pigeon):
    live = LiveServer(pigeon).start()
    yield live
    live.stop()


def make_tenant(pigeon: Pigeon, name: str = "Lark Technology") -> Tenant:
    now = pigeon.now()
    account = pigeon.db.write_sync(accounts.create_account, name, now)
    account_id = int(account["AccountId"])
    key = pigeon.db.write_sync(accounts.create_access_key, pigeon.box, account_id, now)
    return Tenant(account_id=account_id, key_id=key["AccessKeyId"],
                  secret=key["AccessKeySecret"])


@pytest.fixture
def tenant(pigeon) -> Tenant:
    return make_tenant(pigeon)


@pytest.fixture
def other_tenant(pigeon) -> Tenant:
    return make_tenant(pigeon, "Other Company")


@pytest.fixture
def sdk(server, tenant):
    """The current official Python SDK (V3 signatures) for ``tenant``."""
    return tea_client(server.endpoint, tenant)


@pytest.fixture
def sdk_v1(server, tenant):
    return tea_client(server.endpoint, tenant, v1=True)


@pytest.fixture
def core_sdk(server, tenant):
    return CoreClient(server.endpoint, tenant)


@pytest.fixture
def receiver():
    """A tenant's report endpoint (or any webhook): a real local HTTP server."""
    from tests.support.receiver import Receiver

    made = Receiver().up()
    yield made
    made.down()


@pytest.fixture
def robot():
    """A DingTalk custom robot stand-in that checks the signature (tests/support/dingtalk.py)."""
    from tests.support.dingtalk import DingTalkRobot

    made = DingTalkRobot().start()
    yield made
    made.stop()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """Say loudly what this run did not check: a green run that skipped the PostgreSQL half,
    the browser or the protocol peers is not the run CI makes (which refuses those skips)."""
    skipped = terminalreporter.stats.get("skipped", [])
    reasons: dict[str, int] = {}
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    missing = {reason.removeprefix(MISSING_TOOL): count for reason, count in reasons.items()
               if reason.startswith(MISSING_TOOL)}
    if not missing:
        return
    write = terminalreporter.write_line
    write("")
    write("=" * 78, red=True, bold=True)
    write(f"NOT EVERYTHING RAN: {sum(missing.values())} test(s) skipped for a missing tool",
          red=True, bold=True)
    for reason, count in sorted(missing.items(), key=lambda item: -item[1]):
        write(f"  {count:5d} × {reason}", red=True)
    write("CI installs what is missing and fails instead of skipping (.ci/run).", red=True)
    write("=" * 78, red=True, bold=True)
