"""A tenant's report endpoint: a real HTTP server on an ephemeral loopback port, in a thread.

It records every request (headers, raw body, parsed JSON) and answers as its ``mode`` says:

- ``ok``: HTTP 200 ``{"code":0,"msg":"成功"}`` — the acknowledgement Alibaba expects;
- ``error``: HTTP 500;
- ``string_code``: HTTP 200 ``{"code":"0"}`` — not an acknowledgement (the code is no number);
- ``not_json``: HTTP 200 ``OK``;
- ``hang``: reads the request and never answers (until the receiver stops).

:meth:`down` closes the port (connection refused) and drops open connections; :meth:`up`
listens on the same port again.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

from tests.support.http_server import StrictHTTPServer

OK_BODY = json.dumps({"code": 0, "msg": "成功"}, ensure_ascii=False).encode("utf-8")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() on arrival
    mode: str  # how the receiver answered it

    @property
    def acknowledged(self) -> bool:
        return self.mode == "ok"

    @property
    def json(self):
        return json.loads(self.body.decode("utf-8"))


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the pusher may reuse its connections

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        receiver: Receiver = self.server.receiver  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        mode = receiver.mode
        receiver.received.append(Received(self.path, dict(self.headers.items()), body,
                                          time.time(), mode))
        if mode == "hang":
            receiver.released.wait(60)
            self.close_connection = True
            return
        status, answer = {
            "ok": (200, OK_BODY),
            "error": (500, b'{"code":500,"msg":"internal error"}'),
            "string_code": (200, b'{"code":"0","msg":"ok"}'),
            "not_json": (200, b"OK"),
        }[mode]
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


class _Server(StrictHTTPServer):
    allow_reuse_address = True

    def __init__(self, address, receiver: Receiver) -> None:
        self.receiver = receiver
        self.connections: set[socket.socket] = set()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address) -> None:
        self.connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        self.connections.discard(request)
        super().shutdown_request(request)


class Receiver:
    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.received: list[Received] = []
        self.released = threading.Event()
        self.port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/sms/report"

    @property
    def reports(self) -> list[dict]:
        """Every report received, in arrival order (each request's array flattened)."""
        return [report for request in self.received for report in request.json]

    @property
    def acknowledged_reports(self) -> list[dict]:
        """The reports of the requests answered with an acknowledgement."""
        return [report for request in self.received if request.acknowledged
                for report in request.json]

    def up(self) -> Receiver:
        self.released.clear()
        self._server = _Server(("127.0.0.1", self.port), self)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def down(self) -> None:
        """Refuse connections: close the port and every open connection."""
        if self._server is None:
            return
        self.released.set()
        self._server.shutdown()
        for conn in list(self._server.connections):
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._server.server_close()
        self._server = None

    start = up
    stop = down
