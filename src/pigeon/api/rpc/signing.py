"""The two request-signature schemes of Alibaba Cloud's RPC gateway, server side.

Pure functions: canonical strings, HMACs and a constant-time comparison; no I/O, no clock.
:mod:`pigeon.api.rpc.auth` decides which scheme a request uses and in what order to check it.

* **V1** — RPC ``HMAC-SHA1`` (``Signature`` parameter): aliyun-python-sdk-core, @alicloud/pop-core,
  and the Tea SDKs with ``signature_algorithm='v2'``.  spec/wire.md §4 "V1",
  spec/dysmsapi.md §5.2-5.3.
* **V3** — ``ACS3-HMAC-SHA256`` (``Authorization`` header): the default of the current Tea SDKs.
  spec/wire.md §2 and §4 "V3", spec/dysmsapi.md §5.4.

Why hand-written: the official SDKs only *compute* signatures for the requests they send (their
helpers take a client-side request object and return a header or a query string) and no
maintained library verifies Alibaba's signatures on the server side.  The algorithms are short
and fully specified; the tests pin them to the spec's vectors, to requests captured from every
official SDK, and to the SDKs' own signing functions on random input.

Parameters are always canonicalised from their *decoded* values: the SDKs encode the same value
differently on the wire (Python ``+`` for a space, Node a literal ``*``), but sign the RFC 3986
form that :func:`percent_encode` produces.  (Where a name or value on the wire is already
exactly that form — :func:`is_encoded` — it is its own canonical form and is taken as it is,
without decoding and encoding it again: :meth:`pigeon.api.rpc.request.RpcRequest.encoded`.)
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from pigeon.core.errors import PigeonError

V3_ALGORITHM = "ACS3-HMAC-SHA256"
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()

# The RPC gateway has a single resource; both schemes sign the path as "/".
_PATH = "/"


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")


def percent_encode(text: str) -> str:
    """RFC 3986 encoding of UTF-8 text: only ``A-Z a-z 0-9 - _ . ~`` stay literal.

    Space becomes ``%20`` (never ``+``), ``*`` becomes ``%2A``, hex digits are upper case.
    """
    # ``quote`` never encodes letters, digits and ``_.-~``; with ``safe=""`` it encodes
    # everything else, ``/`` included.  Most parameters (names, ids, numbers) need no
    # encoding at all: answering those without quote() is most of this function's cost.
    if _UNRESERVED.fullmatch(text):
        return text
    return quote(text, safe="", encoding="utf-8", errors="strict")


# Text exactly as percent_encode() writes its own decoding: unreserved characters, and "%XX"
# escapes in upper-case hex of every other byte — none of an unreserved character (2D "-",
# 2E ".", 30-39, 41-5A, 5F "_", 61-7A, 7E "~"), which percent_encode() leaves literal.  Runs
# of literal characters as one class: the regular expression engine takes them at C speed.
_ESCAPE = r"%(?!2[DE]|3[0-9]|[46][1-9A-F]|[57][0-9A]|5F|7E)[0-9A-F]{2}"
_ENCODED = re.compile(rf"[A-Za-z0-9_.~-]*(?:{_ESCAPE}[A-Za-z0-9_.~-]*)*")
# The same for a whole query string or form body: "=" and "&" between the parts.
_ENCODED_FORM = re.compile(rf"[A-Za-z0-9_.~=&-]*(?:{_ESCAPE}[A-Za-z0-9_.~=&-]*)*")


def is_encoded(raw: str) -> bool:
    """Whether ``raw``, a name or value as it came on the wire, is exactly
    ``percent_encode(its decoded text)`` — as the SDKs mostly send them.  (Decoding and
    encoding such text again gives the same text: its literal characters stay literal, and
    each escape's byte is escaped again the same way.)"""
    return _ENCODED.fullmatch(raw) is not None


def is_encoded_form(raw: str) -> bool:
    """Whether every name and value of the form text ``raw`` (``a=1&b=2``) :func:`is_encoded`
    — but for a value holding an ``=`` itself (``a=b=c``), which the caller checks."""
    return _ENCODED_FORM.fullmatch(raw) is not None


def _canonical_pairs(pairs: Iterable[tuple[str, str]], *, encoded: bool = False) -> str:
    # Sorted by encoded name, then encoded value: a name repeated on the wire stays in a
    # deterministic order (the SDKs themselves never repeat one).
    if not encoded:
        pairs = ((percent_encode(name), percent_encode(value)) for name, value in pairs)
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


# --- V1: RPC HMAC-SHA1 ------------------------------------------------------------------------

def v1_string_to_sign(method: str, pairs: Iterable[tuple[str, str]], *,
                      encoded: bool = False) -> str:
    """``METHOD&%2F&pct(canonicalised parameters)`` (spec/dysmsapi.md §5.3).

    ``pairs`` are the decoded query and form-body parameters *without* ``Signature`` (with
    ``encoded``: each name and value already as :func:`percent_encode` gives it); empty
    values are kept (aliyunsdkcore signs ``SignatureType=``).  ``method`` is the real HTTP
    method of the request.
    """
    canonical = _canonical_pairs(pairs, encoded=encoded)
    # percent_encode(canonical) without quote(): the pairs are already encoded, so the only
    # characters left to encode are "%", "=" and "&" ("%" first).  Same string, ~30 µs less
    # per request (bench/README.md).
    encoded = canonical.replace("%", "%25").replace("=", "%3D").replace("&", "%26")
    return f"{method.upper()}&{percent_encode(_PATH)}&{encoded}"


def v1_sign(secret: str, string_to_sign: str) -> str:
    """Base64 of HMAC-SHA1 keyed with ``secret + "&"``."""
    digest = hmac.new((secret + "&").encode("utf-8"), string_to_sign.encode("utf-8"),
                      hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


# --- V3: ACS3-HMAC-SHA256 ---------------------------------------------------------------------

@dataclass(frozen=True)
class V3Authorization:
    """The parts of ``Authorization: ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…``."""

    access_key_id: str
    signed_headers: list[str]  # as the client listed them (lower case, sorted by the SDKs)
    signature: str


def _incomplete(why: str) -> PigeonError:
    return PigeonError("IncompleteSignature",
                       f"The request signature does not conform to Aliyun standards. {why}")


def parse_v3_authorization(value: str) -> V3Authorization:
    """Split an ``ACS3-HMAC-SHA256`` Authorization header into its parts.

    Raises ``IncompleteSignature`` when a part is missing, empty, repeated or unknown, and
    ``InvalidSignatureMethod`` for another algorithm (``ACS3-HMAC-SM3``, ``ACS3-RSA-SHA256``).
    """
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != V3_ALGORITHM:
        if algorithm.startswith("ACS3-"):
            raise PigeonError("InvalidSignatureMethod")
        raise _incomplete(f"The Authorization header must start with {V3_ALGORITHM}.")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, sep, part = item.strip().partition("=")
        if not sep or name not in ("Credential", "SignedHeaders", "Signature"):
            raise _incomplete(f"Unexpected Authorization part {name!r}.")
        if name in parts:
            raise _incomplete(f"The Authorization part {name} is repeated.")
        if not part:
            raise _incomplete(f"The Authorization part {name} is empty.")
        parts[name] = part
    for name in ("Credential", "SignedHeaders", "Signature"):
        if name not in parts:
            raise _incomplete(f"The Authorization header has no {name}.")
    signed_headers = parts["SignedHeaders"].split(";")
    if any(not name for name in signed_headers):
        raise _incomplete("SignedHeaders has an empty header name.")
    return V3Authorization(access_key_id=parts["Credential"], signed_headers=signed_headers,
                           signature=parts["Signature"])


def v3_canonical_request(method: str, query_pairs: Iterable[tuple[str, str]],
                         headers: Mapping[str, str], signed_headers: list[str],
                         payload_hash: str, *, encoded: bool = False) -> str:
    """The canonical request of spec/dysmsapi.md §5.4 steps 2-6.

    ``query_pairs`` are the decoded *query* parameters only (a form body is covered by
    ``payload_hash``; with ``encoded``, each name and value already as :func:`percent_encode`
    gives it); ``headers`` has lower-case names, with repeated headers already joined
    by ``,``; ``signed_headers`` is the list from the Authorization header, whose
    ``;``-joined form is signed as the client wrote it.  A signed header that is absent
    canonicalises as empty — the caller rejects such requests before getting here.
    """
    canonical_headers = "".join(
        f"{name}:{headers.get(name, '').strip()}\n"
        for name in sorted(name.lower() for name in signed_headers))
    return "\n".join([
        method.upper(),
        _PATH,
        _canonical_pairs(query_pairs, encoded=encoded),
        canonical_headers,  # ends with "\n": an empty line follows, as the SDKs write it
        ";".join(signed_headers),
        payload_hash,
    ])


def v3_string_to_sign(canonical_request: str) -> str:
    """``ACS3-HMAC-SHA256\\n`` + hex SHA-256 of the canonical request."""
    digest = hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()
    return f"{V3_ALGORITHM}\n{digest}"


def v3_sign(secret: str, string_to_sign: str) -> str:
    """Lower-case hex HMAC-SHA256 keyed with the secret itself (no ``&``)."""
    return hmac.new(secret.encode("utf-8"), string_to_sign.encode("utf-8"),
                    hashlib.sha256).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    """Compare a client's signature with ours without leaking where they differ."""
    # Bytes, because compare_digest refuses non-ASCII str and the client's value is arbitrary.
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
