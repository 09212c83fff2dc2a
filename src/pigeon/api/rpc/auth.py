"""Who is calling: checks the signature, timestamp and nonce of an RPC request.

A request is signed one of two ways (spec/wire.md §4; the arithmetic is in
:mod:`pigeon.api.rpc.signing`):

* **V3** when the ``Authorization`` header starts with ``ACS3-HMAC-SHA256``: access key,
  signed-header list and signature in that header; date and nonce in signed ``x-acs-*`` headers;
  the body covered by ``x-acs-content-sha256``.
* **V1** otherwise, when there is a ``Signature`` parameter (query or form body): everything in
  parameters, the body's form parameters signed with the query's.

The checks run in an order chosen so that a caller learns nothing it should not and cannot spend
somebody else's nonces: the request's own shape first (no database), then the key, then the
timestamp, then the signature, and only a correctly signed request records its nonce — in the
database, so that a replay is refused by every node and after a restart.  Secrets are never
logged and never put in a message.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from pigeon.api.rpc.request import RpcRequest
from pigeon.api.rpc.signing import (
    V3_ALGORITHM,
    constant_time_equal,
    parse_v3_authorization,
    v1_sign,
    v1_string_to_sign,
    v3_canonical_request,
    v3_sign,
    v3_string_to_sign,
)
from pigeon.core.errors import PigeonError
from pigeon.services import nonces

if TYPE_CHECKING:
    from pigeon.store.database import Database


@dataclass(frozen=True)
class KeyRecord:
    access_key_id: str
    account_id: int
    secret: str = field(repr=False)  # plaintext AccessKeySecret: never logged, never repr'd
    enabled: bool  # False when the key is disabled or its account suspended
    # The account's IP allow-list for API calls (pigeon.core.source_ip); empty: any address.
    # Cached with the key, so checking it costs no query.
    allow_list: tuple = ()


KeyLookup = Callable[[str], Awaitable[KeyRecord | None]]

# What a V3 signature must cover: without these a signed request could be replayed under
# another action, version, date or body, or at another host.
V3_REQUIRED_HEADERS = ("host", "x-acs-action", "x-acs-version", "x-acs-date",
                       "x-acs-signature-nonce", "x-acs-content-sha256")

V1_SIGNATURE_METHOD = "HMAC-SHA1"
V1_SIGNATURE_VERSION = "1.0"

_TIMESTAMP = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def parse_timestamp(text: str) -> datetime:
    """``YYYY-MM-DDTHH:MM:SSZ`` (UTC) → aware datetime, else ``InvalidTimeStamp.Format``."""
    if _TIMESTAMP.fullmatch(text):
        try:
            # fromisoformat is ~10x faster than strptime, and the regex fixed the shape.
            return datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
        except ValueError:  # well shaped, but not a date (month 13, 25 o'clock, ...)
            pass
    raise PigeonError("InvalidTimeStamp.Format")


MAX_NONCE_LENGTH = 255
"""The SDKs send 32 hex digits or a UUID; a nonce is stored as a digest, but a caller still
need not send a megabyte of one."""


class NonceStore(Protocol):
    """Where used nonces are kept: shared by every process and node (the database,
    :class:`DatabaseNonces`) so that a request is accepted once, wherever it is replayed."""

    async def use(self, access_key_id: str, nonce: str, now: datetime,
                  expires_at: datetime) -> bool:
        """Record the pair until ``expires_at``; False if it is recorded already (and not
        expired at ``now``)."""
        ...


class DatabaseNonces:
    """The nonce store of a running Pigeon: one row per nonce (:mod:`pigeon.services.nonces`),
    written through the database's writer."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def use(self, access_key_id: str, nonce: str, now: datetime,
                  expires_at: datetime) -> bool:
        return await self.db.write(nonces.use, nonces.Nonce.of(access_key_id, nonce,
                                                                 expires_at), now)


@dataclass(frozen=True)
class _Claim:
    """What a request says about itself, before anything is verified."""

    access_key_id: str
    timestamp: str
    nonce: str
    signature: str
    string_to_sign: str = field(repr=False)
    sign: Callable[[str, str], str] = field(repr=False)  # (secret, string_to_sign) -> signature


def _incomplete(why: str) -> PigeonError:
    return PigeonError("IncompleteSignature",
                       f"The request signature does not conform to Aliyun standards. {why}")


def _nonce(value: str) -> str:
    if len(value) > MAX_NONCE_LENGTH:
        raise PigeonError.invalid("SignatureNonce",
                                  f"It must be at most {MAX_NONCE_LENGTH} characters.")
    return value


