"""OSS PostObject policies: the upload credentials that GetQualificationOssInfo and
GetOSSInfoForUploadFile hand out, and the checks the upload endpoint makes before it keeps a file.

A tenant uploads each proof file as OSS's PostObject does: a ``multipart/form-data`` form with
``key``, ``policy``, ``OSSAccessKeyId``, ``Signature`` (names compared without regard to case)
and ``file`` last.  ``policy`` is base64 JSON, ``{"expiration": "<ISO-8601 UTC>",
"conditions": [...]}``; ``Signature`` is ``base64(HMAC-SHA1(secret, policy as sent))``.

Pigeon's ``secret`` is derived from the platform key (``PIGEON_SECRET_KEY`` or the data
directory's key file) and the tenant's account id, and the ``OSSAccessKeyId`` names that
account (``PIGEON.UPLOAD.<AccountId>``).  So no AccessKey secret of the tenant is used, nothing
is stored per grant, and every node of a deployment verifies every grant.

Pure: ``now`` and the platform key are arguments; failures raise :class:`OssError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pigeon.core import json_input
from pigeon.core.errors import OssError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
"""Proof files are at most 5 MB (spec §2.19)."""
POLICY_LIFETIME = timedelta(minutes=30)
ACCESS_KEY_PREFIX = "PIGEON.UPLOAD."
KEY_MAX_CHARS = 512  # the ``files.key`` column
FILENAME_VARIABLE = "${filename}"  # OSS replaces it in ``key`` with the uploaded file's name

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Grant:
    """Upload credentials: what the two actions answer (with the upload URL as ``Host``)."""

    access_key_id: str
    policy: str
    signature: str
    start_path: str
    expires_at: datetime


def upload_secret(platform_key: str, account_id: int) -> bytes:
    """The account's upload signing secret.  The label keeps it apart from any other use of
    the platform key."""
    return hmac.new(platform_key.encode("utf-8"), f"oss-upload:{account_id}".encode("ascii"),
                    hashlib.sha256).digest()


def access_key_id(account_id: int) -> str:
    return f"{ACCESS_KEY_PREFIX}{account_id}"


def account_of(key_id: str) -> int:
    """The account an ``OSSAccessKeyId`` names; ``InvalidAccessKeyId`` for anything else."""
    digits = key_id.removeprefix(ACCESS_KEY_PREFIX) if key_id.startswith(ACCESS_KEY_PREFIX) else ""
    if not digits.isascii() or not digits.isdigit() or len(digits) > 19:
        raise OssError("InvalidAccessKeyId")
    return int(digits)


def sign(secret: bytes, policy: str) -> str:
    digest = hmac.new(secret, policy.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def expiration_text(moment: datetime) -> str:
    """OSS's form: ``2024-06-25T06:37:25.970Z``."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def make_policy(start_path: str, expires_at: datetime,
                max_bytes: int = MAX_UPLOAD_BYTES) -> str:
    document = {"expiration": expiration_text(expires_at),
                "conditions": [["content-length-range", 1, max_bytes],
                               ["starts-with", "$key", start_path]]}
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def grant(platform_key: str, account_id: int, start_path: str, now: datetime,
          lifetime: timedelta = POLICY_LIFETIME) -> Grant:
    """Credentials to upload keys under ``start_path`` (which must begin ``<account_id>/``)
    until ``now + lifetime``."""
    if not start_path.startswith(f"{account_id}/"):
        raise ValueError("an upload start path begins with the account id")
    expires_at = (now + lifetime).replace(microsecond=0)
    policy = make_policy(start_path, expires_at)
    return Grant(access_key_id=access_key_id(account_id), policy=policy,
                 signature=sign(upload_secret(platform_key, account_id), policy),
                 start_path=start_path, expires_at=expires_at)


# -- checking an upload --------------------------------------------------------------------------

def _decode_policy(policy: str) -> dict:
    try:
        text = base64.b64decode(policy.strip(), validate=True).decode("utf-8")
        document = json_input.loads(text)
    except (binascii.Error, ValueError):
        raise OssError("InvalidPolicyDocument",
                       "Invalid Policy: the policy form field is not base64-encoded JSON.") from None
    if not isinstance(document, dict) or not isinstance(document.get("expiration"), str):
        raise OssError("InvalidPolicyDocument",
                       "Invalid Policy: Policy missing expiration.")
    if not isinstance(document.get("conditions"), list):
        raise OssError("InvalidPolicyDocument", "Invalid Policy: Policy missing conditions.")
    return document


