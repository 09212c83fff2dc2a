"""Hand-built requests signed by the official SDK's own signing functions.

For the shapes the Python SDKs never send but other official clients do (pop-core's GET and
all-in-the-body POST, Node's chunked bodies, raw garbage), so the server is still checked
against code written by Alibaba rather than against Pigeon's own verifier.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from urllib.parse import urlencode

import httpx
from alibabacloud_tea_openapi.utils import Utils

from tests.support.sdk import Tenant


def _timestamp() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def v1_params(tenant: Tenant, action: str, params: dict, *, method: str = "POST",
              body: dict | None = None) -> dict:
    """V1 parameters (with ``Signature``) over ``params`` + ``body``, as pop-core signs them."""
    signed = {
        "AccessKeyId": tenant.key_id, "Action": action, "Format": "JSON",
        "SignatureMethod": "HMAC-SHA1", "SignatureNonce": uuid.uuid4().hex,
        "SignatureVersion": "1.0", "Timestamp": _timestamp(), "Version": "2017-05-25",
        **params,
    }
    all_params = {**signed, **(body or {})}
    signed["Signature"] = Utils.get_rpcsignature(all_params, method, tenant.secret)
    return signed


class _Req:
    def __init__(self, method, query, headers):
        self.method, self.pathname, self.query, self.headers = method, "/", query, headers


def v3_headers(tenant: Tenant, host: str, action: str, query: dict, body: bytes = b"",
               *, method: str = "POST", content_type: str | None = None) -> dict:
    """Headers of a V3 (ACS3-HMAC-SHA256) request, signed by tea-openapi's own function."""
    payload = hashlib.sha256(body).hexdigest()
    headers = {
        "host": host, "x-acs-action": action, "x-acs-version": "2017-05-25",
        "x-acs-date": _timestamp(), "x-acs-signature-nonce": uuid.uuid4().hex,
        "x-acs-content-sha256": payload,
    }
    if content_type:
        headers["content-type"] = content_type
    headers["Authorization"] = Utils.get_authorization(
        _Req(method, query, headers), "ACS3-HMAC-SHA256", payload, tenant.key_id, tenant.secret)
    return headers


def form(params: dict) -> bytes:
    return urlencode(params).encode("utf-8")


def client(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, timeout=10)
