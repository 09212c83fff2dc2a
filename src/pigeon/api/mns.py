"""The MNS-compatible queue endpoint: ``/queues/<QueueName>`` and ``/queues/<QueueName>/messages``.

Queue mode's consumers are the official MNS clients (``aliyun-mns-sdk`` and its siblings) with
the temporary credentials of Dybaseapi ``QueryTokenForMnsQueue``; configured with Pigeon's URL as
their endpoint instead of Alibaba's fixed Alicom one, they work unchanged.  The clients take the
endpoint as a host only (``http://pigeon.example.com:8080``, no path), which is why this is
mounted at ``/queues`` of the API's own server.  What they send, and what is answered:

- Every request carries ``Date`` (RFC 1123), ``x-mns-version: 2015-06-06``,
  ``security-token`` (the SecurityToken) and ``Authorization: MNS <AccessKeyId>:<signature>``,
  the signature being Base64(HMAC-SHA1(AccessKeySecret, METHOD "\\n" Content-MD5 "\\n"
  Content-Type "\\n" Date "\\n" <each x-mns-* header "name:value\\n", sorted> <path?query as
  sent>)).  A credential opens only its own tenant's queue of its own MessageType.
- ``GET …/messages[?waitseconds=N]`` receives one message, ``GET …/messages?numOfMessages=N
  [&waitseconds=N]`` up to 16, waiting up to 30 seconds for one to arrive (long polling).  A
  message body is the report's JSON text in Base64.  ``404 MessageNotExist`` when none came.
- ``DELETE …/messages?ReceiptHandle=H`` deletes one message, ``DELETE …/messages`` with an XML
  ``<ReceiptHandles>`` body up to 16 (``204``; ``404`` with an ``<Errors>`` list when some failed).
- ``PUT …/messages?ReceiptHandle=H&VisibilityTimeout=S`` (ChangeMessageVisibility) and
  ``GET /queues/<QueueName>`` (GetQueueAttributes).  Nothing else: ``403 AccessDenied``.
- Answers are MNS's XML; errors the XML ``<Error>`` (Code, Message, RequestId, HostId) with MNS's
  codes and statuses (``core.errors.MNS``).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import logging
import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from pigeon.core.errors import MnsError
from pigeon.services import queues
from pigeon.store import faults

if TYPE_CHECKING:
    from pigeon.app import Pigeon

log = logging.getLogger(__name__)

MNS_VERSION = "2015-06-06"
XMLNS = "http://mns.aliyuncs.com/doc/v1/"
XML_TYPE = "text/xml;charset=utf-8"
MAX_BODY = 64 * 1024  # a BatchDeleteMessage of 16 handles is well under 2 KB
MAX_BATCH = 16
MAX_WAIT_SECONDS = 30
MAX_VISIBILITY_SECONDS = 43200
# How often a waiting long poll looks at its queue when no enqueue in this process woke it.
POLL_SECONDS = 1.0
PRIORITY = 8  # MNS's default; Pigeon's queues have no priorities

_PATH = re.compile(r"/queues/([^/]+)(/messages)?")


# -- signatures (pure) -------------------------------------------------------------------------

def string_to_sign(method: str, headers: Mapping[str, str], resource: str) -> str:
    """MNS's string to sign; ``headers`` by lower-case name, ``resource`` the path and query
    exactly as the request line had them."""
    mns_headers = "".join(f"{name}:{headers[name]}\n" for name in sorted(headers)
                          if name.startswith("x-mns-"))
    date = headers.get("x-mns-date") or headers.get("date", "")
    return (f"{method}\n{headers.get('content-md5', '')}\n{headers.get('content-type', '')}\n"
            f"{date}\n{mns_headers}{resource}")


def sign(secret: str, text: str) -> str:
    digest = hmac.new(secret.encode("utf-8"), text.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def parse_authorization(value: str) -> tuple[str, str]:
    """``MNS <AccessKeyId>:<signature>`` → ``(AccessKeyId, signature)``."""
    scheme, _, credential = value.strip().partition(" ")
    key_id, colon, signature = credential.strip().partition(":")
    if scheme != "MNS" or not colon or not key_id or not signature:
        raise MnsError("InvalidAuthorizationHeader",
                       "The Authorization header format is invalid: expected "
                       "'MNS <AccessKeyId>:<Signature>'.")
    return key_id, signature


def parse_date(text: str) -> datetime:
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        when = None
    if when is None or when.tzinfo is None:
        raise MnsError("InvalidDateHeader",
                       "The Date header format is invalid: expected RFC 1123, "
                       "e.g. 'Thu, 07 Mar 2012 18:49:58 GMT'.")
    return when


def _content_md5_matches(value: str, body: bytes) -> bool:
    # The Python client sends Base64 of the hex digest; others Base64 of the digest itself.
    md5 = hashlib.md5(body, usedforsecurity=False)
    forms = (base64.b64encode(md5.hexdigest().encode("ascii")).decode("ascii"),
             base64.b64encode(md5.digest()).decode("ascii"))
    return any(hmac.compare_digest(value.encode("utf-8"), form.encode("ascii"))
               for form in forms)


# -- XML ---------------------------------------------------------------------------------------

def _document(root: str, inner: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root} xmlns="{XMLNS}">{inner}</{root}>'
            .encode())


def _elements(*pairs: tuple[str, object]) -> str:
    return "".join(f"<{name}>{escape(str(value))}</{name}>" for name, value in pairs)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def _message_fields(row: dict) -> str:
    body = base64.b64encode(row["body"].encode("utf-8")).decode("ascii")
    md5 = hashlib.md5(body.encode("ascii"), usedforsecurity=False).hexdigest().upper()
    return _elements(
        ("MessageId", f"{row['id']:016X}-{_ms(row['enqueued_at']):X}"),
        ("ReceiptHandle", row["receipt_handle"]),
        ("MessageBodyMD5", md5),
        ("MessageBody", body),
        ("EnqueueTime", _ms(row["enqueued_at"])),
        ("NextVisibleTime", _ms(row["visible_at"])),
        ("FirstDequeueTime", _ms(row["first_dequeued_at"])),
        ("DequeueCount", row["dequeue_count"]),
        ("Priority", PRIORITY),
    )


def _receipt_handles(body: bytes) -> list[str]:
    # No DOCTYPE, hence no entities to expand: the body is a flat list.
    if b"<!doctype" in body.lower():
        raise MnsError("MalformedXML")
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise MnsError("MalformedXML") from None
    if root.tag.rpartition("}")[2] != "ReceiptHandles":
        raise MnsError("InvalidArgument", "The XML you provided did not validate against our "
                                          "published schema: the root must be ReceiptHandles.")
    return [(child.text or "").strip() for child in root
            if child.tag.rpartition("}")[2] == "ReceiptHandle"]


# -- the endpoint ------------------------------------------------------------------------------

def _headers(request: Request) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in request.headers.items():  # names come lower-cased
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    return headers


def _resource(request: Request) -> str:
    """The path and query as the request line had them: what the client signed."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode("utf-8")
    query = request.scope.get("query_string", b"")
    resource = raw_path.decode("utf-8", "replace")
    return f"{resource}?{query.decode('utf-8', 'replace')}" if query else resource


