"""The HTTP/1.1 connection of ``pigeon serve``: uvicorn's httptools protocol with the limits it
lacks, enforced before a request reaches the app.

uvicorn (0.55, read from its source) leaves an unauthenticated client free to spend the
server's memory and connections:

* httptools has no limit on the request line or headers: it grows each header value by
  concatenation (``_current_header_value += val``, in Python) until the line ends, so a
  half-sent 5 MB header costs megabytes and quadratic copying.  (h11's
  ``h11_max_incomplete_event_size`` bounds that, but not the number of headers or the time.)
* nothing times the request head: a connection that never sends a byte, or one byte a
  minute, stays open for good (the keep-alive timer runs only between requests, and is
  cancelled by the first byte);
* ``limit_concurrency`` answers 503 only once a request's head is complete, and counts
  connections that are still trickling their headers; ``limit_max_requests`` is no cap at
  all, it ends the process after so many requests.  (``timeout_keep_alive`` is used as is.)

So this subclass counts the bytes of each request head *before* feeding them to the parser
and refuses the request (431, 414) the moment it passes :attr:`Limits.max_head`; arms a timer
from the connection's opening, and from each request's first byte, to the end of its headers
(408); refuses a connection past :attr:`Limits.max_connections` (503) before reading it.  The
body — its size per route, its read time, the memory all bodies take — is the app's guard's
job (:mod:`pigeon.api.guard`), where the route is known.

uvicorn builds one protocol per connection from its ``Config``; the limits travel on that
config (:func:`configure`), which ``pigeon serve --workers N`` pickles to each API process.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import httptools
import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol

from pigeon.config import Settings

log = logging.getLogger(__name__)

_CONFIG_ATTRIBUTE = "pigeon_limits"
PROTOCOL = "pigeon.http_protocol:LimitedHttpProtocol"
"""What ``uvicorn.Config(http=...)`` names: importable in every API process."""


@dataclass(frozen=True)
class Limits:
    """What one connection may send and hold (``PIGEON_*`` settings)."""

    max_request_line: int = 64 * 1024
    max_header_bytes: int = 32 * 1024
    max_headers: int = 100
    header_timeout: float = 10.0
    max_connections: int = 1000

    @property
    def max_head(self) -> int:
        """Bytes of request line and headers together; the line's own limit is checked apart."""
        return self.max_request_line + self.max_header_bytes

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(max_request_line=settings.max_request_line,
                   max_header_bytes=settings.max_header_bytes,
                   max_headers=settings.max_headers,
                   header_timeout=settings.header_timeout.total_seconds(),
                   max_connections=settings.max_connections)


def server_config(app, settings: Settings, **options) -> uvicorn.Config:
    """A ``uvicorn.Config`` serving ``app`` with :class:`LimitedHttpProtocol` and the
    settings' limits (``options``: uvicorn's others)."""
    config = uvicorn.Config(app, http=PROTOCOL, timeout_keep_alive=max(
        1, round(settings.keep_alive_timeout.total_seconds())), **options)
    setattr(config, _CONFIG_ATTRIBUTE, Limits.of(settings))
    return config


class _Refused(Exception):
    def __init__(self, status: int, why: str) -> None:
        super().__init__(why)
        self.status = status
        self.why = why


