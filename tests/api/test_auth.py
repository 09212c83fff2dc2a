"""The authentication flow: keys, timestamps, nonces, required parts, and the order of checks.

Requests are signed by the official SDKs' own functions (tea-openapi's ``get_rpcsignature`` for
V1, ``get_authorization`` for V3; aliyunsdkcore's composer where its string to sign matters),
so these tests do not lean on Pigeon's own signing code to build their input.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode
from uuid import uuid4

import pytest
from alibabacloud_tea_openapi.utils import Utils as TeaUtils
from aliyunsdkcore.auth.composer import rpc_signature_composer
from darabonba.request import DaraRequest

from pigeon.api.rpc.auth import Authenticator, DatabaseNonces, KeyRecord, parse_timestamp
from pigeon.api.rpc.request import RpcRequest
from pigeon.api.rpc.signing import v1_string_to_sign, v3_canonical_request, v3_string_to_sign
from pigeon.core.errors import PigeonError
from tests.support.nonces import MemoryNonces

NOW = datetime(2026, 11, 24, 19, 31, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)
HOST = "127.0.0.1:8080"
KEY = KeyRecord(access_key_id="LTAI5tPigeonTestKey0001", account_id=1,
                secret="pigeon-test-secret-0001", enabled=True)
OTHER_KEY = KeyRecord(access_key_id="LTAI5tPigeonTestKey0002", account_id=2,
                      secret="pigeon-test-secret-0002", enabled=True)
DISABLED_KEY = KeyRecord(access_key_id="LTAI5tPigeonDisabled001", account_id=3,
                         secret="pigeon-test-secret-0003", enabled=False)
KEYS = {key.access_key_id: key for key in (KEY, OTHER_KEY, DISABLED_KEY)}


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def v1_request(*, key: KeyRecord = KEY, secret: str | None = None, at: datetime = NOW,
               nonce: str | None = None, method: str = "POST", drop: tuple[str, ...] = (),
               **overrides: str) -> RpcRequest:
    """A V1 request as the Tea SDK sends it with ``signature_algorithm='v2'``."""
    params = {"Action": "SendSms", "Format": "json", "Version": "2017-05-25",
              "Timestamp": stamp(at), "SignatureNonce": nonce or uuid4().hex,
              "PhoneNumbers": "13800138000", "SignName": "验收测试",
              "TemplateCode": "SMS_100000001", "TemplateParam": '{"code":"123456"}',
              "SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0",
              "AccessKeyId": key.access_key_id, **overrides}
    for name in drop:
        params.pop(name)
    params["Signature"] = TeaUtils.get_rpcsignature(params, method, secret or key.secret)
    return RpcRequest.build(method, urlencode(params), {"host": HOST}, b"")


def v3_request(*, key: KeyRecord = KEY, secret: str | None = None, at: datetime = NOW,
               nonce: str | None = None, algorithm: str = "ACS3-HMAC-SHA256",
               unsigned: tuple[str, ...] = (), absent: tuple[str, ...] = (),
               date: str | None = None) -> RpcRequest:
    """A V3 request as the Tea SDK sends it.

    ``unsigned`` headers are left out before signing (so not in SignedHeaders); ``absent``
    headers are signed, then removed from the request.
    """
    query = {"PhoneNumbers": "13800138000", "SignName": "验收测试",
             "TemplateCode": "SMS_100000001"}
    payload_hash = hashlib.sha256(b"").hexdigest()
    signer = DaraRequest()
    signer.method, signer.pathname, signer.query = "POST", "/", dict(query)
    signer.headers = {
        "host": HOST, "x-acs-version": "2017-05-25", "x-acs-action": "SendSms",
        "x-acs-date": date or stamp(at), "x-acs-signature-nonce": nonce or uuid4().hex,
        "accept": "application/json", "x-acs-content-sha256": payload_hash,
    }
    for name in unsigned:
        signer.headers.pop(name)
    headers = dict(signer.headers)
    headers["authorization"] = TeaUtils.get_authorization(
        signer, algorithm, payload_hash, key.access_key_id, secret or key.secret)
    for name in absent:
        headers.pop(name)
    return RpcRequest.build("POST", urlencode(query), headers, b"")


class Lookups:
    """The key store as the authenticator sees it, recording what it was asked."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    async def __call__(self, access_key_id: str) -> KeyRecord | None:
        self.asked.append(access_key_id)
        return KEYS.get(access_key_id)


