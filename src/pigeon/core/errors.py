"""The one registry of error codes.

Each row is an Alibaba ``Code`` with the HTTP status Pigeon answers it with, its default
message, whether a carrier-side failure with this code is worth retrying, and its SMPP
``command_status`` counterpart where one exists.  Business errors (``isv.*``/``isp.*``) answer
HTTP 200 with the code in the body — that is how the official SDKs expect them (spec/wire.md
§7.6); gateway and authentication errors answer 4xx so the SDKs raise.

Code raises :class:`PigeonError`; the RPC layer turns it into the one error body shape, the CLI
into one line of text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorCode:
    code: str
    http_status: int
    message: str
    retryable: bool = False
    smpp_status: int | None = None

    @property
    def is_business(self) -> bool:
        return self.http_status == 200


def _rows(*rows: ErrorCode) -> dict[str, ErrorCode]:
    return {row.code: row for row in rows}


# Gateway / authentication errors (spec/dysmsapi.md §4.2): HTTP 4xx, the SDKs raise.
# Messages are the gateway's fixed wording; ``{name}`` and ``{sts}`` are filled in.
GATEWAY = _rows(
    ErrorCode("MissingParameter", 400, "{name} is mandatory for this action."),
    ErrorCode("InvalidParameter", 400, "Specified parameter {name} is not valid."),
    ErrorCode("InvalidAccessKeyId.NotFound", 404, "Specified access key is not found."),
    ErrorCode("InvalidAccessKeyId.Inactive", 400, "Specified access key is disabled."),
    ErrorCode("InvalidTimeStamp.Format", 400,
              "Specified time stamp or date value is not well formatted."),
    ErrorCode("InvalidTimeStamp.Expired", 400, "Specified time stamp or date value is expired."),
    ErrorCode("SignatureNonceUsed", 400, "Specified signature nonce was used already."),
    ErrorCode("SignatureDoesNotMatch", 400,
              "Specified signature is not matched with our calculation. "
              "server string to sign is:{sts}"),
    ErrorCode("IncompleteSignature", 400,
              "The request signature does not conform to Aliyun standards. "
              "server string to sign is:{sts}"),
    ErrorCode("InvalidSignatureMethod", 400, "Specified signature method is not valid."),
    ErrorCode("UnsupportedHTTPMethod", 400, "Specified HTTP method is not supported."),
    ErrorCode("InvalidParameter.Format", 400, "Specified parameter format is not valid."),
    ErrorCode("InvalidVersion", 400, "Specified parameter Version is not valid."),
    ErrorCode("InvalidAction.NotFound", 404,
              "Specified api is not found, please check your url and method."),
    ErrorCode("Forbidden.RAM", 403, "User not authorized to operate on the specified resource."),
    ErrorCode("Throttling.User", 400, "Request was denied due to user flow control."),
    ErrorCode("InternalError", 500,
              "The request processing has failed due to some unknown error, exception or failure.",
              retryable=True),
    ErrorCode("ServiceUnavailable", 503,
              "The request has failed due to a temporary failure of the server.", retryable=True),
)

# Business errors (spec/dysmsapi.md §4.3): HTTP 200 with the code in the body.  Only codes that
# Alibaba documents are emitted (spec advice); situations without a code of their own (an
# unknown qualification, a duplicate name) use the nearest documented code with a precise
# message.
BUSINESS = _rows(
    ErrorCode("isv.SMS_SIGNATURE_SCENE_ILLEGAL", 200,
              "The signature's type may not send this template's type."),
    ErrorCode("isv.EXTEND_CODE_ERROR", 200,
              "The extension code is already used by another signature."),
    ErrorCode("isv.SIGN_STATE_ILLEGAL", 200, "The signature is not available."),
    ErrorCode("isv.DOMESTIC_NUMBER_NOT_SUPPORTED", 200,
              "An international template cannot send to a mainland number."),
    ErrorCode("isv.DAY_LIMIT_CONTROL", 200, "The account's daily sending cap is reached."),
    ErrorCode("isv.MONTH_LIMIT_CONTROL", 200, "The account's monthly sending cap is reached."),
    ErrorCode("isv.SMS_CONTENT_ILLEGAL", 200, "The content contains forbidden material."),
    ErrorCode("isv.SMS_SIGN_ILLEGAL", 200, "The signature is banned."),
    ErrorCode("isv.OUT_OF_SERVICE", 200, "The service is suspended for this account."),
    ErrorCode("isv.PRODUCT_UNSUBSCRIBE", 200, "The product is not activated for this API."),
    ErrorCode("isv.ACCOUNT_NOT_EXISTS", 200, "The account does not exist."),
    ErrorCode("isv.ACCOUNT_ABNORMAL", 200, "The account is in an abnormal state."),
    ErrorCode("isv.SMS_TEMPLATE_ILLEGAL", 200,
              "The template does not exist under this account or is not approved."),
    ErrorCode("isv.SMS_SIGNATURE_ILLEGAL", 200,
              "The signature does not exist under this account or is not approved."),
    ErrorCode("isv.INVALID_PARAMETERS", 200, "A parameter is not valid."),
    ErrorCode("isp.SYSTEM_ERROR", 200, "Internal error; try again.", retryable=True),
    ErrorCode("isv.MOBILE_NUMBER_ILLEGAL", 200, "The phone number is not valid."),
    ErrorCode("isv.MOBILE_COUNT_OVER_LIMIT", 200, "Too many phone numbers in one request."),
    ErrorCode("isv.TEMPLATE_MISSING_PARAMETERS", 200,
              "TemplateParam does not give every template variable."),
    ErrorCode("isv.BUSINESS_LIMIT_CONTROL", 200, "The per-number sending limit is reached.",
              smpp_status=0x58),
    ErrorCode("isv.INVALID_JSON_PARAM", 200, "The JSON parameter is not valid."),
    ErrorCode("isv.PARAM_LENGTH_LIMIT", 200, "A variable value is too long."),
    ErrorCode("isv.PARAM_NOT_SUPPORT_URL", 200, "URLs are not allowed in variables."),
    ErrorCode("isv.AMOUNT_NOT_ENOUGH", 200, "The account balance is insufficient."),
    ErrorCode("isv.TEMPLATE_PARAMS_ILLEGAL", 200,
              "A variable value does not match its declared attribute."),
    ErrorCode("isv.SMS_TEST_NUMBER_LIMIT", 200, "Test messages go only to bound test numbers."),
    ErrorCode("isv.SIGN_COUNT_OVER_LIMIT", 200,
              "Too many signature applications in one natural day."),
    ErrorCode("isv.TEMPLATE_COUNT_OVER_LIMIT", 200,
              "Too many template applications in one natural day."),
    ErrorCode("isv.SIGN_NAME_ILLEGAL", 200, "The signature name violates the naming rules."),
    ErrorCode("isv.SIGN_FILE_LIMIT", 200, "A signature proof file is larger than 2 MB."),
    ErrorCode("isv.SIGN_OVER_LIMIT", 200, "The signature name or remark is too long."),
    ErrorCode("isv.TEMPLATE_OVER_LIMIT", 200, "The template name, content or remark is too long."),
    ErrorCode("isv.SIGN_SOURCE_ILLEGAL", 200, "The signature source is not valid."),
    ErrorCode("isv.ERROR_SIGN_NOT_DELETE", 200, "A signature under review cannot be deleted."),
    ErrorCode("isv.ERROR_SIGN_NOT_MODIFY", 200, "Only a rejected signature can be modified."),
    ErrorCode("isv.ERROR_TEMPLATE_NOT_DELETE", 200, "A template under review cannot be deleted."),
    ErrorCode("isv.ERROR_TEMPLATE_NOT_MODIFY", 200, "Only a rejected template can be modified."),
    ErrorCode("template_parameter_count_illegal", 200,
              "An OTP template may have only one code variable."),
)

REGISTRY: dict[str, ErrorCode] = {**GATEWAY, **BUSINESS}


class PigeonError(Exception):
    """A failure with a registered ``Code``.

    ``message`` overrides the registry's default text; ``name``/``sts`` fill the gateway
    templates (``MissingPhoneNumbers`` is ``PigeonError.missing("PhoneNumbers")``).
    """

    def __init__(self, code: str, message: str | None = None, *, headers: dict | None = None):
        row = REGISTRY.get(code)
        if row is None and code.startswith(("Missing", "Invalid")):
            row = REGISTRY["MissingParameter" if code.startswith("Missing") else "InvalidParameter"]
        if row is None:
            raise KeyError(f"unregistered error code {code!r}")
        self.code = code
        self.row = row
        if message is None:
            message = row.message.format(name="a parameter", sts="")
        self.message = message
        self.headers = headers or {}
        super().__init__(f"{code}: {self.message}")

    @property
    def http_status(self) -> int:
        return self.row.http_status

    @classmethod
    def missing(cls, name: str) -> PigeonError:
        return cls(f"Missing{name}", REGISTRY["MissingParameter"].message.format(name=name))

    @classmethod
    def invalid(cls, name: str, why: str | None = None) -> PigeonError:
        text = REGISTRY["InvalidParameter"].message.format(name=name)
        if why:
            text = f"{text} {why}"
        return cls(f"Invalid{name}" if name.isidentifier() else "InvalidParameter", text)

    @classmethod
    def signature_mismatch(cls, string_to_sign: str, code: str = "SignatureDoesNotMatch"):
        # Alibaba's wording, and a ':' before the string to sign: aliyunsdkcore splits on it
        # (and crashes with IndexError without one) to tell a wrong secret (wire.md §7.7).
        return cls(code, REGISTRY[code].message.format(sts=string_to_sign))


# OSS PostObject errors: the upload endpoint (api/uploads.py) speaks OSS's protocol, so it answers
# OSS's codes in OSS's XML ``<Error>`` body.  A table of its own, not part of REGISTRY: OSS
# reuses names with other statuses (``SignatureDoesNotMatch`` is 403 there, 400 on the RPC
# gateway).  Messages are OSS's wording where OSS has one.
OSS = _rows(
    ErrorCode("MalformedPOSTRequest", 400,
              "The body of your POST request is not well-formed multipart/form-data."),
    ErrorCode("InvalidArgument", 400, "An argument of the request is not valid."),
    ErrorCode("InvalidObjectName", 400, "The specified object is not valid."),
    ErrorCode("InvalidPolicyDocument", 400, "Invalid Policy: Invalid JSON."),
    ErrorCode("EntityTooLarge", 400, "Your proposed upload exceeds the maximum allowed size."),
    ErrorCode("EntityTooSmall", 400, "Your proposed upload is smaller than the minimum allowed size."),
    ErrorCode("InvalidAccessKeyId", 403,
              "The OSS Access Key Id you provided does not exist in our records."),
    ErrorCode("SignatureDoesNotMatch", 403,
              "The request signature we calculated does not match the signature you provided. "
              "Check your key and signing method."),
    ErrorCode("AccessDenied", 403, "Access denied."),
    ErrorCode("NoSuchKey", 404, "The specified key does not exist."),
    ErrorCode("MethodNotAllowed", 405, "The specified method is not allowed against this resource."),
    ErrorCode("InternalError", 500, "We encountered an internal error. Please try again.",
              retryable=True),
)


class OssError(Exception):
    """A failure of an OSS-protocol request, with a code of :data:`OSS`."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.row = OSS[code]
        self.message = message or self.row.message
        super().__init__(f"{code}: {self.message}")

    @property
    def http_status(self) -> int:
        return self.row.http_status


