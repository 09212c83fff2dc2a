"""The one registry of error codes: each code's status and message, and the three error kinds
(RPC, OSS, MNS) built from it."""

from __future__ import annotations

import pytest

from pigeon.core.errors import (
    BUSINESS,
    GATEWAY,
    MNS,
    OSS,
    REGISTRY,
    ErrorCode,
    MnsError,
    OssError,
    PigeonError,
)

# -- the registry -----------------------------------------------------------------------------


def test_every_row_is_filed_under_its_own_code():
    for table in (GATEWAY, BUSINESS, OSS, MNS):
        assert all(code == row.code for code, row in table.items())
    assert REGISTRY == GATEWAY | BUSINESS


def test_business_errors_answer_200_and_gateway_errors_do_not():
    assert all(row.http_status == 200 and row.is_business for row in BUSINESS.values())
    assert all(row.http_status >= 400 and not row.is_business for row in GATEWAY.values())


@pytest.mark.parametrize(("status", "business"), [(200, True), (201, False), (400, False),
                                                  (500, False)])
def test_only_http_200_is_a_business_error(status, business):
    assert ErrorCode("X", status, "x").is_business is business


@pytest.mark.parametrize(("code", "status", "retryable", "smpp_status"), [
    ("MissingParameter", 400, False, None),
    ("InvalidAccessKeyId.NotFound", 404, False, None),
    ("Forbidden.RAM", 403, False, None),
    ("InternalError", 500, True, None),
    ("ServiceUnavailable", 503, True, None),
    ("isp.SYSTEM_ERROR", 200, True, None),
    ("isv.BUSINESS_LIMIT_CONTROL", 200, False, 0x58),
    ("isv.AMOUNT_NOT_ENOUGH", 200, False, None),
])
def test_a_row_holds_status_retry_and_smpp_counterpart(code, status, retryable, smpp_status):
    row = REGISTRY[code]
    assert (row.http_status, row.retryable, row.smpp_status) == (status, retryable, smpp_status)


# -- PigeonError ------------------------------------------------------------------------------


def test_an_error_takes_its_rows_message_and_status():
    error = PigeonError("isv.DAY_LIMIT_CONTROL")
    assert (error.code, error.row, error.http_status) == (
        "isv.DAY_LIMIT_CONTROL", BUSINESS["isv.DAY_LIMIT_CONTROL"], 200)
    assert error.message == "The account's daily sending cap is reached."
    assert error.headers == {}
    assert str(error) == "isv.DAY_LIMIT_CONTROL: The account's daily sending cap is reached."


def test_a_message_and_headers_can_be_given():
    error = PigeonError("Throttling.User", "Too many calls.", headers={"Retry-After": "3"})
    assert (error.code, error.message, error.http_status) == ("Throttling.User",
                                                              "Too many calls.", 400)
    assert error.headers == {"Retry-After": "3"}
    assert str(error) == "Throttling.User: Too many calls."


@pytest.mark.parametrize(("code", "row", "message"), [
    ("MissingPhoneNumbers", "MissingParameter", "a parameter is mandatory for this action."),
    ("InvalidSignName", "InvalidParameter", "Specified parameter a parameter is not valid."),
    ("InvalidParameter", "InvalidParameter", "Specified parameter a parameter is not valid."),
    # a registered code starting the same way keeps its own row
    ("InvalidTimeStamp.Expired", "InvalidTimeStamp.Expired",
     "Specified time stamp or date value is expired."),
    ("InvalidAccessKeyId.NotFound", "InvalidAccessKeyId.NotFound",
     "Specified access key is not found."),
    ("SignatureDoesNotMatch", "SignatureDoesNotMatch",
     "Specified signature is not matched with our calculation. server string to sign is:"),
])
def test_missing_and_invalid_codes_fall_back_to_the_gateway_rows(code, row, message):
    error = PigeonError(code)
    assert (error.code, error.row, error.message) == (code, REGISTRY[row], message)


