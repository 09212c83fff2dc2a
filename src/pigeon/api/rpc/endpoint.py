"""The Dysmsapi-compatible RPC endpoint: ``GET``/``POST /``.

Decode (query and form body, chunked or not) → find the action (``x-acs-action`` header or
``Action`` parameter) → authenticate (V3 or V1 signature) → run the action → answer JSON with
``RequestId``/``Code``/``Message``.  Every failure becomes the one error body shape here; a
client's mistake never produces a 500 or a stack trace, and a storage fault (disk full, the
database gone) answers the retryable ``ServiceUnavailable``.  The body's size, read time and
memory are bounded before it gets here (:mod:`pigeon.api.guard`).
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from typing import TYPE_CHECKING

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from pigeon import logs, metrics
from pigeon.api.rpc.actions import Call, load
from pigeon.api.rpc.catalogue import refusal
from pigeon.api.rpc.params import Params
from pigeon.api.rpc.request import RpcRequest
from pigeon.core import source_ip
from pigeon.core.errors import PigeonError
from pigeon.services import audit
from pigeon.store import faults

if TYPE_CHECKING:
    from pigeon.app import Pigeon

log = logging.getLogger(__name__)

API_VERSION = "2017-05-25"
HOST_ID = "dysmsapi.aliyuncs.com"
JSON_TYPE = "application/json;charset=utf-8"


def new_request_id() -> str:
    """A RequestId: an upper-case random (version 4) UUID, as Alibaba's gateway answers.

    From ``random`` (seeded from the OS, and again in a forked child), not ``uuid4()``: a
    RequestId needs to be unique, not unpredictable, and ``uuid4()`` reads ``os.urandom``, a
    system call that lets go of the GIL — under load the event loop then waits for the writer
    thread to hand it back (4 % of the SendSms profile, bench/README.md)."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4)).upper()


def json_response(body: dict, status: int = 200, headers: dict | None = None) -> Response:
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(payload, status_code=status, headers=headers, media_type=JSON_TYPE)


def error_response(error: PigeonError, request_id: str) -> Response:
    body = {"RequestId": request_id, "Code": error.code, "Message": error.message}
    if not error.row.is_business:
        body["HostId"] = HOST_ID
        body["Recommend"] = (f"https://api.aliyun.com/troubleshoot?q={error.code}"
                             f"&product=Dysmsapi&requestId={request_id}")
    return json_response(body, error.http_status, error.headers)


async def _read_body(request: Request) -> bytes:
    # Its size is PIGEON_MAX_API_BODY at most (the guard).  One buffer, grown in place: the
    # body is held once, not once in chunks and once joined.
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
    return bytes(body) if len(body) < 65536 else body  # a large one is not copied again


class RpcEndpoint:
    def __init__(self, pigeon: Pigeon) -> None:
        self.pigeon = pigeon
        self.actions = load()

    async def handle(self, request: Request) -> Response:
        started = time.perf_counter()
        request_id = new_request_id()
        # Every line logged while this request runs (the writer's too) carries its RequestId.
        bound = logs.bind(request_id=request_id)
        seen = _Seen()
        code = "OK"
        try:
            return await self._handle(request, request_id, seen)
        except PigeonError as error:
            code = error.code
            return error_response(error, request_id)
        except ClientDisconnect:  # gone mid-body (or cut off by the guard): nobody to answer
            code = "ClientDisconnected"
            log.debug("request %s: the client went away before its body ended", request_id)
            return Response(status_code=400)
        except Exception as error:
            if faults.incidents.report(error):  # one line an incident, not one a request
                code = "ServiceUnavailable"
                return error_response(PigeonError("ServiceUnavailable"), request_id)
            code = "InternalError"
            log.exception("request %s failed", request_id)
            return error_response(PigeonError("InternalError"), request_id)
        finally:
            metrics.api_request(seen.action, code, time.perf_counter() - started)
            logs.unbind(bound)

    async def _handle(self, request: Request, request_id: str, seen: _Seen) -> Response:
        if request.method not in ("GET", "POST"):
            raise PigeonError("UnsupportedHTTPMethod")
        body = await _read_body(request)
        headers = {}
        for name, value in request.headers.items():
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        # The raw query string, decoded as request.url does it (UTF-8), without building and
        # re-splitting the whole URL (~7 µs a request).
        query = request.scope.get("query_string", b"").decode()
        rpc = RpcRequest.build(request.method, query, headers, body)

        name = rpc.action
        if not name:
            raise PigeonError.missing("Action")
        # Dysmsapi actions Pigeon does not offer are refused after authentication, with
        # their documented code (api/rpc/catalogue.py); unknown names are not found.
        handler = self.actions.get(name) or refusal(name)
        if handler is None:
            raise PigeonError("InvalidAction.NotFound")
        seen.action = name  # a known name: the metrics' labels stay few
        if rpc.version != API_VERSION:
            raise PigeonError("InvalidVersion")

        now = self.pigeon.now()
        authenticator = self.pigeon.authenticator
        verified = await authenticator.verify(rpc, now)
        key = verified.key
        # The nonce is used once, whatever the answer.  An action that writes first records it
        # in that write's transaction (records_nonce: SendSms, one write instead of two); for
        # the others it is recorded now.
        in_write = getattr(handler, "records_nonce", False)
        if not in_write:
            await authenticator.record(verified, now)
        call = Call(pigeon=self.pigeon, account_id=key.account_id,
                    access_key_id=key.access_key_id, params=Params(rpc.params), request=rpc,
                    now=now, nonce=verified.stored_nonce() if in_write else None)
        try:
            # After the signature, as Alibaba's RAM check: only the key's owner learns that the
            # address is not allowed.  Every action, not only the sending ones.  Without
            # trusted proxies or an allow-list (the usual case) nothing is parsed.
            client_ip = request.client.host if request.client else None
            trusted = self.pigeon.settings.trusted_proxies
            if trusted:
                client_ip = source_ip.client_address(client_ip, headers.get("x-forwarded-for"),
                                                     trusted)
            call.client_ip = client_ip
            if not in_write:  # not a send: whatever it changes is the key's, in the audit trail
                audit.acting(audit.api(key.access_key_id, key.account_id, client_ip))
            if key.allow_list:
                source_ip.check_allowed(key.allow_list, client_ip)
            fields = await handler(call)
        finally:
            if call.nonce is not None:  # refused before its write: the nonce is used all the same
                await authenticator.record(verified, now)
        return json_response({"RequestId": request_id, "Code": "OK", "Message": "OK", **fields})


class Direct:
    """ASGI middleware: the API's own requests (any method on ``/``) go straight to the RPC
    endpoint, everything else on to Starlette's exception handlers and router.

    The router would find the same route — the first it tries — and wrap the call in exception
    handlers that the endpoint never leaves anything to: it answers every error itself (a
    method other than GET and POST too: ``UnsupportedHTTPMethod``, in the API's error shape,
    where the router answered a plain-text 405).  On every SendSms that was about a tenth of
    its CPU (bench/README.md, "The endpoint's own cost").  The Guard stays in front of both."""

    def __init__(self, app: ASGIApp, endpoint: RpcEndpoint) -> None:
        self.app = app
        self.endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/" and not scope.get("root_path"):
            response = await self.endpoint.handle(Request(scope, receive, send))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


class _Seen:
    """What the metrics learn of a request on its way: its action, once it is a known one."""

    __slots__ = ("action",)

    def __init__(self) -> None:
        self.action = "other"