def _v3_claim(request: RpcRequest) -> _Claim:
    headers = request.headers
    authorization = parse_v3_authorization(headers["authorization"])
    signed = {name.lower() for name in authorization.signed_headers}
    unsigned = [name for name in V3_REQUIRED_HEADERS if name not in signed]
    if unsigned:
        raise _incomplete(f"SignedHeaders must include {', '.join(unsigned)}.")
    for name in authorization.signed_headers:
        if name.lower() not in headers:
            raise _incomplete(f"The signed header {name} is not in the request.")
    for name in V3_REQUIRED_HEADERS:
        if not headers[name].strip():
            raise _incomplete(f"The signed header {name} is empty.")

    # The body counts only through its hash, computed here from the bytes received.
    payload_hash = hashlib.sha256(request.body).hexdigest()
    canonical = v3_canonical_request(request.method, request.encoded(form=False), headers,
                                     authorization.signed_headers, payload_hash, encoded=True)
    string_to_sign = v3_string_to_sign(canonical)
    if headers["x-acs-content-sha256"].strip() != payload_hash:
        raise PigeonError(
            "SignatureDoesNotMatch",
            "Specified signature is not matched with our calculation. x-acs-content-sha256 is "
            f"not the SHA-256 of the body received; server string to sign is:{string_to_sign}")
    return _Claim(access_key_id=authorization.access_key_id,
                  timestamp=headers["x-acs-date"].strip(),
                  nonce=_nonce(headers["x-acs-signature-nonce"].strip()),
                  signature=authorization.signature,
                  string_to_sign=string_to_sign, sign=v3_sign)


def _v1_claim(request: RpcRequest) -> _Claim:
    params = request.params

    def required(name: str) -> str:
        value = params.get(name, "")
        if not value:
            raise PigeonError.missing(name)
        return value

    signature = required("Signature")
    access_key_id = required("AccessKeyId")
    if required("SignatureMethod") != V1_SIGNATURE_METHOD:
        raise PigeonError("InvalidSignatureMethod")
    if required("SignatureVersion") != V1_SIGNATURE_VERSION:
        raise PigeonError.invalid("SignatureVersion")
    nonce = _nonce(required("SignatureNonce"))
    timestamp = required("Timestamp")

    # Every query and form parameter is signed, empty ones included; only Signature is not.
    pairs = request.encoded(without="Signature")
    return _Claim(access_key_id=access_key_id, timestamp=timestamp, nonce=nonce,
                  signature=signature,
                  string_to_sign=v1_string_to_sign(request.method, pairs, encoded=True),
                  sign=v1_sign)


def _claim(request: RpcRequest) -> _Claim:
    """Pick the scheme and check the request's own shape; no key needed yet."""
    algorithm = request.headers.get("authorization", "").strip().partition(" ")[0]
    if algorithm == V3_ALGORITHM:
        return _v3_claim(request)
    if algorithm.startswith("ACS3-"):  # ACS3-HMAC-SM3, ACS3-RSA-SHA256: not for AK users
        raise PigeonError("InvalidSignatureMethod")
    if "Signature" in request.params:
        return _v1_claim(request)
    raise PigeonError.missing("Signature")


class Authenticator:
    """Verifies a request's signature and returns the key that signed it.

    ``window`` bounds how far the request's timestamp may be from ``now``, either way
    (Alibaba: 15 minutes); ``nonces`` is where used nonces are kept.  A nonce is kept for
    ``window`` after the later of ``now`` and the request's own timestamp: a request dated
    ahead of the server clock stays acceptable until its timestamp + ``window``, and its nonce
    must stay known as long.
    """

    def __init__(self, lookup: KeyLookup, window: timedelta, nonces: NonceStore) -> None:
        self.lookup = lookup
        self.window = window
        self.nonces = nonces

    async def authenticate(self, request: RpcRequest, now: datetime) -> KeyRecord:
        """Return the signing key, or raise the gateway's error (spec/dysmsapi.md §4.2),
        the nonce recorded.  ``now`` is an aware datetime."""
        verified = await self.verify(request, now)
        await self.record(verified, now)
        return verified.key

    async def record(self, verified: Verified, now: datetime) -> None:
        """Record the verified request's nonce: ``SignatureNonceUsed`` if it was already."""
        if not await self.nonces.use(verified.key.access_key_id, verified.nonce, now,
                                     verified.nonce_expires_at):
            raise PigeonError("SignatureNonceUsed")

    async def verify(self, request: RpcRequest, now: datetime) -> Verified:
        """Every check of :meth:`authenticate` but the nonce's, which the caller records —
        with :meth:`record`, or in the transaction of the request's own write
        (:func:`pigeon.services.nonces.first_use`)."""
        claim = _claim(request)

        key = await self.lookup(claim.access_key_id)
        if key is None:
            raise PigeonError("InvalidAccessKeyId.NotFound")
        if not key.enabled:
            raise PigeonError("InvalidAccessKeyId.Inactive")

        signed_at = parse_timestamp(claim.timestamp)
        if abs(now - signed_at) > self.window:
            raise PigeonError("InvalidTimeStamp.Expired")

        expected = claim.sign(key.secret, claim.string_to_sign)
        if not constant_time_equal(claim.signature, expected):
            raise PigeonError.signature_mismatch(claim.string_to_sign)

        return Verified(key, claim.nonce, max(now, signed_at) + self.window)


@dataclass(frozen=True)
class Verified:
    """A request whose signature checked out, and its nonce, not recorded yet."""

    key: KeyRecord
    nonce: str
    nonce_expires_at: datetime  # see Authenticator: the later of now and its timestamp + window

    def stored_nonce(self) -> nonces.Nonce:
        return nonces.Nonce.of(self.key.access_key_id, self.nonce, self.nonce_expires_at)