@pytest.fixture
def lookups() -> Lookups:
    return Lookups()


@pytest.fixture
def authenticator(lookups) -> Authenticator:
    return Authenticator(lookups, WINDOW, MemoryNonces())


@pytest.fixture
def db_authenticator(lookups, pigeon) -> Authenticator:
    """What a running Pigeon uses: nonces in the database (SQLite and PostgreSQL)."""
    return Authenticator(lookups, WINDOW, DatabaseNonces(pigeon.db))


def authenticate(authenticator: Authenticator, request: RpcRequest,
                 now: datetime = NOW) -> KeyRecord:
    return asyncio.run(authenticator.authenticate(request, now))


def rejection(authenticator: Authenticator, request: RpcRequest,
              now: datetime = NOW) -> PigeonError:
    with pytest.raises(PigeonError) as caught:
        authenticate(authenticator, request, now)
    return caught.value


SCHEMES = {"v1": v1_request, "v3": v3_request}
both_schemes = pytest.mark.parametrize("build", SCHEMES.values(), ids=SCHEMES.keys())


# --- keys -------------------------------------------------------------------------------------

@both_schemes
def test_it_returns_the_key_that_signed_the_request(authenticator, build):
    assert authenticate(authenticator, build()) == KEY
    assert authenticate(authenticator, build(key=OTHER_KEY)) == OTHER_KEY


@both_schemes
def test_it_answers_404_for_an_unknown_access_key(authenticator, build):
    stranger = KeyRecord(access_key_id="LTAI5tNobodyKnowsThis01", account_id=9,
                         secret="whatever", enabled=True)

    error = rejection(authenticator, build(key=stranger))

    assert error.code == "InvalidAccessKeyId.NotFound"
    assert error.http_status == 404
    assert error.message == "Specified access key is not found."


@both_schemes
def test_it_rejects_a_disabled_key(authenticator, build):
    error = rejection(authenticator, build(key=DISABLED_KEY))

    assert error.code == "InvalidAccessKeyId.Inactive"
    assert error.http_status == 400


def test_it_never_shows_a_secret_in_a_key_repr():
    assert KEY.secret not in repr(KEY)
    assert "secret" not in repr(KEY)


# --- timestamps -------------------------------------------------------------------------------

@both_schemes
@pytest.mark.parametrize("skew", [timedelta(minutes=-16), timedelta(minutes=16),
                                  timedelta(days=-1), timedelta(days=365)],
                         ids=["stale", "future", "a-day-old", "a-year-ahead"])
def test_it_rejects_a_timestamp_outside_the_window(authenticator, build, skew):
    error = rejection(authenticator, build(at=NOW + skew))

    assert error.code == "InvalidTimeStamp.Expired"
    assert error.http_status == 400


@both_schemes
@pytest.mark.parametrize("skew", [timedelta(minutes=-15), timedelta(minutes=15), timedelta(0)],
                         ids=["exactly-window-old", "exactly-window-ahead", "now"])
def test_it_accepts_a_timestamp_within_the_window(authenticator, build, skew):
    assert authenticate(authenticator, build(at=NOW + skew)) == KEY


MALFORMED_TIMESTAMPS = ["2026-11-24 19:31:00", "2026-11-24T19:31:00", "2026-11-24T19:31:00+08:00",
                        "2026-11-24T19:31:00.000Z", "2026-13-24T19:31:00Z",
                        "2026-11-24T25:31:00Z", "1732476660", "2026-11-24t19:31:00z",
                        "２０２６-11-24T19:31:00Z"]


@pytest.mark.parametrize("timestamp", MALFORMED_TIMESTAMPS)
def test_it_rejects_a_malformed_v1_timestamp(authenticator, timestamp):
    error = rejection(authenticator, v1_request(Timestamp=timestamp))

    assert error.code == "InvalidTimeStamp.Format"
    assert error.http_status == 400


