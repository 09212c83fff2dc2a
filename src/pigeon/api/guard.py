"""The guard in front of every route: limits on a request's body, enforced before the app reads
it, and the answers every route gives when a request cannot be served.

What the connection itself may send — request line, headers, their time — is checked earlier,
by the server's protocol (:mod:`pigeon.http_protocol`); here the route is known:

* **Size.**  Each route has its largest body (:func:`body_limit`).  A body declared larger
  (``Content-Length``) is refused before a byte of it is read; a chunked one is cut off where
  it passes the limit.
* **Time.**  The whole body must arrive within ``PIGEON_BODY_TIMEOUT`` of the request's
  headers (408, connection closed): a client trickling a byte a minute holds nothing for long.
* **Memory.**  The RPC endpoint reads a body whole before it can check the signature over it,
  so bodies that an unauthenticated client sends cost memory.  All bodies the RPC endpoint
  holds at once share one budget per process (``PIGEON_BODY_MEMORY``); a request that would
  pass it is answered ``ServiceUnavailable`` at once, retryable.  (The console reads a form
  only once its user is signed in — the sign-in form itself is 64 KiB at most — and spools
  files to disk, as the upload endpoint does; the queue endpoint's bodies are 64 KiB at most.)
* **A client that goes away** mid-body is not an error of the server: it is logged at debug
  level, without a traceback.
* **A storage fault** (disk full, read-only, database gone; :mod:`pigeon.store.faults`) that
  reaches the guard is answered 503, retryable, and counted towards the incident.

An answer given here instead of the app's closes the connection when the body was not read in
full, so that nothing is left to drain.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from starlette.requests import ClientDisconnect
from starlette.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pigeon.api import mns, uploads
from pigeon.api.rpc.endpoint import error_response, new_request_id
from pigeon.config import Settings
from pigeon.console.auth import SIGN_IN_PATH
from pigeon.console.rendering import BASE
from pigeon.core.errors import PigeonError
from pigeon.store import faults

log = logging.getLogger(__name__)

OTHER_ROUTES_BODY = 64 * 1024
"""Largest body of any other address (the sign-in form, unknown paths)."""
_SMALL_FORMS = (SIGN_IN_PATH, BASE + "/signout")
"""Console forms posted without a session: read into memory before anyone is known."""


@dataclass(frozen=True)
class BodyLimits:
    api: int = 10 * 1024 * 1024  # the RPC endpoint
    console: int = 16 * 1024 * 1024  # /console and /ops forms
    timeout: float = 60.0  # seconds for a whole body
    memory: int = 32 * 1024 * 1024  # RPC bodies held at once, per process

    @classmethod
    def of(cls, settings: Settings) -> BodyLimits:
        return cls(api=settings.max_api_body, console=settings.max_console_body,
                   timeout=settings.body_timeout.total_seconds(), memory=settings.body_memory)


def body_limit(path: str, limits: BodyLimits) -> int:
    """The largest body a request to ``path`` may send."""
    if path == "/":
        return limits.api
    if path in _SMALL_FORMS:
        return OTHER_ROUTES_BODY
    if path.startswith(("/console", "/ops")):
        return limits.console
    if path.startswith(uploads.UPLOAD_PATH):
        # The upload endpoint answers OSS's EntityTooLarge itself past its 5 MB, draining up
        # to here so that a client still sending reads the answer.
        return uploads.DRAIN_LIMIT
    if path.startswith("/queues"):
        return mns.MAX_BODY
    return OTHER_ROUTES_BODY


class _Budget:
    """Bytes of request bodies held in memory, against a ceiling (one process, one loop)."""

    def __init__(self, ceiling: int) -> None:
        self.ceiling = ceiling
        self.used = 0

    def take(self, size: int) -> bool:
        if self.used + size > self.ceiling:
            return False
        self.used += size
        return True

    def give(self, size: int) -> None:
        self.used -= size


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class _Request:
    """One request's body as the guard has seen it."""

    def __init__(self, limit: int, deadline: float | None, buffered: bool) -> None:
        self.limit = limit
        self.deadline = deadline  # None: no body to wait for
        self.buffered = buffered  # held whole in memory: counts against the budget
        self.received = 0
        self.reserved = 0
        self.ended = False  # the last body chunk arrived
        self.gone = False  # the client disconnected
        self.refusal: _Refusal | None = None
        self.started = False  # the app's answer began


