"""OSS PostObject policy checks and proof-file kinds: pure, time passed in."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from pigeon.core import post_policy, proof_files
from pigeon.core.errors import OssError

KEY = "dGVzdC1rZXktZm9yLXBpZ2Vvbi10ZXN0cy0wMDAwMDA="
ACCOUNT = 1234567890123456
NOW = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
START = f"{ACCOUNT}/qualification/"
MAX = post_policy.MAX_UPLOAD_BYTES


def form(grant: post_policy.Grant, **changes) -> dict:
    fields = {"key": f"{START}a.png", "policy": grant.policy,
              "ossaccesskeyid": grant.access_key_id, "signature": grant.signature}
    fields.update(changes)
    return {name: value for name, value in fields.items() if value is not None}


def signed(conditions: list, expires: datetime = NOW + timedelta(minutes=5)) -> dict:
    """A form whose policy has ``conditions``, signed as the server signs."""
    text = json.dumps({"expiration": post_policy.expiration_text(expires),
                       "conditions": conditions})
    policy = base64.b64encode(text.encode()).decode()
    secret = post_policy.upload_secret(KEY, ACCOUNT)
    return {"key": f"{START}a.png", "policy": policy,
            "ossaccesskeyid": post_policy.access_key_id(ACCOUNT),
            "signature": post_policy.sign(secret, policy)}


def check(fields: dict, size: int = 100, now: datetime = NOW, filename: str = "a.png"):
    return post_policy.check_upload(fields, filename, size, KEY, now, "pigeon")


def test_a_grant_admits_keys_under_its_start_path_until_it_expires():
    grant = post_policy.grant(KEY, ACCOUNT, START, NOW)
    assert grant.expires_at == NOW + post_policy.POLICY_LIFETIME
    assert check(form(grant)) == (ACCOUNT, f"{START}a.png")
    with pytest.raises(OssError) as raised:
        check(form(grant), now=grant.expires_at)
    assert (raised.value.code, raised.value.http_status) == ("AccessDenied", 403)


def test_upload_secrets_differ_per_account_and_per_platform_key():
    assert post_policy.upload_secret(KEY, ACCOUNT) != post_policy.upload_secret(KEY, ACCOUNT + 1)
    assert post_policy.upload_secret(KEY, ACCOUNT) != post_policy.upload_secret("other", ACCOUNT)


@pytest.mark.parametrize("conditions, size, code", [
    ([["content-length-range", 1, 10]], 11, "EntityTooLarge"),
    ([["content-length-range", 5, 10]], 4, "EntityTooSmall"),
    ([["content-length-range", 1, 10]], 10, None),
    ([["eq", "$key", f"{START}a.png"]], 1, None),
    ([["eq", "$key", f"{START}b.png"]], 1, "AccessDenied"),
    ([["starts-with", "$key", START]], 1, None),
    ([["starts-with", "$key", f"{ACCOUNT}/more-data/"]], 1, "AccessDenied"),
    ([["in", "$success_action_status", ["200", "201"]]], 1, "AccessDenied"),
    ([["not-in", "$success_action_status", ["200", "201"]]], 1, None),
    ([{"bucket": "pigeon"}], 1, None),
    ([{"bucket": "elsewhere"}], 1, "AccessDenied"),
    ([{"bucket": "pigeon", "key": "x"}], 1, "InvalidPolicyDocument"),
    ([["matches", "$key", ".*"]], 1, "InvalidPolicyDocument"),
    ([["content-length-range", "1", 10]], 1, "InvalidPolicyDocument"),
    ([], MAX, None),
    ([], MAX + 1, "EntityTooLarge"),  # whatever a policy says
])
def test_policy_conditions_are_checked_as_oss_checks_them(conditions, size, code):
    if code is None:
        assert check(signed(conditions), size=size)[1] == f"{START}a.png"
        return
    with pytest.raises(OssError) as raised:
        check(signed(conditions), size=size)
    assert raised.value.code == code


@pytest.mark.parametrize("changes, code", [
    ({"key": None}, "InvalidArgument"),
    ({"signature": None}, "AccessDenied"),
    ({"policy": "%%%"}, "InvalidPolicyDocument"),
    ({"policy": base64.b64encode(b'{"conditions": []}').decode()}, "InvalidPolicyDocument"),
    ({"ossaccesskeyid": "LTAI5tSomething"}, "InvalidAccessKeyId"),
    ({"ossaccesskeyid": f"PIGEON.UPLOAD.{ACCOUNT + 1}"}, "SignatureDoesNotMatch"),
    ({"key": "/absolute.png"}, "InvalidObjectName"),
    ({"key": f"{START}bad\x00name.png"}, "InvalidObjectName"),
    ({"key": f"{START}{'x' * 600}"}, "InvalidObjectName"),
])
def test_a_broken_form_gets_the_code_oss_answers(changes, code):
    grant = post_policy.grant(KEY, ACCOUNT, START, NOW)
    with pytest.raises(OssError) as raised:
        check(form(grant, **changes))
    assert raised.value.code == code


def test_a_key_outside_the_account_is_refused_even_by_a_policy_that_would_allow_it():
    fields = signed([["starts-with", "$key", ""]])
    fields["key"] = "9999/qualification/a.png"
    with pytest.raises(OssError) as raised:
        check(fields)
    assert raised.value.code == "AccessDenied"


def test_the_filename_variable_becomes_the_uploaded_files_name_without_its_folders():
    grant = post_policy.grant(KEY, ACCOUNT, START, NOW)
    fields = form(grant, key=START + "${filename}")
    assert check(fields, filename="C:\\scans\\licence.png")[1] == f"{START}licence.png"


@pytest.mark.parametrize("data, kind", [
    (b"\x89PNG\r\n\x1a\n....", "png"),
    (b"\xff\xd8\xff\xe0....", "jpg"),
    (b"GIF87a....", "gif"),
    (b"GIF89a....", "gif"),
    (b"%PDF-1.7....", "pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1....", "doc"),
    (b"PK\x03\x04 not really a zip", None),
    (b"<html>", None),
    (b"", None),
])
def test_proof_files_are_recognised_by_their_first_bytes(data, kind):
    assert proof_files.kind_of(data) == kind