@pytest.mark.parametrize("timestamp", MALFORMED_TIMESTAMPS)
def test_it_rejects_a_malformed_x_acs_date(authenticator, timestamp):
    assert rejection(authenticator, v3_request(date=timestamp)).code == "InvalidTimeStamp.Format"


def test_it_reads_timestamps_as_utc():
    assert parse_timestamp("2026-11-24T19:31:00Z") == NOW


# --- nonces -----------------------------------------------------------------------------------

@both_schemes
def test_it_rejects_a_replayed_nonce(db_authenticator, build):
    request = build(nonce="a8e4024da1f3e78cf89d07a60dc7e9a8")
    authenticate(db_authenticator, request)

    error = rejection(db_authenticator, request, NOW + timedelta(seconds=5))

    assert error.code == "SignatureNonceUsed"
    assert error.http_status == 400


@both_schemes
def test_it_rejects_a_reused_nonce_in_a_new_request_of_the_same_key(db_authenticator, build):
    authenticate(db_authenticator, build(nonce="same-nonce"))

    later = build(nonce="same-nonce", at=NOW + timedelta(minutes=1))
    assert rejection(db_authenticator, later,
                     NOW + timedelta(minutes=1)).code == "SignatureNonceUsed"


@both_schemes
def test_it_lets_two_keys_use_the_same_nonce(db_authenticator, build):
    authenticate(db_authenticator, build(nonce="shared-nonce"))

    assert authenticate(db_authenticator, build(key=OTHER_KEY, nonce="shared-nonce")) == OTHER_KEY


@both_schemes
def test_a_request_with_a_bad_signature_does_not_burn_its_nonce(db_authenticator, build):
    forged = build(nonce="victim-nonce", secret="guessed-secret")
    assert rejection(db_authenticator, forged).code == "SignatureDoesNotMatch"

    assert authenticate(db_authenticator, build(nonce="victim-nonce")) == KEY


@both_schemes
def test_a_request_with_an_expired_timestamp_does_not_burn_its_nonce(db_authenticator, build):
    stale = build(nonce="victim-nonce", at=NOW - timedelta(hours=1))
    assert rejection(db_authenticator, stale).code == "InvalidTimeStamp.Expired"

    assert authenticate(db_authenticator, build(nonce="victim-nonce")) == KEY


def test_a_nonce_is_forgotten_once_the_window_has_passed(db_authenticator):
    authenticate(db_authenticator, v1_request(nonce="n"))

    at_the_edge = NOW + WINDOW
    assert rejection(db_authenticator, v1_request(nonce="n", at=at_the_edge),
                     at_the_edge).code == "SignatureNonceUsed"
    later = NOW + WINDOW + timedelta(seconds=1)
    assert authenticate(db_authenticator, v1_request(nonce="n", at=later), later) == KEY


def test_a_request_signed_ahead_of_the_clock_cannot_be_replayed_after_the_window(
        db_authenticator):
    # Signed 14 minutes ahead of the server clock: the timestamp stays acceptable until
    # signed_at + window, and the nonce must stay known as long.
    request = v1_request(nonce="early-bird", at=NOW + timedelta(minutes=14))
    authenticate(db_authenticator, request)

    replay_at = NOW + timedelta(minutes=28)  # the timestamp is still within the window
    assert rejection(db_authenticator, request, replay_at).code == "SignatureNonceUsed"


@both_schemes
def test_a_nonce_longer_than_255_characters_is_refused_before_the_key_is_looked_up(
        authenticator, lookups, build):
    assert authenticate(authenticator, build(nonce="n" * 255)) == KEY
    lookups.asked.clear()

    error = rejection(authenticator, build(nonce="n" * 256))

    assert (error.code, error.http_status) == ("InvalidSignatureNonce", 400)
    assert lookups.asked == []


# --- V1 required parts ------------------------------------------------------------------------