def _int(params: dict[str, str], name: str, low: int, high: int, default: int) -> int:
    text = params.get(name.lower())
    if text is None:
        return default
    value = int(text) if text.isdigit() and len(text) < 10 else -1
    if not low <= value <= high:
        raise MnsError("InvalidArgument",
                       f"The value of {name} should between {low} and {high}.")
    return value


def error_response(error: MnsError, request_id: str, host: str) -> Response:
    body = _document("Error", _elements(("Code", error.code), ("Message", error.message),
                                        ("RequestId", request_id), ("HostId", host)))
    return _response(body, request_id, error.http_status)


def _response(body: bytes | None, request_id: str, status: int = 200) -> Response:
    headers = {"x-mns-request-id": request_id, "x-mns-version": MNS_VERSION}
    if body is None:
        return Response(status_code=status, headers=headers)
    return Response(body, status_code=status, headers=headers, media_type=XML_TYPE)


async def _read_body(request: Request) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise MnsError("InvalidArgument", f"The request body is larger than {MAX_BODY} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


class MnsEndpoint:
    def __init__(self, pigeon: Pigeon) -> None:
        self.pigeon = pigeon

    async def handle(self, request: Request) -> Response:
        request_id = uuid.uuid4().hex[:24].upper()
        host = request.headers.get("host", "")
        try:
            return await self._handle(request, request_id)
        except MnsError as error:
            return error_response(error, request_id, host)
        except Exception as error:
            if isinstance(error, ClientDisconnect) or faults.is_storage_fault(error):
                raise  # the guard's: a quiet disconnect, a 503 for the storage incident
            log.exception("queue request %s failed", request_id)
            return error_response(MnsError("InternalError"), request_id, host)

    async def _handle(self, request: Request, request_id: str) -> Response:
        headers = _headers(request)
        body = await _read_body(request)
        now = self.pigeon.now()
        token = await self._authenticate(request.method, headers, _resource(request), body, now)

        match = _PATH.fullmatch(request.url.path)
        if match is None:
            raise MnsError("InvalidRequestURL")
        # The same answer for another tenant's queue as for one that does not exist.
        if match.group(1) != token.queue:  # the path is percent-decoded already
            raise MnsError("AccessDenied")
        queue = token.queue
        params = {name.lower(): value for name, value
                  in parse_qsl(request.url.query, keep_blank_values=True)}
        method, messages = request.method, match.group(2) is not None

        if method == "GET" and not messages:
            return await self._attributes(queue, request_id)
        if method == "GET" and "peekonly" not in params:
            return await self._receive(queue, params, request_id)
        if method == "DELETE" and messages:
            return await self._delete(queue, params, body, request_id)
        if method == "PUT" and messages and "receipthandle" in params:
            return await self._change_visibility(queue, params, request_id)
        raise MnsError("AccessDenied", "Queue-mode credentials receive, delete and change the "
                                       "visibility of messages; nothing else.")

    async def _authenticate(self, method: str, headers: dict[str, str], resource: str,
                            body: bytes, now: datetime) -> queues.QueueToken:
        """The credential that signed the request, or MNS's error.  The order of the checks
        tells a caller nothing about a credential before it has proven it holds the secret."""
        if not headers.get("authorization"):
            raise MnsError("MissingAuthorizationHeader")
        key_id, signature = parse_authorization(headers["authorization"])
        date = headers.get("x-mns-date") or headers.get("date")
        if not date:
            raise MnsError("MissingDateHeader")
        signed_at = parse_date(date)

        token = await self.pigeon.db.read(queues.find_token, self.pigeon.box, key_id)
        if token is None:
            raise MnsError("InvalidAccessKeyId")
        expected = sign(token.secret, string_to_sign(method, headers, resource))
        if not hmac.compare_digest(signature.encode("utf-8"), expected.encode("ascii")):
            raise MnsError("SignatureDoesNotMatch")
        if not token.has_security_token(headers.get("security-token", "")):
            raise MnsError("AccessDenied", "The security token you provided is not valid.")
        if token.expires_at <= now:
            raise MnsError("AccessDenied", "The security token you provided has expired: get a "
                                           "new one with QueryTokenForMnsQueue.")
        if abs(now - signed_at) > self.pigeon.settings.signature_window:
            raise MnsError("TimeExpired")
        if "content-md5" in headers and not _content_md5_matches(headers["content-md5"], body):
            raise MnsError("InvalidDegist")
        return token

    async def _attributes(self, queue: str, request_id: str) -> Response:
        found = await self.pigeon.db.read(queues.attributes, queue, self.pigeon.now())
        created = int(found["created_at"].timestamp())
        body = _document("Queue", _elements(
            ("QueueName", queue),
            ("CreateTime", created),
            ("LastModifyTime", created),
            ("VisibilityTimeout", int(queues.VISIBILITY_TIMEOUT.total_seconds())),
            ("MaximumMessageSize", queues.MAX_MESSAGE_SIZE),
            ("MessageRetentionPeriod", int(queues.RETENTION.total_seconds())),
            ("DelaySeconds", 0),
            ("PollingWaitSeconds", 0),
            ("ActiveMessages", found["active"]),
            ("InactiveMessages", found["inactive"]),
            ("DelayMessages", 0),
            ("LoggingEnabled", "False"),
        ))
        return _response(body, request_id)

    async def _receive(self, queue: str, params: dict[str, str], request_id: str) -> Response:
        batch = "numofmessages" in params
        count = _int(params, "numOfMessages", 1, MAX_BATCH, 1)
        wait = _int(params, "waitseconds", 0, MAX_WAIT_SECONDS, 0)
        received = await self._long_poll(queue, count, wait)
        if not received:
            raise MnsError("MessageNotExist")
        if batch:
            body = _document("Messages", "".join(f"<Message>{_message_fields(row)}</Message>"
                                                 for row in received))
        else:
            body = _document("Message", _message_fields(received[0]))
        return _response(body, request_id)

    async def _long_poll(self, queue: str, count: int, wait: int) -> list[dict]:
        """Claim messages, waiting up to ``wait`` seconds for some to become visible.

        An empty queue costs no database writes, however often consumers ask (the official
        demos ask every 50 ms without waiting): a claim goes through the one writer only when a
        read saw ready messages — looking first, then every :data:`POLL_SECONDS` for messages
        put in by another node or back from an expired visibility timeout — or at once when an
        enqueue in this process rang.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        with queues.DOORBELL.listen(queue) as bell:
            rung = False
            while True:
                if rung or await self.pigeon.db.read(queues.ready_count, queue,
                                                     self.pigeon.now()):
                    received = await self.pigeon.db.write(queues.receive, queue, count,
                                                          self.pigeon.now())
                    if received:
                        return received
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return []
                rung = await bell.wait(min(remaining, POLL_SECONDS))

    async def _delete(self, queue: str, params: dict[str, str], body: bytes,
                      request_id: str) -> Response:
        now = self.pigeon.now()
        if "receipthandle" in params:  # DeleteMessage
            handle = params["receipthandle"]
            if not handle:
                raise MnsError("MissingReceiptHandle")
            failures = await self.pigeon.db.write(queues.delete_messages, queue, [handle], now)
            if failures:
                raise MnsError(failures[0][1])
            return _response(None, request_id, 204)

        if not body.strip():
            raise MnsError("MissingReceiptHandle")
        handles = _receipt_handles(body)  # BatchDeleteMessage
        if not 1 <= len(handles) <= MAX_BATCH:
            raise MnsError("InvalidArgument",
                           f"The count of ReceiptHandle should between 1 and {MAX_BATCH}.")
        failures = await self.pigeon.db.write(queues.delete_messages, queue, handles, now)
        if not failures:
            return _response(None, request_id, 204)
        errors = "".join("<Error>" + _elements(
            ("ErrorCode", code), ("ErrorMessage", MnsError(code).message),
            ("ReceiptHandle", handle)) + "</Error>" for handle, code in failures)
        return _response(_document("Errors", errors), request_id, 404)

    async def _change_visibility(self, queue: str, params: dict[str, str],
                                 request_id: str) -> Response:
        handle = params.get("receipthandle", "")
        if not handle:
            raise MnsError("MissingReceiptHandle")
        if not params.get("visibilitytimeout"):
            raise MnsError("MissingVisibilityTimeout")
        seconds = _int(params, "VisibilityTimeout", 0, MAX_VISIBILITY_SECONDS, 0)
        changed = await self.pigeon.db.write(queues.change_visibility, queue, handle,
                                             timedelta(seconds=seconds), self.pigeon.now())
        body = _document("ChangeVisibility", _elements(
            ("ReceiptHandle", changed["receipt_handle"]),
            ("NextVisibleTime", _ms(changed["visible_at"]))))
        return _response(body, request_id)
