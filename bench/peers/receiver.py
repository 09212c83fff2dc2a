"""The report receiver of the peer comparison: one HTTP/1.1 server on a loopback port, in a
process of its own, that takes the delivery reports of all three gateways.

* ``/kannel?...`` — Kannel's ``dlr-url``: one GET per report, everything in the query string;
  answered ``200 OK``.
* ``/jasmin?...`` — Jasmin's ``dlr-url`` with ``dlr-method=POST``: one form-encoded POST per
  report (``id``, ``message_status``, ``level``, …) to the URL the message was sent with, whose
  query string names the number; answered ``ACK/Jasmin``, the acknowledgement Jasmin's DLR
  thrower requires (anything else and it retries).
* ``/pigeon`` — Pigeon's ``SmsReport`` push: a JSON array of reports a POST; answered
  ``{"code":0,"msg":"成功"}``, the acknowledgement Alibaba's format asks for.

It parses with httptools on uvloop (uvicorn's own parts, so it is no slower a client's
counterpart than the server stacks under test), keeps connections alive, and keeps each request
as it came — path and body — without decoding it: the benchmark decodes them after the round.
Counted per request: 1 report for Kannel and Jasmin, one per ``"report_id"`` for Pigeon.

Control, as ``smsc.py``: ``stats`` (requests, reports, time of the last, CPU), ``dump PATH``
(every request kept since the last reset as JSON lines ``[path, body]``), ``reset``; end of
input stops it.

    python bench/peers/receiver.py      # prints its port
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time

import httptools
from smsc import quick_ack

ANSWERS = {
    b"/kannel": b"text/plain", b"/jasmin": b"text/plain", b"/pigeon": b"application/json",
}
BODIES = {b"/kannel": b"OK", b"/jasmin": b"ACK/Jasmin",
          b"/pigeon": json.dumps({"code": 0, "msg": "成功"}, ensure_ascii=False).encode()}


class Store:
    def __init__(self) -> None:
        self.kept: list[tuple[bytes, bytes]] = []
        self.reports = 0
        self.last = 0.0


class Connection(asyncio.Protocol):
    def __init__(self, store_of) -> None:
        self.store_of = store_of
        self.parser = httptools.HttpRequestParser(self)
        self.url = b""
        self.body: list[bytes] = []
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.socket = transport.get_extra_info("socket")

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()
            return
        quick_ack(self.socket)  # see smsc.py: Jasmin's DLR thrower leaves Nagle on

    # httptools callbacks
    def on_message_begin(self) -> None:
        self.url = b""
        self.body = []

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        store = self.store_of()
        body = b"".join(self.body)
        path = self.url.partition(b"?")[0]
        store.kept.append((self.url, body))
        store.reports += body.count(b'"report_id"') if path == b"/pigeon" else 1
        store.last = time.time()
        answer = BODIES.get(path, b"not found")
        head = (b"HTTP/1.1 200 OK\r\nContent-Type: " + ANSWERS.get(path, b"text/plain")
                + b"\r\nContent-Length: " + str(len(answer)).encode() + b"\r\n")
        if not self.parser.should_keep_alive():
            self.transport.write(head + b"Connection: close\r\n\r\n" + answer)
            self.transport.close()
            return
        self.transport.write(head + b"\r\n" + answer)


async def serve() -> None:
    loop = asyncio.get_running_loop()
    store = Store()

    def current() -> Store:
        return store

    server = await loop.create_server(lambda: Connection(current), "127.0.0.1", 0,
                                      backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    done = loop.create_future()
    stdin = sys.stdin.buffer

    def command() -> None:
        nonlocal store
        line = stdin.readline()
        if not line:
            loop.remove_reader(stdin.fileno())
            done.set_result(None)
            return
        verb, _, arg = line.decode().strip().partition(" ")
        if verb == "reset":
            store = Store()
        elif verb == "dump":
            with open(arg, "w", encoding="utf-8") as out:
                for url, body in store.kept:
                    out.write(json.dumps([url.decode("latin-1"), body.decode("utf-8")],
                                         ensure_ascii=False) + "\n")
        usage = resource.getrusage(resource.RUSAGE_SELF)
        sys.stdout.write(json.dumps({"requests": len(store.kept), "reports": store.reports,
                                     "last": store.last,
                                     "cpu_s": usage.ru_utime + usage.ru_stime}) + "\n")
        sys.stdout.flush()

    os.set_blocking(stdin.fileno(), True)
    loop.add_reader(stdin.fileno(), command)
    await done
    server.close()


def main() -> None:
    try:
        import uvloop
    except ImportError:
        asyncio.run(serve())
    else:
        uvloop.run(serve())


if __name__ == "__main__":
    main()