class LimitedHttpProtocol(HttpToolsProtocol):
    """:class:`~uvicorn.protocols.http.httptools_impl.HttpToolsProtocol` with head limits, a
    head timeout and a connection cap."""

    def __init__(self, config, server_state, app_state, _loop=None) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits: Limits = getattr(config, _CONFIG_ATTRIBUTE, None) or Limits()
        self._in_head = True  # the bytes arriving belong to a request's line and headers
        self._head_bytes = 0
        self._completed = 0  # requests whose body ended: tells one head from the next
        self._head_timer = None

    # -- the connection ---------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        super().connection_made(_OneWrite(transport, self.loop))
        if len(self.connections) > self.limits.max_connections:
            log.debug("connection refused: %d open", len(self.connections))
            self._refuse(503, "Too many connections; try again later.")
            return
        self._arm_head_timer()

    def connection_lost(self, exc) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        while data and not self.transport.is_closing():
            if not self._in_head:  # body bytes (a pipelined head among them counts from the
                self._feed(data)   # next read on)
                return
            room = self.limits.max_head - self._head_bytes
            if len(data) <= room:
                self._head_bytes += len(data)
                self._feed(data)
                return
            # Feed what fits: the head may end inside it.  If the same head is still open
            # after it, it is too large, whatever follows.
            completed = self._completed
            self._feed(data[:room])
            if self._in_head and self._completed == completed:
                self._refuse(431, "Request header fields too large.")
                return
            data = data[room:]

    def _feed(self, data: bytes) -> None:
        # uvicorn's data_received, but a refusal raised by a callback below is answered as
        # itself, and a malformed request is not a warning in the log for every attempt.
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as error:
            refused = error.__context__
            if isinstance(refused, _Refused):
                self._refuse(refused.status, refused.why)
            else:
                log.debug("invalid HTTP request from %s: %s", self.client, error)
                self.send_400_response("Invalid HTTP request received.")
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()

    # -- parser callbacks -------------------------------------------------------------------
    # httptools wraps an exception raised in a callback in HttpParserCallbackError (a
    # HttpParserError, which uvicorn answers with a bare 400); the original is its context.

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._head_timer is None:  # a keep-alive connection's next request: time its head
            self._arm_head_timer()

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_request_line:
            raise _Refused(414, "Request line too long.")

    def on_header(self, name: bytes, value: bytes) -> None:
        super().on_header(name, value)
        if len(self.headers) > self.limits.max_headers:
            raise _Refused(431, "Too many request header fields.")

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm_head_timer()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # The next bytes on this connection are the next request's head.
        self._in_head = True
        self._head_bytes = 0
        self._completed += 1

    # -- refusing -----------------------------------------------------------------------------

    def _arm_head_timer(self) -> None:
        self._disarm_head_timer()
        self._head_timer = self.loop.call_later(self.limits.header_timeout, self._head_late)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        self._refuse(408, "Request headers took too long.")

    def _refuse(self, status: int, why: str) -> None:
        """Answer ``status`` and close: the request never reaches the app."""
        self._disarm_head_timer()
        if self.transport.is_closing():
            return
        if self.cycle is not None and not self.cycle.response_complete:
            self.transport.close()  # an earlier request's answer is under way: no room
            return
        body = why.encode()
        self.transport.write(b"".join([
            STATUS_LINE[status],
            b"content-type: text/plain; charset=utf-8\r\n",
            b"content-length: ", str(len(body)).encode(), b"\r\n",
            b"connection: close\r\n\r\n", body]))
        self.transport.close()


class _OneWrite:
    """The connection's transport as uvicorn writes to it, a response's head held for the body.

    uvicorn writes a response's status line and headers when the app starts its answer, then
    the body: two writes, two system calls and two TCP segments for an answer of a few hundred
    bytes — a send on loopback costs ~9 µs of the server's CPU, 6 % of a SendSms in the peer
    benchmark's profile (bench/README.md, "The endpoint's own cost").  Here a head is held
    until the next write — the body's, in the same turn of the loop — and both go as one; a
    head that nothing follows in that turn (a HEAD's answer, a body that streams later) is
    written at the end of the turn, and before the connection closes.  Every other write, and
    everything else of the transport, is the transport's own, in order."""

    __slots__ = ("_transport", "_loop", "_head")

    def __init__(self, transport, loop) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None

    def write(self, data: bytes) -> None:
        head = self._head
        if head is not None:
            self._head = None
            data = head + data
        elif data[-4:] == b"\r\n\r\n" and data[:5] == b"HTTP/":
            self._head = data
            self._loop.call_soon(self._flush)
            return
        self._transport.write(data)

    def _flush(self) -> None:
        head = self._head
        if head is not None:
            self._head = None
            if not self._transport.is_closing():
                self._transport.write(head)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def __getattr__(self, name: str):
        return getattr(self._transport, name)
