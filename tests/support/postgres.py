"""A throwaway PostgreSQL server for the test suite.

``PIGEON_TEST_POSTGRES_URL`` points the suite at an existing server (one it may create and drop
databases on).  Otherwise, when PostgreSQL's server binaries are installed (Debian's
``postgresql`` package), the suite starts a private cluster in a temporary directory on a Unix
socket and removes it afterwards — no system service, no port, nothing left behind.  Without
either, PostgreSQL runs of the suite are skipped and say so.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import psycopg


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if found:
        return Path(found[-1]).parent
    which = shutil.which("pg_ctl")
    return Path(which).parent if which else None


class PostgresServer:
    """Creates one migrated template database, then a fresh copy of it per test."""

    def __init__(self, admin_url: str, cleanup=None) -> None:
        self.admin_url = admin_url  # a libpq URL (no SQLAlchemy driver suffix)
        self._cleanup = cleanup
        self.template = None

    @classmethod
    def start(cls) -> PostgresServer | None:
        url = os.environ.get("PIGEON_TEST_POSTGRES_URL")
        if url:
            return cls(url.replace("postgresql+psycopg://", "postgresql://"))
        bindir = _binaries()
        if bindir is None:
            return None
        root = Path(tempfile.mkdtemp(prefix="pigeon-pg-"))
        data, sock = root / "data", root / "sock"
        sock.mkdir()
        as_user: list[str] = []
        if os.geteuid() == 0:  # initdb refuses to run as root
            shutil.chown(root, "postgres")
            shutil.chown(sock, "postgres")
            as_user = ["runuser", "-u", "postgres", "--"]
        run = lambda *cmd: subprocess.run([*as_user, *cmd], check=True,  # noqa: E731
                                          capture_output=True, text=True)
        run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--no-sync")
        run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-w", "start",
            "-o", f"-c listen_addresses='' -k {sock} -c fsync=off -c synchronous_commit=off "
                  "-c full_page_writes=off -c max_connections=300")

        def cleanup() -> None:
            subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                            "stop"], capture_output=True)
            # Every test made a database of its own: the cluster is gigabytes by now and
            # removing it took ~25 s at the end of each run.  Let it go in the background.
            subprocess.Popen(["rm", "-rf", str(root)], start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        return cls(f"postgresql://postgres@/postgres?host={sock}", cleanup)

    def _admin(self) -> psycopg.Connection:
        return psycopg.connect(self.admin_url, autocommit=True)

    def _url_for(self, name: str) -> str:
        base, _, query = self.admin_url.partition("?")
        base = base.rsplit("/", 1)[0] + "/" + name
        url = base.replace("postgresql://", "postgresql+psycopg://", 1)
        return f"{url}?{query}" if query else url

    def fresh_database(self) -> str:
        """A new database with Pigeon's schema; returns its SQLAlchemy URL."""
        from pigeon.store import migrate

        if self.template is None:
            self.template = f"pigeon_tpl_{uuid.uuid4().hex[:8]}"
            with self._admin() as conn:
                conn.execute(f'CREATE DATABASE "{self.template}"')
            migrate.upgrade(self._url_for(self.template))
        name = f"pigeon_t_{uuid.uuid4().hex[:12]}"
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return self._url_for(name)

    def stop(self) -> None:
        if self._cleanup:
            self._cleanup()