class Guard:
    """ASGI middleware: see the module's docstring."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits
        self.budget = _Budget(limits.memory)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        limit = body_limit(path, self.limits)
        declared, chunked = _declared(scope)
        # A request that declares no body (no or a zero Content-Length, not chunked) has
        # nothing to wait for: its receive() answers at once, without a deadline to keep —
        # the SDKs' SendSms, every parameter in the query string.
        has_body = bool(declared) or chunked
        deadline = asyncio.get_running_loop().time() + self.limits.timeout if has_body else None
        request = _Request(limit, deadline, buffered=path == "/")
        if declared is not None and declared > limit:
            await self._answer(scope, send, _too_large(limit), close=True)
            return
        if request.buffered and declared:
            if not self.budget.take(declared):
                await self._answer(scope, send, _busy(), close=True)
                return
            request.reserved = declared
        try:
            await self.app(scope, self._receiving(request, receive),
                           self._sending(request, send, unread=has_body))
        except Exception as error:
            if request.refusal is not None or request.gone or isinstance(error,
                                                                         ClientDisconnect):
                log.debug("%s %s: the client went away or was refused mid-body (%s)",
                          scope.get("method"), path, type(error).__name__)
            elif faults.incidents.report(error):
                if not request.started:
                    await self._answer(scope, send, _unavailable(), close=True)
            else:
                raise
        finally:
            self.budget.give(request.reserved)
        if request.refusal is not None and not request.started:
            await self._answer(scope, send, request.refusal, close=True)

    def _receiving(self, request: _Request, receive: Receive) -> Receive:
        budget = self.budget

        async def guarded() -> Message:
            if request.refusal is not None or request.gone:
                return {"type": "http.disconnect"}
            if request.ended:  # Starlette listens for the disconnect once the body is read
                return await receive()
            if request.deadline is None:  # no body: its empty one is there already
                message = await receive()
            else:
                remaining = request.deadline - asyncio.get_running_loop().time()
                try:
                    async with asyncio.timeout(max(remaining, 0.0)):
                        message = await receive()
                except TimeoutError:
                    request.refusal = _Refusal(408, "RequestTimeout",
                                               "The request body did not arrive in time.")
                    return {"type": "http.disconnect"}
            if message["type"] == "http.disconnect":
                request.gone = True
                return message
            size = len(message.get("body", b""))
            request.received += size
            if request.received > request.limit:
                request.refusal = _too_large(request.limit)
                return {"type": "http.disconnect"}
            if request.buffered and request.received > request.reserved:
                extra = request.received - request.reserved  # a chunked body grows
                if not budget.take(extra):
                    request.refusal = _busy()
                    return {"type": "http.disconnect"}
                request.reserved += extra
            if not message.get("more_body", False):
                request.ended = True
            return message

        return guarded

    @staticmethod
    def _sending(request: _Request, send: Send, *, unread: bool) -> Send:
        async def guarded(message: Message) -> None:
            if request.refusal is not None and not request.started:
                return  # the guard answers instead (after the app returns)
            if message["type"] == "http.response.start":
                request.started = True
                if unread and not request.ended:
                    # The app answered without reading the whole body: close the connection
                    # rather than leave the rest to arrive (and be discarded) at the client's
                    # pace.
                    message = {**message, "headers": [*message.get("headers", ()),
                                                      (b"connection", b"close")]}
            await send(message)

        return guarded

    @staticmethod
    async def _answer(scope: Scope, send: Send, refusal: _Refusal, *, close: bool) -> None:
        headers = {"connection": "close"} if close else {}
        if scope.get("path") == "/" and refusal.code != "RequestTimeout":
            # The RPC endpoint's own error shape, which the official SDKs read.
            response: Response = error_response(PigeonError(refusal.code, refusal.message),
                                                new_request_id())
            response.headers.update(headers)
        else:
            response = PlainTextResponse(refusal.message, status_code=refusal.status,
                                         headers=headers)

        async def nothing() -> Message:
            return {"type": "http.disconnect"}

        await response(scope, nothing, send)


def _declared(scope: Scope) -> tuple[int | None, bool]:
    """The request's ``Content-Length`` (None when absent or unreadable) and whether its body
    is chunked."""
    length, chunked = None, False
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    return length, chunked


def _too_large(limit: int) -> _Refusal:
    return _Refusal(413, "InvalidParameter",
                    f"The request body is larger than {limit} bytes.")


def _busy() -> _Refusal:
    return _Refusal(503, "ServiceUnavailable",
                    "The server holds as many request bodies as it may; try again shortly.")


def _unavailable() -> _Refusal:
    return _Refusal(503, "ServiceUnavailable",
                    "The request has failed due to a temporary failure of the server.")