@pytest.mark.parametrize(("missing", "code"), [
    ("AccessKeyId", "MissingAccessKeyId"),
    ("SignatureMethod", "MissingSignatureMethod"),
    ("SignatureVersion", "MissingSignatureVersion"),
    ("SignatureNonce", "MissingSignatureNonce"),
    ("Timestamp", "MissingTimestamp"),
])
def test_it_names_a_missing_v1_parameter(authenticator, lookups, missing, code):
    error = rejection(authenticator, v1_request(drop=(missing,)))

    assert error.code == code
    assert error.http_status == 400
    assert error.message == f"{missing} is mandatory for this action."
    assert lookups.asked == []  # the request's own shape is checked before any key lookup


@pytest.mark.parametrize("empty", ["AccessKeyId", "SignatureNonce", "Timestamp"])
def test_it_treats_an_empty_v1_parameter_as_missing(authenticator, empty):
    assert rejection(authenticator, v1_request(**{empty: ""})).code == f"Missing{empty}"


def test_it_asks_for_a_signature_when_a_request_has_none(authenticator):
    request = RpcRequest.build("POST", "Action=SendSms&AccessKeyId=" + KEY.access_key_id,
                               {"host": HOST}, b"")

    error = rejection(authenticator, request)

    assert error.code == "MissingSignature"
    assert error.message == "Signature is mandatory for this action."


@pytest.mark.parametrize("method", ["HMAC-SHA256", "hmac-sha1", "RSA"])
def test_it_rejects_a_v1_signature_method_other_than_hmac_sha1(authenticator, method):
    assert rejection(authenticator,
                     v1_request(SignatureMethod=method)).code == "InvalidSignatureMethod"


def test_it_rejects_a_v1_signature_version_other_than_1_0(authenticator):
    error = rejection(authenticator, v1_request(SignatureVersion="2.0"))

    assert error.code == "InvalidSignatureVersion"
    assert error.message == "Specified parameter SignatureVersion is not valid."


def test_it_verifies_a_v1_signature_sent_in_the_form_body(authenticator):
    # pop-core's POST: every parameter, Signature included, in the body.
    request = v1_request()
    body = urlencode(request.query).encode()
    moved = RpcRequest.build("POST", "", {"host": HOST,
                                          "content-type": "application/x-www-form-urlencoded"},
                             body)

    assert authenticate(authenticator, moved) == KEY


def test_it_signs_v1_with_the_real_http_method(authenticator):
    signed_for_get = v1_request(method="GET")
    sent_as_post = RpcRequest.build("POST", urlencode(signed_for_get.query), {"host": HOST}, b"")

    assert authenticate(authenticator, signed_for_get) == KEY
    assert rejection(authenticator, sent_as_post).code == "SignatureDoesNotMatch"


# --- V3 required parts ------------------------------------------------------------------------

@pytest.mark.parametrize("header", ["host", "x-acs-action", "x-acs-version", "x-acs-date",
                                    "x-acs-signature-nonce", "x-acs-content-sha256"])
def test_it_rejects_a_v3_request_that_does_not_sign_a_required_header(authenticator, lookups,
                                                                     header):
    error = rejection(authenticator, v3_request(unsigned=(header,)))

    assert error.code == "IncompleteSignature"
    assert error.http_status == 400
    assert header in error.message
    assert lookups.asked == []


@pytest.mark.parametrize("header", ["x-acs-signature-nonce", "accept"])
def test_it_rejects_a_v3_request_without_a_header_it_signed(authenticator, header):
    error = rejection(authenticator, v3_request(absent=(header,)))

    assert error.code == "IncompleteSignature"
    assert header in error.message


@pytest.mark.parametrize("algorithm", ["ACS3-HMAC-SM3", "ACS3-RSA-SHA256"])
def test_it_rejects_the_sm3_and_rsa_algorithms(authenticator, lookups, algorithm):
    secret = KEY.secret if algorithm == "ACS3-HMAC-SM3" else None
    if algorithm == "ACS3-RSA-SHA256":
        request = v3_request()
        authorization = request.headers["authorization"].replace("ACS3-HMAC-SHA256", algorithm)
        request = RpcRequest.build("POST", "", {**request.headers,
                                                "authorization": authorization}, b"")
    else:
        request = v3_request(algorithm=algorithm, secret=secret)
        assert request.headers["authorization"].startswith("ACS3-HMAC-SM3 Credential=")

    error = rejection(authenticator, request)

    assert error.code == "InvalidSignatureMethod"
    assert lookups.asked == []


