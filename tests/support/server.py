"""A real Pigeon HTTP server on an ephemeral loopback port, in a thread of the test process
(so that time-machine travels the server and the SDK clients together)."""

from __future__ import annotations

import socket
import threading

import uvicorn

from pigeon import serving
from pigeon.app import Pigeon, create_app
from tests.support.waiting import wait_until


class LiveServer:
    def __init__(self, pigeon: Pigeon, *, workers: bool = False) -> None:
        self.pigeon = pigeon
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self._sock = sock
        # As `pigeon serve` (its connection limits, proxy_headers=False: the app sees the TCP
        # peer, not a header), quieter.
        config = serving.server_config(create_app(pigeon, workers=workers), pigeon.settings,
                                       log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.endpoint}"

    def start(self) -> LiveServer:
        self.thread.start()

        def started() -> bool:
            if not self.thread.is_alive():
                raise RuntimeError("the test server stopped before it started")
            return self.server.started

        wait_until(started, interval=0.01, what="the test server to start")
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
        self._sock.close()