def _parse_expiration(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        moment = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 or 9999 in another offset
        raise OssError("InvalidPolicyDocument",
                       f"Invalid Policy: Invalid expiration {text!r}; use ISO 8601 in GMT, such "
                       "as 2024-06-25T06:37:25.000Z.") from None
    return moment


def _failed(condition: object) -> OssError:
    shown = json.dumps(condition, ensure_ascii=False)
    return OssError("AccessDenied", f"Invalid according to Policy: Policy Condition failed: {shown}")


def _check_condition(condition: object, values: Mapping[str, str], size: int) -> None:
    """One policy condition against the form (``values``: lower-cased field names, ``key``
    resolved, ``bucket`` added)."""
    if isinstance(condition, dict):  # {"field": "value"}: exact match
        if len(condition) != 1:
            raise OssError("InvalidPolicyDocument",
                           "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have "
                           "exactly one property specified.")
        (name, expected), = condition.items()
        if values.get(str(name).lower()) != expected:
            raise _failed(condition)
        return
    if not isinstance(condition, list) or not condition or not isinstance(condition[0], str):
        raise OssError("InvalidPolicyDocument", "Invalid Policy: Invalid Condition.")
    operator = condition[0].lower()
    if operator == "content-length-range":
        if len(condition) != 3 or not all(isinstance(n, int) and not isinstance(n, bool)
                                          for n in condition[1:]):
            raise OssError("InvalidPolicyDocument",
                           "Invalid Policy: content-length-range needs a minimum and a maximum.")
        low, high = condition[1], condition[2]
        if size > high:
            raise OssError("EntityTooLarge",
                           f"Your proposed upload exceeds the maximum allowed size: the file has "
                           f"{size} bytes, the policy allows at most {high}.")
        if size < low:
            raise OssError("EntityTooSmall",
                           f"Your proposed upload is smaller than the minimum allowed size: the "
                           f"file has {size} bytes, the policy needs at least {low}.")
        return
    if operator not in ("eq", "starts-with", "in", "not-in") or len(condition) != 3 \
            or not isinstance(condition[1], str) or not condition[1].startswith("$"):
        raise OssError("InvalidPolicyDocument",
                       f"Invalid Policy: Invalid Condition {json.dumps(condition)}.")
    actual = values.get(condition[1][1:].lower(), "")
    expected = condition[2]
    if operator in ("in", "not-in"):
        if not isinstance(expected, list):
            raise OssError("InvalidPolicyDocument",
                           f"Invalid Policy: {operator} needs a list of values.")
        passed = (actual in expected) == (operator == "in")
    elif operator == "eq":
        passed = actual == expected
    else:
        passed = isinstance(expected, str) and actual.startswith(expected)
    if not passed:
        raise _failed(condition)


def resolve_key(key: str, filename: str) -> str:
    """The object key with OSS's ``${filename}`` replaced; ``InvalidObjectName`` for a key
    Pigeon cannot keep."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    key = key.replace(FILENAME_VARIABLE, name)
    if not key or len(key) > KEY_MAX_CHARS:
        raise OssError("InvalidObjectName",
                       f"The object key must have 1 to {KEY_MAX_CHARS} characters.")
    if key.startswith(("/", "\\")) or _CONTROL.search(key):
        raise OssError("InvalidObjectName",
                       "The object key must not begin with / or \\ nor contain control "
                       "characters.")
    return key


def check_upload(fields: Mapping[str, str], filename: str, size: int, platform_key: str,
                 now: datetime, bucket: str) -> tuple[int, str]:
    """Verify a PostObject form as OSS does; return ``(account_id, key)``.

    ``fields``: the form's text fields by lower-cased name; ``filename`` and ``size``: the
    ``file`` part's.  In order: ``key``/``policy``/``OSSAccessKeyId``/``Signature`` present;
    the policy decodes; the AccessKeyId names an account; the signature matches; the policy has
    not expired; every condition holds; and, whatever the policy says, the key lies under the
    account's own prefix and the file is at most :data:`MAX_UPLOAD_BYTES`.
    """
    if not fields.get("key"):
        raise OssError("InvalidArgument", "Bucket POST must contain a field named 'key'.")
    missing = [name for name in ("OSSAccessKeyId", "policy", "Signature")
               if not fields.get(name.lower())]
    if missing:
        raise OssError("AccessDenied",
                       f"The form has no {', '.join(missing)}: Pigeon takes no anonymous uploads; "
                       "get credentials with GetQualificationOssInfo or GetOSSInfoForUploadFile.")
    policy = fields["policy"]
    document = _decode_policy(policy)
    account_id = account_of(fields["ossaccesskeyid"])
    expected = sign(upload_secret(platform_key, account_id), policy)
    if not hmac.compare_digest(expected.encode("ascii"),
                               fields["signature"].strip().encode("utf-8")):
        raise OssError("SignatureDoesNotMatch")
    if _parse_expiration(document["expiration"]) <= now:
        raise OssError("AccessDenied", "Invalid according to Policy: Policy expired.")
    key = resolve_key(fields["key"], filename)
    values = {**fields, "key": key, "bucket": bucket}
    for condition in document["conditions"]:
        _check_condition(condition, values, size)
    if not key.startswith(f"{account_id}/"):
        raise OssError("AccessDenied",
                       f"The object key {key!r} is outside this account's uploads; keys begin "
                       "with the StartPath the credentials came with.")
    if size > MAX_UPLOAD_BYTES:
        raise OssError("EntityTooLarge",
                       f"Your proposed upload exceeds the maximum allowed size: the file has "
                       f"{size} bytes, a proof file may have at most {MAX_UPLOAD_BYTES} (5 MB).")
    return account_id, key
