"""A real ``pigeon serve`` (one API process, the workers in it) for every attack in this
directory, with its limits at the documented defaults except the timeouts, shortened so that a
slow client is cut off within the test's patience; and the attacker's tools: raw sockets,
signed requests, the server's resident memory read from /proc.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from pigeon.app import Pigeon
from tests.conftest import make_tenant
from tests.support.nodes import Deployment, Node, base_env, free_port, local_pigeon
from tests.support.sdk import CoreClient, Tenant
from tests.support.sending import Sender, ready_to_send

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 2.0
SERVER_ENV = {
    "PIGEON_HEADER_TIMEOUT": f"{HEADER_TIMEOUT}s", "PIGEON_BODY_TIMEOUT": f"{BODY_TIMEOUT}s",
    "PIGEON_KEEP_ALIVE_TIMEOUT": "2s",
    # Every request of these tests comes "through a proxy" on the loopback, which names the
    # attacker's address in X-Forwarded-For (the sign-in tests use that); nothing else reads it.
    "PIGEON_TRUSTED_PROXIES": "127.0.0.1",
    "PIGEON_LOG_LEVEL": "info",
}


@dataclass
class Served:
    """One ``pigeon serve --workers 1`` and what the tests need of it."""

    deployment: Deployment
    node: Node
    tenant: Tenant
    sender: Sender

    @property
    def local(self) -> Pigeon:
        return self.deployment.local

    @property
    def url(self) -> str:
        return f"http://{self.node.endpoint}"

    @property
    def port(self) -> int:
        return self.node.port

    @property
    def pid(self) -> int:
        return self.node.process.pid

    def rss_mb(self) -> float:
        """The server's resident memory, MB (/proc/PID/status VmRSS)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")

    def log(self) -> str:
        return self.node.log_path.read_text(errors="replace")

    def connect(self, timeout: float = 10.0) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        sock.settimeout(timeout)
        return sock


def serve(tmp: Path, database_url: str | None = None, **env: str) -> Deployment:
    """One ``pigeon serve --workers 1`` (API and workers in one process) on ``database_url``
    (default: SQLite in its data directory), started."""
    data = tmp / "data"
    port = free_port()
    node = Node("serve", ["serve", "--workers", "1"],
                base_env(data, database_url, PIGEON_PORT=str(port), **(SERVER_ENV | env)),
                tmp / "serve.log", port)
    return Deployment(local_pigeon(data, database_url), [node]).start()


def ready_tenant(deployment: Deployment, phone: str = "13800138000") -> tuple[Tenant, Sender]:
    tenant = make_tenant(deployment.local)
    sender = ready_to_send(deployment.local, CoreClient(deployment.api[0].endpoint, tenant),
                           tenant.account_id, admin_phone=phone)
    return tenant, sender


def _served(deployment: Deployment) -> Served:
    tenant, sender = ready_tenant(deployment)
    return Served(deployment, deployment.api[0], tenant, sender)


@pytest.fixture(scope="session")
def served(tmp_path_factory):
    """The SQLite server most attacks are aimed at (one for the whole directory)."""
    deployment = serve(tmp_path_factory.mktemp("served"))
    try:
        yield _served(deployment)
    finally:
        deployment.close()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def served_on(request, tmp_path_factory, postgres, served):
    """The server on each database: the SQLite one above, and one on PostgreSQL."""
    if request.param == "sqlite":
        yield served
        return
    if postgres is None:
        pytest.skip("missing tool: PostgreSQL is not installed and PIGEON_TEST_POSTGRES_URL "
                    "is not set")
    deployment = serve(tmp_path_factory.mktemp("served-pg"), postgres.fresh_database())
    try:
        yield _served(deployment)
    finally:
        deployment.close()


def read_answer(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (or the timeout)."""
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (TimeoutError, ConnectionResetError):
        pass
    return b"".join(chunks)


def status_of(answer: bytes) -> int | None:
    if not answer.startswith(b"HTTP/1.1 "):
        return None
    return int(answer[9:12])


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Whether the server closed the connection within ``seconds``, and what it sent."""
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    got = b""
    try:
        while time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                return True, got
            got += chunk
    except ConnectionResetError:
        return True, got
    except TimeoutError:
        return False, got
    return False, got


def rpc_client(served: Served) -> httpx.Client:
    return httpx.Client(base_url=served.url, timeout=30)
