"""OSS PostObject policy checks and proof-file kinds: pure, time passed in."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta, timezone

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


def signed(conditions: list, expires: datetime | str = NOW + timedelta(minutes=5)) -> dict:
    """A form whose policy has ``conditions``, signed as the server signs (``expires``: a
    moment, or the expiration text itself)."""
    expiration = expires if isinstance(expires, str) else post_policy.expiration_text(expires)
    text = json.dumps({"expiration": expiration, "conditions": conditions})
    policy = base64.b64encode(text.encode()).decode()
    secret = post_policy.upload_secret(KEY, ACCOUNT)
    return {"key": f"{START}a.png", "policy": policy,
            "ossaccesskeyid": post_policy.access_key_id(ACCOUNT),
            "signature": post_policy.sign(secret, policy)}


def check(fields: dict, size: int = 100, now: datetime = NOW, filename: str = "a.png"):
    return post_policy.check_upload(fields, filename, size, KEY, now, "pigeon")


def refusal(call, *args, **kwargs) -> tuple[str, str]:
    """The code and message of the OssError ``call`` raises."""
    with pytest.raises(OssError) as raised:
        call(*args, **kwargs)
    return raised.value.code, raised.value.message


def encoded(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# Surviving mutants, explained (scripts/mutation core post_policy):
# - upload_secret, sign, make_policy, _decode_policy, check_upload: a codec name spelt in
#   capitals ("UTF-8", "ASCII"): Python looks codec names up without regard to case.
# - _parse_expiration: not replacing "Z" by "+00:00": since Python 3.11 (the oldest Pigeon
#   supports) fromisoformat reads a trailing "Z" itself.
# - _parse_expiration: astimezone(None) instead of astimezone(UTC) for an expiration with an
#   offset: the moment is only compared with ``now``, and aware datetimes compare by instant
#   whatever zone they are in.
# - make_policy, _failed: json.dumps(..., ensure_ascii=None) instead of False: json.dumps only
#   looks at its truth.
# - account_of: "XXXX" instead of "" for a key id without the prefix: both fail isdigit().
# - resolve_key: rsplit("/", 2) or rsplit("/") instead of rsplit("/", 1): the last piece, the
#   only one used, is the same.


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


# -- exact answers ------------------------------------------------------------------------------

def test_a_grant_signs_a_compact_policy_for_its_start_path():
    start = f"{ACCOUNT}/资质/"
    grant = post_policy.grant(KEY, ACCOUNT, start, NOW)
    assert (grant.access_key_id, grant.start_path) == (f"PIGEON.UPLOAD.{ACCOUNT}", start)
    assert base64.b64decode(grant.policy).decode() == (
        '{"expiration":"2026-06-01T08:30:00.000Z","conditions":[["content-length-range",1,'
        f'5242880],["starts-with","$key","{start}"]]}}')
    assert check(form(grant, key=f"{start}a.png"), size=1) == (ACCOUNT, f"{start}a.png")


def test_a_grant_is_only_for_a_start_path_under_the_account():
    with pytest.raises(ValueError, match="^an upload start path begins with the account id$"):
        post_policy.grant(KEY, ACCOUNT, "9999/qualification/", NOW)


def test_the_signature_is_base64_hmac_sha1_of_the_policy_as_sent():
    assert post_policy.sign(b"pigeon", "{}") == "SgzTHlOzRV4xL62uTMjxfFBPKEs="


def test_a_policy_swapped_for_another_grants_is_refused():
    grant = post_policy.grant(KEY, ACCOUNT, START, NOW)
    other = post_policy.grant(KEY, ACCOUNT, f"{ACCOUNT}/", NOW)
    assert refusal(check, form(grant, policy=other.policy))[0] == "SignatureDoesNotMatch"


@pytest.mark.parametrize("moment, text", [
    (datetime(2026, 6, 1, 16, 0, 0, 999999, tzinfo=timezone(timedelta(hours=8))),
     "2026-06-01T08:00:00.999Z"),
    (datetime(2026, 6, 1, 8, 0, 0, 1000, tzinfo=UTC), "2026-06-01T08:00:00.001Z"),
    (datetime(2026, 6, 1, 8, 0, 0, 999, tzinfo=UTC), "2026-06-01T08:00:00.000Z"),
])
def test_expirations_are_written_in_utc_to_the_millisecond(machine_east_of_utc, moment, text):
    assert post_policy.expiration_text(moment) == text


@pytest.mark.parametrize("key_id, account", [
    ("PIGEON.UPLOAD.1", 1),
    (f"PIGEON.UPLOAD.{'9' * 19}", int("9" * 19)),
    (f"PIGEON.UPLOAD.{ACCOUNT}", ACCOUNT),
])
def test_an_access_key_id_names_an_account(key_id, account):
    assert post_policy.account_of(key_id) == account


@pytest.mark.parametrize("key_id", [
    f"PIGEON.UPLOAD.{'1' * 20}", "1234", "PIGEON.UPLOAD.", "PIGEON.UPLOAD.-1",
    "PIGEON.UPLOAD.١٢", "pigeon.upload.12", "LTAI5tSomething",
])
def test_any_other_access_key_id_is_refused(key_id):
    assert refusal(post_policy.account_of, key_id)[0] == "InvalidAccessKeyId"


@pytest.mark.parametrize("key, filename, resolved", [
    ("a/${filename}", "C:\\scans\\licence.png", "a/licence.png"),
    ("a/${filename}", "scans/2026/licence.png", "a/licence.png"),
    ("k" * 512, "", "k" * 512),
])
def test_a_key_is_resolved_with_the_files_own_name(key, filename, resolved):
    assert post_policy.resolve_key(key, filename) == resolved


NOT_KEPT = "The object key must not begin with / or \\ nor contain control characters."


@pytest.mark.parametrize("key, filename, message", [
    ("k" * 513, "", "The object key must have 1 to 512 characters."),
    ("${filename}", "scans/", "The object key must have 1 to 512 characters."),
    ("/a.png", "", NOT_KEPT),
    ("\\a.png", "", NOT_KEPT),
    ("a\x7f.png", "", NOT_KEPT),
])
def test_a_key_pigeon_cannot_keep_is_refused(key, filename, message):
    assert refusal(post_policy.resolve_key, key, filename) == ("InvalidObjectName", message)


FAILED = "Invalid according to Policy: Policy Condition failed: "
INVALID = "Invalid Policy: Invalid Condition"


@pytest.mark.parametrize("conditions, size, code, message", [
    ([{"bucket": "pigeon", "key": "x"}], 1, "InvalidPolicyDocument",
     "Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property "
     "specified."),
    ([{"bucket": "elsewhere"}], 1, "AccessDenied", FAILED + '{"bucket": "elsewhere"}'),
    ([{"bucket": "云雀"}], 1, "AccessDenied", FAILED + '{"bucket": "云雀"}'),
    ([["eq", "$key", f"{START}a"]], 1, "AccessDenied",  # eq is no starts-with
     FAILED + f'["eq", "$key", "{START}a"]'),
    ([["starts-with", "$key", f"{ACCOUNT}/x/"]], 1, "AccessDenied",
     FAILED + f'["starts-with", "$key", "{ACCOUNT}/x/"]'),
    ([["matches", "$key", ".*"]], 1, "InvalidPolicyDocument", INVALID + ' ["matches", "$key", ".*"].'),
    ([["eq", "key", "x"]], 1, "InvalidPolicyDocument", INVALID + ' ["eq", "key", "x"].'),
    ([["eq", 7, "x"]], 1, "InvalidPolicyDocument", INVALID + ' ["eq", 7, "x"].'),
    ([["eq", "$key", "x", "y"]], 1, "InvalidPolicyDocument", INVALID + ' ["eq", "$key", "x", "y"].'),
    ([["in", "$bucket", "pigeon"]], 1, "InvalidPolicyDocument",
     "Invalid Policy: in needs a list of values."),
    ([["not-in", "$bucket", "pigeon"]], 1, "InvalidPolicyDocument",
     "Invalid Policy: not-in needs a list of values."),
    (["starts-with"], 1, "InvalidPolicyDocument", INVALID + "."),
    ([7], 1, "InvalidPolicyDocument", INVALID + "."),
    ([[]], 1, "InvalidPolicyDocument", INVALID + "."),
    ([[1, "$key", "x"]], 1, "InvalidPolicyDocument", INVALID + "."),
    ([["content-length-range", 1]], 1, "InvalidPolicyDocument",
     "Invalid Policy: content-length-range needs a minimum and a maximum."),
    ([["content-length-range", 1, True]], 1, "InvalidPolicyDocument",
     "Invalid Policy: content-length-range needs a minimum and a maximum."),
    ([["content-length-range", 1, 10]], 11, "EntityTooLarge",
     "Your proposed upload exceeds the maximum allowed size: the file has 11 bytes, the policy "
     "allows at most 10."),
    ([["content-length-range", 5, 10]], 4, "EntityTooSmall",
     "Your proposed upload is smaller than the minimum allowed size: the file has 4 bytes, the "
     "policy needs at least 5."),
    ([], MAX + 1, "EntityTooLarge",
     f"Your proposed upload exceeds the maximum allowed size: the file has {MAX + 1} bytes, a "
     "proof file may have at most 5242880 (5 MB)."),
])
def test_a_refused_condition_is_answered_with_oss_code_and_message(conditions, size, code,
                                                                   message):
    assert refusal(check, signed(conditions), size=size) == (code, message)


@pytest.mark.parametrize("conditions, size", [
    ([["content-length-range", 5, 10]], 5),                  # the minimum itself
    ([["eq", "$success_action_status", ""]], 1),             # a field not sent is empty
    ([["starts-with", "$x-oss-meta-owner", ""]], 1),
    ([["in", "$bucket", ["elsewhere", "pigeon"]]], 1),
    ([["not-in", "$bucket", ["elsewhere"]]], 1),
    ([["EQ", "$KEY", f"{START}a.png"]], 1),                  # operator and name in any case
])
def test_conditions_that_hold_let_the_file_in(conditions, size):
    assert check(signed(conditions), size=size) == (ACCOUNT, f"{START}a.png")


def test_key_conditions_see_the_key_with_the_filename_put_in():
    fields = signed([["eq", "$key", f"{START}licence.png"]])
    fields["key"] = START + "${filename}"
    assert check(fields, filename="scans/licence.png") == (ACCOUNT, f"{START}licence.png")


def test_a_key_outside_the_account_is_refused_with_its_reason():
    fields = signed([])
    fields["key"] = "9999/qualification/a.png"
    assert refusal(check, fields) == (
        "AccessDenied", "The object key '9999/qualification/a.png' is outside this account's "
        "uploads; keys begin with the StartPath the credentials came with.")


NO_CREDENTIALS = (": Pigeon takes no anonymous uploads; get credentials with "
                  "GetQualificationOssInfo or GetOSSInfoForUploadFile.")
NOT_BASE64 = "Invalid Policy: the policy form field is not base64-encoded JSON."
NO_EXPIRATION = "Invalid Policy: Policy missing expiration."


@pytest.mark.parametrize("changes, code, message", [
    ({"key": None}, "InvalidArgument", "Bucket POST must contain a field named 'key'."),
    ({"key": ""}, "InvalidArgument", "Bucket POST must contain a field named 'key'."),
    ({"ossaccesskeyid": None, "policy": None, "signature": None}, "AccessDenied",
     "The form has no OSSAccessKeyId, policy, Signature" + NO_CREDENTIALS),
    ({"signature": ""}, "AccessDenied", "The form has no Signature" + NO_CREDENTIALS),
    ({"policy": "%%%"}, "InvalidPolicyDocument", NOT_BASE64),
    ({"policy": encoded('{"conditions": []}')[:8] + "*" + encoded('{"conditions": []}')[8:]},
     "InvalidPolicyDocument", NOT_BASE64),
    ({"policy": encoded("\xff")}, "InvalidPolicyDocument", NOT_BASE64),
    ({"policy": encoded('{"conditions": []}')}, "InvalidPolicyDocument", NO_EXPIRATION),
    ({"policy": encoded("[]")}, "InvalidPolicyDocument", NO_EXPIRATION),
    ({"policy": encoded('{"expiration": "2026-06-01T09:00:00.000Z"}')}, "InvalidPolicyDocument",
     "Invalid Policy: Policy missing conditions."),
    ({"policy": encoded('{"expiration": "2026-06-01T09:00:00.000Z", "conditions": {}}')},
     "InvalidPolicyDocument", "Invalid Policy: Policy missing conditions."),
])
def test_a_broken_form_gets_the_code_and_message_oss_answers(changes, code, message):
    grant = post_policy.grant(KEY, ACCOUNT, START, NOW)
    assert refusal(check, form(grant, **changes)) == (code, message)


EXPIRED = ("AccessDenied", "Invalid according to Policy: Policy expired.")


def invalid_expiration(text: str) -> tuple[str, str]:
    return ("InvalidPolicyDocument", f"Invalid Policy: Invalid expiration {text!r}; use ISO 8601 "
            "in GMT, such as 2024-06-25T06:37:25.000Z.")


@pytest.mark.parametrize("expiration, refused", [
    ("2026-06-01T08:00:00.001Z", None),
    ("2026-06-01T08:00:00.000Z", EXPIRED),
    ("2026-06-01T16:00:01+08:00", None),
    ("2026-06-01T15:59:59+08:00", EXPIRED),             # 07:59:59 UTC
    ("2026-06-01T08:00:01", None),                      # no offset: UTC, not the server's zone
    ("2026-06-01T07:59:59", EXPIRED),
    ("2026-06-01T09:00:00z", invalid_expiration("2026-06-01T09:00:00z")),
    ("in half an hour", invalid_expiration("in half an hour")),
    ("9999-12-31T23:59:59-01:00", invalid_expiration("9999-12-31T23:59:59-01:00")),
])
def test_the_expiration_is_read_as_oss_reads_it(machine_east_of_utc, expiration, refused):
    fields = signed([], expires=expiration)
    if refused is None:
        assert check(fields) == (ACCOUNT, f"{START}a.png")
    else:
        assert refusal(check, fields) == refused