def test_it_rejects_a_body_that_does_not_match_x_acs_content_sha256(authenticator, lookups):
    request = v3_request()
    tampered = RpcRequest.build("POST", urlencode(request.query), dict(request.headers),
                                b"PhoneNumberJson=%5B%2213800138000%22%5D")

    error = rejection(authenticator, tampered)

    assert error.code == "SignatureDoesNotMatch"
    assert "x-acs-content-sha256" in error.message
    assert lookups.asked == []


# --- the SignatureDoesNotMatch message --------------------------------------------------------

def test_the_v1_mismatch_message_ends_with_exactly_the_server_string_to_sign(authenticator):
    request = v1_request(secret="wrong-secret")
    expected = v1_string_to_sign("POST", [(k, v) for k, v in request.query if k != "Signature"])

    error = rejection(authenticator, request)

    assert error.code == "SignatureDoesNotMatch"
    assert error.http_status == 400
    assert error.message == ("Specified signature is not matched with our calculation. "
                             f"server string to sign is:{expected}")
    assert error.message.split(":", 1)[1] == expected


def test_the_v3_mismatch_message_ends_with_exactly_the_server_string_to_sign(authenticator):
    request = v3_request(secret="wrong-secret")
    signed = request.headers["authorization"].split("SignedHeaders=")[1].split(",")[0]
    expected = v3_string_to_sign(v3_canonical_request(
        "POST", request.query, request.headers, signed.split(";"),
        hashlib.sha256(b"").hexdigest()))

    error = rejection(authenticator, request)

    assert error.code == "SignatureDoesNotMatch"
    assert error.message.split(":", 1)[1] == expected


def test_aliyunsdkcore_can_tell_a_wrong_secret_from_the_mismatch_message(authenticator):
    # aliyunsdkcore compares message.split(':')[1] with its own string to sign and, when they
    # are equal, reports InvalidAccessKeySecret instead of SignatureDoesNotMatch.
    params = {"PhoneNumbers": "13800138000", "SignName": "验收测试", "Action": "SendSms",
              "Version": "2017-05-25", "RegionId": "cn-hangzhou", "OutId": "order 42+1*~/x"}
    url, client_string_to_sign = rpc_signature_composer.get_signed_url(
        params, KEY.access_key_id, "a-wrong-secret", "JSON", "POST", {})
    request = RpcRequest.build("POST", url.removeprefix("/?"), {"host": HOST}, b"")
    now = parse_timestamp(request.params["Timestamp"])

    error = rejection(authenticator, request, now)

    assert error.code == "SignatureDoesNotMatch"
    assert error.message.split(":")[1] == client_string_to_sign


# --- the order of checks ----------------------------------------------------------------------

@both_schemes
def test_it_checks_the_key_before_the_timestamp(authenticator, build):
    stale = build(key=DISABLED_KEY, at=NOW - timedelta(hours=1))

    assert rejection(authenticator, stale).code == "InvalidAccessKeyId.Inactive"


@both_schemes
def test_it_checks_the_timestamp_before_the_signature(authenticator, build):
    stale_and_forged = build(at=NOW - timedelta(hours=1), secret="guessed-secret")

    assert rejection(authenticator, stale_and_forged).code == "InvalidTimeStamp.Expired"


@both_schemes
def test_it_does_not_reveal_whether_a_disabled_key_signature_is_right(authenticator, build):
    forged = build(key=DISABLED_KEY, secret="guessed-secret")

    assert rejection(authenticator, forged).code == "InvalidAccessKeyId.Inactive"


def test_it_checks_the_signature_before_the_nonce(authenticator):
    authenticate(authenticator, v1_request(nonce="used"))

    forged_replay = v1_request(nonce="used", secret="guessed-secret")
    assert rejection(authenticator, forged_replay).code == "SignatureDoesNotMatch"