# MNS queue errors: the queue endpoint (api/mns.py) speaks MNS's REST protocol to the official
# MNS clients, so it answers MNS's codes, statuses and wording (sic: "is not exist") in MNS's XML
# ``<Error>`` body.  A table of its own like OSS's: the same names carry other statuses here.
MNS = _rows(
    ErrorCode("MissingAuthorizationHeader", 400, "Authorization header is required."),
    ErrorCode("InvalidAuthorizationHeader", 400, "The Authorization header format is invalid."),
    ErrorCode("MissingDateHeader", 400, "Date header is required."),
    ErrorCode("InvalidDateHeader", 400, "The Date header format is invalid."),
    ErrorCode("InvalidDegist", 400, "The Content-MD5 you specified is invalid."),  # sic
    ErrorCode("InvalidArgument", 400, "An argument of the request is not valid."),
    ErrorCode("InvalidRequestURL", 400, "Http request URL format invalid."),
    ErrorCode("MalformedXML", 400, "The XML you provided was not well-formed."),
    ErrorCode("MissingReceiptHandle", 400, "ReceiptHandle is required."),
    ErrorCode("MissingVisibilityTimeout", 400, "VisibilityTimeout is required."),
    ErrorCode("ReceiptHandleError", 400, "The receipt handle you provide is not valid."),
    ErrorCode("InvalidAccessKeyId", 403, "The AccessKey Id you provided is not exist."),
    ErrorCode("SignatureDoesNotMatch", 403,
              "The request signature we calculated does not match the signature you provided. "
              "Check your key and signing method."),
    ErrorCode("AccessDenied", 403,
              "The OwnerId that your Access Key Id associated to is forbidden for this operation."),
    ErrorCode("MessageNotExist", 404, "Message not exist."),
    ErrorCode("TimeExpired", 408, "The http request you sent is expired."),
    ErrorCode("InternalError", 500, "Internal error.", retryable=True),
)


class MnsError(Exception):
    """A failure of an MNS-protocol request, with a code of :data:`MNS`."""

    def __init__(self, code: str, message: str | None = None) -> None:
        self.code = code
        self.row = MNS[code]
        self.message = message or self.row.message
        super().__init__(f"{code}: {self.message}")

    @property
    def http_status(self) -> int:
        return self.row.http_status