@pytest.mark.parametrize("code", ["isv.NOT_A_CODE", "Unknown", "missingPhoneNumbers",
                                  "MalformedPOSTRequest"])
def test_an_unregistered_code_is_a_programming_error(code):
    with pytest.raises(KeyError) as raised:
        PigeonError(code)
    assert raised.value.args == (f"unregistered error code {code!r}",)


def test_missing_names_the_parameter():
    error = PigeonError.missing("PhoneNumbers")
    assert (error.code, error.message, error.http_status) == (
        "MissingPhoneNumbers", "PhoneNumbers is mandatory for this action.", 400)


@pytest.mark.parametrize(("name", "why", "code", "message"), [
    ("SignName", None, "InvalidSignName", "Specified parameter SignName is not valid."),
    ("SignName", "", "InvalidSignName", "Specified parameter SignName is not valid."),
    ("SignName", "It is too long.", "InvalidSignName",
     "Specified parameter SignName is not valid. It is too long."),
    # a name that is no identifier (a repeated-list field) gets the generic code
    ("Tag.1.Key", None, "InvalidParameter", "Specified parameter Tag.1.Key is not valid."),
])
def test_invalid_names_the_parameter_and_why(name, why, code, message):
    error = PigeonError.invalid(name, why)
    assert (error.code, error.message, error.http_status) == (code, message, 400)


@pytest.mark.parametrize(("code", "start"), [
    ("SignatureDoesNotMatch", "Specified signature is not matched with our calculation."),
    ("IncompleteSignature", "The request signature does not conform to Aliyun standards."),
])
def test_a_signature_mismatch_ends_with_the_string_to_sign_after_a_colon(code, start):
    error = PigeonError.signature_mismatch("GET&%2F&Action%3DSendSms", code)
    assert (error.code, error.message) == (
        code, f"{start} server string to sign is:GET&%2F&Action%3DSendSms")


def test_a_signature_mismatch_is_signature_does_not_match_by_default():
    assert PigeonError.signature_mismatch("x").code == "SignatureDoesNotMatch"


# -- OSS and MNS errors -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", [OssError, MnsError])
def test_protocol_errors_take_their_own_tables_rows(kind):
    table = OSS if kind is OssError else MNS
    error = kind("SignatureDoesNotMatch")
    assert (error.code, error.row, error.http_status) == (
        "SignatureDoesNotMatch", table["SignatureDoesNotMatch"], 403)
    assert error.message == table["SignatureDoesNotMatch"].message
    assert str(error) == f"SignatureDoesNotMatch: {error.message}"
    assert REGISTRY["SignatureDoesNotMatch"].http_status == 400  # the RPC gateway's own


@pytest.mark.parametrize(("kind", "code", "status", "message"), [
    (OssError, "NoSuchKey", 404, "The specified key does not exist."),
    (OssError, "MethodNotAllowed", 405,
     "The specified method is not allowed against this resource."),
    (MnsError, "MessageNotExist", 404, "Message not exist."),
    (MnsError, "TimeExpired", 408, "The http request you sent is expired."),
])
def test_protocol_errors_answer_their_protocols_status_and_wording(kind, code, status, message):
    error = kind(code)
    assert (error.code, error.http_status, error.message) == (code, status, message)
    assert str(error) == f"{code}: {message}"


@pytest.mark.parametrize("kind", [OssError, MnsError])
def test_protocol_errors_take_a_message(kind):
    error = kind("InvalidArgument", "Policy expired.")
    assert (error.message, error.http_status) == ("Policy expired.", 400)
    assert str(error) == "InvalidArgument: Policy expired."


@pytest.mark.parametrize("kind", [OssError, MnsError])
def test_a_protocol_error_needs_a_code_of_its_table(kind):
    with pytest.raises(KeyError):
        kind("isv.DAY_LIMIT_CONTROL")
