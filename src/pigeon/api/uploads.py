"""The upload endpoint: OSS's PostObject on ``POST /oss`` (also ``/oss/``).

GetQualificationOssInfo and GetOSSInfoForUploadFile give a tenant upload credentials whose
``Host`` is this endpoint; the tenant's code (or browser) then posts each proof file exactly as
it would post to an OSS bucket, and names the object keys in SubmitSmsQualification or
``MoreData``.  The protocol, as OSS defines it:

- ``multipart/form-data`` with the text fields ``key``, ``policy``, ``OSSAccessKeyId``,
  ``Signature``, optionally ``success_action_status`` and others, and ``file`` as the last
  field.  Field names are compared without regard to case; ``${filename}`` in ``key`` becomes
  the uploaded file's name.
- Success: ``success_action_status`` 200 or 204 answer that status with an empty body, 201
  answers the XML ``<PostResponse>`` (Bucket, Location, Key, ETag); absent or anything else is
  204.  The ``ETag`` header is the quoted upper-case MD5 of the file.
- Failure: 400/403 with OSS's XML ``<Error>`` (Code, Message, RequestId, HostId).

The checks themselves are ``core.post_policy``'s; the file must be one of
``core.proof_files.ACCEPTED`` by content.  Re-uploading a key replaces the file.
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote
from xml.sax.saxutils import escape

from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from pigeon.config import Settings
from pigeon.core import post_policy, proof_files
from pigeon.core.errors import OssError
from pigeon.services import uploads
from pigeon.store import faults

if TYPE_CHECKING:
    from pigeon.app import Pigeon

log = logging.getLogger(__name__)

UPLOAD_PATH = "/oss"
BUCKET = "pigeon"
# The file plus the other fields and the multipart framing.
MAX_BODY = post_policy.MAX_UPLOAD_BYTES + 64 * 1024
# A larger body is read and thrown away up to this size, so that the client, still sending,
# gets the EntityTooLarge answer instead of a reset connection; beyond it the answer comes at once.
DRAIN_LIMIT = 32 * 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024
XML_TYPE = "application/xml"

_HOST = re.compile(r"[A-Za-z0-9.\-]+(:\d{1,5})?|\[[0-9A-Fa-f:.]+\](:\d{1,5})?")


def reached_address(headers: Mapping[str, str], settings: Settings) -> str:
    """The address the caller reached Pigeon at, ``scheme://host[:port]``: the ``Host`` header
    as received (the listening address if it is not a host name), ``https`` when a TLS proxy
    sends ``X-Forwarded-Proto: https``."""
    host = headers.get("host", "").strip()
    if not _HOST.fullmatch(host):
        host = f"{settings.host}:{settings.port}"
    forwarded = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    scheme = "https" if forwarded == "https" else "http"
    return f"{scheme}://{host}"


def upload_url(headers: Mapping[str, str], settings: Settings) -> str:
    """Where a tenant uploads: this endpoint at the address the tenant reached."""
    return f"{reached_address(headers, settings)}{UPLOAD_PATH}"


def _xml(root: str, elements: list[tuple[str, str]]) -> bytes:
    inner = "".join(f"  <{name}>{escape(value)}</{name}>\n" for name, value in elements)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}>\n{inner}</{root}>\n'.encode()


def error_response(error: OssError, request_id: str, host: str) -> Response:
    body = _xml("Error", [("Code", error.code), ("Message", error.message),
                          ("RequestId", request_id), ("HostId", host)])
    return Response(body, status_code=error.http_status, media_type=XML_TYPE,
                    headers={"x-oss-request-id": request_id})


class _LimitedBody:
    """The request body for the parser, cut off after :data:`MAX_BODY` bytes (and the rest
    drained up to :data:`DRAIN_LIMIT`)."""

    def __init__(self, request: Request) -> None:
        self.request = request
        self.too_large = False

    async def chunks(self) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in self.request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                self.too_large = True
                if size > DRAIN_LIMIT:
                    break
                continue
            yield chunk
        if self.too_large:
            # Fail the parse rather than end it early: a parse that ends normally leaves the
            # file it was spooling (the unfinished last part) open; a failed one closes it.
            raise MultiPartException("the body is too large")


def _too_large() -> OssError:
    return OssError("EntityTooLarge",
                    f"Your proposed upload exceeds the maximum allowed size: a proof file may "
                    f"have at most {post_policy.MAX_UPLOAD_BYTES} bytes (5 MB).")


def _fields(items: list[tuple[str, str | UploadFile]]) -> tuple[dict[str, str], UploadFile]:
    """Text fields by lower-cased name, and the ``file`` part, which must come last."""
    if not items or not isinstance(items[-1][1], UploadFile) or items[-1][0].lower() != "file":
        raise OssError("MalformedPOSTRequest",
                       "The body of your POST request is not well-formed multipart/form-data: "
                       "the last field must be the file field, named 'file', with a filename.")
    fields: dict[str, str] = {}
    for name, value in items[:-1]:
        if isinstance(value, UploadFile):
            raise OssError("InvalidArgument", "A PostObject form carries exactly one file.")
        lowered = name.lower()
        if lowered in fields:
            raise OssError("InvalidArgument", f"The form field {name!r} appears twice.")
        fields[lowered] = value
    return fields, items[-1][1]


class UploadEndpoint:
    def __init__(self, pigeon: Pigeon) -> None:
        self.pigeon = pigeon
        self.platform_key = uploads.platform_key(pigeon.settings)

    async def handle(self, request: Request) -> Response:
        request_id = uuid.uuid4().hex[:24].upper()
        host = request.headers.get("host", "")
        try:
            return await self._handle(request, request_id, host)
        except OssError as error:
            return error_response(error, request_id, host)
        except Exception as error:
            if isinstance(error, ClientDisconnect) or faults.is_storage_fault(error):
                raise  # the guard's: a quiet disconnect, a 503 for the storage incident
            log.exception("upload %s failed", request_id)
            return error_response(OssError("InternalError"), request_id, host)

    async def _handle(self, request: Request, request_id: str, host: str) -> Response:
        if request.path_params.get("tail", "") not in ("", "/"):
            raise OssError("NoSuchKey", "Uploads are posted to /oss itself, the key in the form.")
        if request.method != "POST":
            raise OssError("MethodNotAllowed",
                           f"The specified method is not allowed against this resource: "
                           f"{request.method}; upload with POST (OSS PostObject).")
        if not request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
            raise OssError("MalformedPOSTRequest",
                           "The body of your POST request is not well-formed multipart/form-data: "
                           "the Content-Type is not multipart/form-data.")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > DRAIN_LIMIT:
            raise _too_large()

        body = _LimitedBody(request)
        parser = MultiPartParser(request.headers, body.chunks(), max_files=1, max_fields=64,
                                 max_part_size=MAX_FIELD_BYTES)
        try:
            form = await parser.parse()
        except MultiPartException as error:
            if body.too_large:
                raise _too_large() from None
            raise OssError("MalformedPOSTRequest",
                           f"The body of your POST request is not well-formed "
                           f"multipart/form-data: {error.message}") from None
        try:
            if body.too_large:
                raise _too_large()
            fields, upload = _fields(form.multi_items())
            data = await upload.read()
        finally:
            await form.close()

        now = self.pigeon.now()
        account_id, key = post_policy.check_upload(fields, upload.filename or "", len(data),
                                                   self.platform_key, now, BUCKET)
        suffix = proof_files.kind_of(data)
        if suffix is None:
            raise OssError("InvalidArgument",
                           "The file is not a JPG, PNG, GIF, PDF, DOC or DOCX file (Pigeon looks "
                           "at its content, not its name); proof files are images, and "
                           "OtherFiles or MoreData may also be documents.")
        await self.pigeon.db.write(uploads.store, account_id, key, suffix, data, now)
        return self._success(fields.get("success_action_status", "").strip(), request, key,
                             data, request_id)

    def _success(self, status: str, request: Request, key: str, data: bytes,
                 request_id: str) -> Response:
        # OSS's ETag: the file's MD5, upper-case and quoted.
        etag = '"' + hashlib.md5(data, usedforsecurity=False).hexdigest().upper() + '"'
        headers = {"ETag": etag, "x-oss-request-id": request_id}
        if status == "201":
            location = f"{upload_url(request.headers, self.pigeon.settings)}/{quote(key)}"
            body = _xml("PostResponse", [("Bucket", BUCKET), ("Location", location),
                                         ("Key", key), ("ETag", etag)])
            return Response(body, status_code=201, media_type=XML_TYPE, headers=headers)
        return Response(status_code=200 if status == "200" else 204, headers=headers)
