"""Pigeon as an operator runs it: ``pigeon serve`` and ``pigeon worker`` processes on one
database, started, stopped and killed for real.

:class:`Node` is one such process; :class:`Deployment` is a set of them with one database —
several API nodes and worker nodes on PostgreSQL, or one ``pigeon serve --workers N`` on
SQLite — plus a :class:`~pigeon.app.Pigeon` of the test's own on the same database, for
setting tenants up and for reading what happened.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from pigeon.app import Pigeon
from pigeon.config import Settings
from pigeon.store.tables import nodes
from tests.conftest import TEST_SECRET_KEY
from tests.support import scrape
from tests.support.waiting import wait_until

START_SECONDS = 60.0  # a loaded two-core machine starting several interpreters at once


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def base_env(data_dir: Path, database_url: str | None = None, **extra: str) -> dict:
    """The environment of a Pigeon process: this one's, without its PIGEON_* settings."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIGEON_")}
    env |= {"PIGEON_DATA_DIR": str(data_dir), "PIGEON_SECRET_KEY": TEST_SECRET_KEY.reveal(),
            "PIGEON_REVIEW_MODE": "rules", "PIGEON_REGISTRATION_DELAY": "0s",
            "PIGEON_SIMULATOR_DELAY": "100ms", "PIGEON_LOG_LEVEL": "warning",
            "PIGEON_METRICS_TOKEN": scrape.TOKEN}
    if database_url:
        env["PIGEON_DATABASE_URL"] = database_url
    return env | extra


class Node:
    """One ``pigeon`` process: ``serve`` (with a port) or ``worker``."""

    def __init__(self, name: str, args: list[str], env: dict, log_path: Path,
                 port: int | None = None) -> None:
        self.name = name
        self.args = args
        self.env = env
        self.log_path = log_path
        self.port = port
        self.process: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> Node:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the child process owns it
        self.process = subprocess.Popen([sys.executable, "-m", "pigeon.cli", *self.args],
                                        env=self.env, stdout=log, stderr=log)
        log.close()
        return self

    def wait_ready(self, local: Pigeon) -> Node:
        """Until it listens (a server) or has registered as a node (a worker)."""
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} exited; see {self.log_path}:\n"
                                     + self.log_path.read_text()[-3000:])
            if self.port is not None:
                try:
                    socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                except OSError:
                    return False
                return True
            return any(name.endswith(f":{self.process.pid}") for name in local.db.read_sync(
                lambda conn: conn.scalars(select(nodes.c.name)).all()))

        wait_until(ready, timeout=START_SECONDS, what=f"{self.name} to start",
                   interval=0.05)
        return self

    def kill(self) -> None:
        """SIGKILL: no goodbye, no cleanup."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Deployment:
    """Pigeon processes on one database, and the test's own view of that database."""

    local: Pigeon
    api: list[Node]
    workers: list[Node] = field(default_factory=list)

    @property
    def endpoints(self) -> list[str]:
        return [node.endpoint for node in self.api]

    @property
    def everything(self) -> list[Node]:
        return [*self.api, *self.workers]

    def counter(self, name: str) -> float:
        """A counter's total over the API nodes, as their ``/metrics`` show it (a node of
        several processes shows the sum of its processes)."""
        return sum(scrape.total(scrape.scrape(f"http://{endpoint}"), name)
                   for endpoint in self.endpoints)

    def start(self) -> Deployment:
        for node in self.everything:
            node.start()
        for node in self.everything:
            node.wait_ready(self.local)
        return self

    def close(self) -> None:
        for node in self.everything:
            node.stop()
        self.local.close()


def local_pigeon(data_dir: Path, database_url: str | None) -> Pigeon:
    return Pigeon(Settings(data_dir=data_dir, database_url=database_url,
                           secret_key=TEST_SECRET_KEY))


def postgres_cluster(tmp: Path, database_url: str, *, api: int = 2, workers: int = 1,
                     **env: str) -> Deployment:
    """``api`` API nodes (``pigeon serve --workers 1`` with ``PIGEON_WORKERS=off``) and
    ``workers`` worker nodes (``pigeon worker``) on one PostgreSQL database, each with a data
    directory of its own, as on machines of their own."""
    local = local_pigeon(tmp / "local", database_url)
    api_nodes = []
    for number in range(api):
        port = free_port()
        api_nodes.append(Node(f"api-{number}", ["serve", "--workers", "1"], base_env(
            tmp / f"api-{number}", database_url, PIGEON_PORT=str(port), PIGEON_WORKERS="off",
            **env), tmp / f"api-{number}.log", port))
    worker_nodes = [Node(f"worker-{number}", ["worker"], base_env(
        tmp / f"worker-{number}", database_url, **env), tmp / f"worker-{number}.log")
        for number in range(workers)]
    return Deployment(local, api_nodes, worker_nodes)


def sqlite_processes(tmp: Path, *, processes: int = 2, **env: str) -> Deployment:
    """One ``pigeon serve --workers N`` on the embedded SQLite database: N API processes and
    the workers in the parent."""
    data = tmp / "data"
    port = free_port()
    serve = Node("serve", ["serve", "--workers", str(processes)],
                 base_env(data, PIGEON_PORT=str(port), **env), tmp / "serve.log", port)
    return Deployment(local_pigeon(data, None), [serve])
