"""A stand-in for DingTalk's custom-robot webhook: a real HTTP server on an ephemeral loopback
port that checks requests the way DingTalk does and answers the way it does.

- ``access_token`` must be the robot's token (else errcode 300001 "token is not exist");
- with a signing secret, ``timestamp`` (ms) must be within an hour of this clock and ``sign``
  must be Base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}")) (else errcode 310000);
- the body must be a JSON message with a known ``msgtype``; markdown needs a title and text;
- the answer is HTTP 200 ``{"errcode":0,"errmsg":"ok"}``.

The signature is computed here independently of Pigeon's code, from DingTalk's documented
algorithm.  ``messages`` keeps every accepted message, ``refused`` the refused requests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from tests.support.http_server import StrictHTTPServer

MSGTYPES = {"text", "link", "markdown", "actionCard", "feedCard"}


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:  # noqa: N802
        robot: DingTalkRobot = self.server.robot  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        errcode, errmsg = robot.check(self.path, body)
        answer = json.dumps({"errcode": errcode, "errmsg": errmsg}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


class DingTalkRobot:
    def __init__(self, token: str = "a1b2c3d4e5f6", secret: str | None = "SECtest0123456789"):
        self.token = token
        self.secret = secret
        self.messages: list[dict] = []
        self.refused: list[tuple[int, str]] = []
        self.lock = threading.Lock()
        self._server = StrictHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.robot = self  # type: ignore[attr-defined]
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/robot/send?access_token={self.token}"

    def expected_sign(self, timestamp: str) -> str:
        key = self.secret.encode("utf-8")
        digest = hmac.new(key, f"{timestamp}\n{self.secret}".encode(),
                          hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    def check(self, path: str, body: bytes) -> tuple[int, str]:
        query = parse_qs(urlsplit(path).query)  # decodes the URL-encoded sign
        result = self._verdict(query, body)
        with self.lock:
            if result[0] != 0:
                self.refused.append(result)
        return result

    def _verdict(self, query: dict, body: bytes) -> tuple[int, str]:
        if urlsplit(self.url).path != "/robot/send" or query.get("access_token") != [self.token]:
            return 300001, "token is not exist"
        if self.secret is not None:
            timestamp = (query.get("timestamp") or [""])[0]
            sign = (query.get("sign") or [""])[0]
            if not timestamp.isdigit() or abs(int(timestamp) - time.time() * 1000) > 3600_000:
                return 310000, "sign not match, more: [timestamp is invalid]"
            if not hmac.compare_digest(sign, self.expected_sign(timestamp)):
                return 310000, "sign not match, more: [sign is invalid]"
        try:
            message = json.loads(body.decode("utf-8"))
        except ValueError:
            return 400, "param error"
        if message.get("msgtype") not in MSGTYPES:
            return 40035, "缺少参数 json"
        if message["msgtype"] == "markdown" and not (
                message.get("markdown", {}).get("title") and message["markdown"].get("text")):
            return 40035, "缺少参数 markdown"
        with self.lock:
            self.messages.append(message)
        return 0, "ok"

    def start(self) -> DingTalkRobot:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
