"""Qualifications: what SubmitSmsQualification/UpdateSmsQualification accept, and the review.

Fields use the wire names of spec/dysmsapi.md §2.19 (``BussinessLicenseExpDate`` keeps
Alibaba's spelling).  Booleans may arrive as ``bool`` or as the strings the SDKs send
(``true``/``false``, and ``True``/``False`` from the Python Tea SDK); JSON-array fields as a
string or already decoded.

Two stages:

* :func:`validate_qualification` runs when the request arrives and raises at once: a required
  field that is absent raises the gateway's ``Missing<Field>`` (as Alibaba's gateway does for a
  required parameter); a field that is present but breaks a rule raises
  ``isv.INVALID_PARAMETERS`` with a message naming the field and the rule.
* :func:`review_qualification` is the automatic reviewer: it never raises, and returns a
  :class:`Decision` whose reason tells the tenant what to fix (an expired licence or ID card, an
  ID number whose check digit is wrong…).  Having the same person as legal person and
  administrator is allowed.

Pigeon's choices where the spec is silent: ``Remark`` ≤ 500 characters; ID document numbers
≤ 50 characters at submission, and at review an ``identityCard`` number must be a valid
18-digit resident ID while other document numbers must be 5–20 ASCII letters, digits, ``-`` or
brackets; a company name needs at least one letter or Chinese character; a validity range must
already have started at review time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from pigeon.core import json_input
from pigeon.core.errors import PigeonError
from pigeon.core.id_numbers import resident_id_problem, social_credit_code_problem
from pigeon.core.numbers import parse_number
from pigeon.core.review_decision import Decision

Fields = Mapping[str, str | bool | list | None]

ID_CARD_TYPES = ("identityCard", "passport", "homeReturnPermit", "TaiwanCompatriotPermit",
                 "residencePermit", "other")
LICENSE_TYPES = ("socialCreditLicense", "businessLicense", "signLegalLicense", "otherLicense")
COMPANY_TYPES = ("COMPANY", "NON_PROFIT_ORGANIZATION")
LONG_TERM = date(2099, 12, 31)
"""The end date Alibaba uses for a long-term (长期) licence or ID card."""

DATE_RANGE_FIELDS = ("BussinessLicenseExpDate", "LegalPersonIdCardEffTime", "AdminIDCardExpDate")
SUBMIT_REQUIRED = (
    "QualificationName", "UseBySelf", "WhetherShare", "CompanyName", "CompanyType",
    "OrganizationCode", "BussinessLicenseExpDate", "LegalPersonName", "LegalPersonIDCardType",
    "LegalPersonIDCardNo", "LegalPersonIdCardEffTime", "AdminName", "AdminIDCardType",
    "AdminIDCardNo", "AdminIDCardExpDate", "AdminIDCardFrontFace", "AdminIDCardPic",
    "AdminPhoneNo", "CertifyCode",
)
UPDATE_REQUIRED = ("AdminPhoneNo", "CertifyCode")
NOT_UPDATABLE = ("QualificationName", "CompanyType", "OrganizationCode", "UseBySelf",
                 "WhetherShare", "Remark")
REMARK_MAX = 500

_DATE_RANGE = re.compile(r"(\d{4})-(\d{2})-(\d{2})~(\d{4})-(\d{2})-(\d{2})")
_CJK = r"\u3400-\u4dbf\u4e00-\u9fff"
_QUALIFICATION_NAME = re.compile(rf"[A-Za-z0-9{_CJK}]+")
_COMPANY_NAME = re.compile(rf"[A-Za-z0-9{_CJK}·【】（）() ]+")
_HAS_LETTER = re.compile(rf"[A-Za-z{_CJK}]")
_OTHER_DOCUMENT = re.compile(r"[A-Za-z0-9()（）-]{5,20}")


def normalize_mainland_mobile(text: object) -> str | None:
    """The 11-digit form of a mainland mobile number, or ``None`` if ``text`` is not one.

    Accepts ``13800138000`` with an optional ``+``, ``+86``, ``0086`` or ``86`` prefix and
    surrounding whitespace (spec §2.19 AdminPhoneNo), by the same rules as recipients.
    """
    if not isinstance(text, str):
        return None
    try:
        number = parse_number(text.strip())
    except PigeonError:
        return None
    return number.national if number.is_mainland else None


def parse_date_range(text: str) -> tuple[date, date]:
    """``"2020-01-01~2099-12-31"`` → the two dates; :class:`ValueError` saying what is wrong."""
    match = _DATE_RANGE.fullmatch(text)
    if not match:
        raise ValueError("must be a range YYYY-MM-DD~YYYY-MM-DD (use 2099-12-31 as the end of "
                         "a long-term validity)")
    numbers = [int(group) for group in match.groups()]
    try:
        start, end = date(*numbers[:3]), date(*numbers[3:])
    except ValueError:
        raise ValueError(f"holds {text!r}, which contains a date that does not exist") from None
    if start > end:
        raise ValueError(f"starts on {start} after it ends on {end}")
    return start, end


def parse_bool(value: object) -> bool:
    """``True``/``False`` or the strings ``true``/``false`` in any case; else ValueError."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ValueError("must be true or false")


def parse_file_list(value: object, *, typed: bool) -> list[dict]:
    """Decode ``BusinessLicensePics`` (``typed``) or ``OtherFiles``; ValueError on a bad shape.

    Each item is ``{"LicensePic": "<oss key>"}``, with ``"Type"`` among :data:`LICENSE_TYPES`
    when ``typed``.
    """
    items = value
    if isinstance(value, str):
        try:
            items = json_input.loads(value)
        except ValueError:
            raise ValueError("must be a JSON array such as "
                             '[{"LicensePic":"<oss key>","Type":"socialCreditLicense"}]') from None
    if not isinstance(items, list) or not items:
        raise ValueError("must be a non-empty JSON array of objects")
    for position, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ValueError(f"item {position} must be a JSON object")
        key = item.get("LicensePic")
        if not isinstance(key, str) or not key.strip():
            raise ValueError(f"item {position} needs LicensePic, the OSS key of the uploaded file")
        if typed and item.get("Type") not in LICENSE_TYPES:
            raise ValueError(f"item {position} has Type {item.get('Type')!r}; use one of "
                             f"{', '.join(LICENSE_TYPES)}")
    return items


def _invalid(field: str, rule: str) -> PigeonError:
    return PigeonError("isv.INVALID_PARAMETERS", f"{field} {rule}.")


def _is_absent(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _text(fields: Fields, field: str, maximum: int) -> str:
    value = fields[field]
    if not isinstance(value, str):
        raise _invalid(field, f"must be text, got {value!r}")
    if len(value) > maximum:
        raise _invalid(field, f"must be at most {maximum} characters, got {len(value)}")
    return value


def _check_field(fields: Fields, field: str) -> None:
    value = fields[field]
    if field in ("UseBySelf", "WhetherShare"):
        try:
            parse_bool(value)
        except ValueError as error:
            raise _invalid(field, f"{error}, got {value!r}") from None
        return
    if field in ("BusinessLicensePics", "OtherFiles"):
        try:
            parse_file_list(value, typed=field == "BusinessLicensePics")
        except ValueError as error:
            raise _invalid(field, str(error)) from None
        return
    if field == "QualificationName":
        name = _text(fields, field, 100)
        if not _QUALIFICATION_NAME.fullmatch(name):
            raise _invalid(field, "may contain only letters, Chinese characters and digits")
        if name.isdigit():
            raise _invalid(field, "must not be digits only")
    elif field == "CompanyName":
        name = _text(fields, field, 150)
        if not _COMPANY_NAME.fullmatch(name):
            raise _invalid(field, "may contain only letters, Chinese characters, digits, spaces "
                           "and the symbols · 【】 （） ()")
        if not _HAS_LETTER.search(name):
            raise _invalid(field, "must contain letters or Chinese characters, not only digits "
                           "and symbols")
    elif field == "CompanyType":
        if value not in COMPANY_TYPES:
            raise _invalid(field, f"must be COMPANY or NON_PROFIT_ORGANIZATION, got {value!r}")
    elif field == "OrganizationCode":
        problem = social_credit_code_problem(_text(fields, field, 150))
        if problem:
            raise _invalid(field, f"must be the 18-character unified social credit code; it "
                           f"{problem}")
    elif field in DATE_RANGE_FIELDS:
        try:
            parse_date_range(_text(fields, field, 100))
        except ValueError as error:
            raise _invalid(field, str(error)) from None
    elif field in ("LegalPersonIDCardType", "AdminIDCardType"):
        if value not in ID_CARD_TYPES:
            raise _invalid(field, f"must be one of {', '.join(ID_CARD_TYPES)}, got {value!r}")
    elif field == "AdminPhoneNo":
        if normalize_mainland_mobile(value) is None:
            raise _invalid(field, "must be a mainland mobile number (11 digits starting with 1, "
                           "optionally after +86, 0086 or 86)")
    elif field == "Remark":
        _text(fields, field, REMARK_MAX)
    elif field in ("LegalPersonName", "AdminName", "LegalPersonIDCardNo", "AdminIDCardNo"):
        _text(fields, field, 50)
    else:  # OSS keys of photos and CertifyCode: any non-empty text
        _text(fields, field, 1000)


_CHECKED = (*SUBMIT_REQUIRED, "BusinessLicensePics", "OtherFiles", "Remark",
            "LegalPersonIdCardFrontSide", "LegalPersonIdCardBackSide")


def validate_qualification(fields: Fields, *, update: bool) -> None:
    """Raise at once if a SubmitSmsQualification (``update=False``) or UpdateSmsQualification
    (``update=True``) request breaks a rule of spec §2.19/§2.20.

    Submit: every field of :data:`SUBMIT_REQUIRED` must be present, and BusinessLicensePics
    too when UseBySelf is false.  Update: AdminPhoneNo and CertifyCode must be present, the
    fields of :data:`NOT_UPDATABLE` must not be, and every other field given is checked as on
    submission.  Unknown fields are ignored.
    """
    required = UPDATE_REQUIRED if update else SUBMIT_REQUIRED
    for field in required:
        if fields.get(field) is None:
            raise PigeonError.missing(field)
    if update:
        for field in NOT_UPDATABLE:
            if fields.get(field) is not None:
                raise _invalid(field, "cannot be changed by UpdateSmsQualification; submit a new "
                               "qualification instead")
    for field in _CHECKED:
        if field not in fields or fields[field] is None:
            continue
        if _is_absent(fields[field]) and field != "Remark":
            raise _invalid(field, "must not be empty")
        _check_field(fields, field)
    if not update and not parse_bool(fields["UseBySelf"]) and fields.get("BusinessLicensePics") is None:
        raise _invalid("BusinessLicensePics", "is required for a third-party qualification "
                       "(UseBySelf=false): upload the licence of the company you send for")


def _range_problems(field: str, text: object, what: str, today: date) -> list[str]:
    if _is_absent(text):
        return [f"{field} is missing: give the validity of the {what}"]
    try:
        start, end = parse_date_range(str(text))
    except ValueError as error:
        return [f"{field} {error}"]
    if end < today:
        return [f"the {what} expired on {end} ({field}); renew it and submit the current one"]
    if start > today:
        return [f"the {what} is not valid before {start} ({field}); submit it once it is valid"]
    return []


def _document_problems(type_field: str, number_field: str, fields: Fields, whose: str,
                       today: date) -> list[str]:
    kind, number = fields.get(type_field), fields.get(number_field)
    if kind not in ID_CARD_TYPES:
        return [f"{type_field} must be one of {', '.join(ID_CARD_TYPES)}"]
    if _is_absent(number) or not isinstance(number, str):
        return [f"{number_field} is missing: give the number of the {whose} identity document"]
    if kind == "identityCard":
        problem = resident_id_problem(number.strip(), today=today)
        if problem:
            return [f"{number_field} is not a valid resident ID number: it {problem}; copy the "
                    f"number exactly from the {whose} ID card"]
    elif not _OTHER_DOCUMENT.fullmatch(number.strip()):
        return [f"{number_field} must be 5 to 20 letters or digits as printed on the {whose} "
                f"document"]
    return []


def review_qualification(fields: Fields, *, today: date) -> Decision:
    """The automatic reviewer's decision on a stored qualification (wire field names).

    ``today`` is the review date in the platform zone.  Rejects, naming each problem: a missing
    company name or legal person/administrator name; an OrganizationCode that is not a valid
    unified social credit code; a business licence, legal person ID or administrator ID whose
    validity range has ended (or not started) on ``today``; an ``identityCard`` number that is
    not a valid resident ID; a third-party qualification without licence pictures.
    """
    problems: list[str] = []
    for field, what in (("CompanyName", "company name"), ("LegalPersonName", "legal person's "
                        "name"), ("AdminName", "administrator's name")):
        if _is_absent(fields.get(field)):
            problems.append(f"{field} is missing: give the {what}")
    code = fields.get("OrganizationCode")
    if _is_absent(code) or not isinstance(code, str):
        problems.append("OrganizationCode is missing: give the unified social credit code")
    else:
        problem = social_credit_code_problem(code.strip())
        if problem:
            problems.append(f"OrganizationCode {code.strip()} is not a valid unified social "
                            f"credit code: it {problem}; copy it from the business licence")
    problems += _range_problems("BussinessLicenseExpDate", fields.get("BussinessLicenseExpDate"),
                                "business licence", today)
    problems += _range_problems("LegalPersonIdCardEffTime",
                                fields.get("LegalPersonIdCardEffTime"),
                                "legal person's ID document", today)
    problems += _range_problems("AdminIDCardExpDate", fields.get("AdminIDCardExpDate"),
                                "administrator's ID document", today)
    problems += _document_problems("LegalPersonIDCardType", "LegalPersonIDCardNo", fields,
                                   "legal person's", today)
    problems += _document_problems("AdminIDCardType", "AdminIDCardNo", fields,
                                   "administrator's", today)
    try:
        third_party = not parse_bool(fields.get("UseBySelf", True))
    except ValueError:
        third_party = False
    if third_party and _is_absent(fields.get("BusinessLicensePics")):
        problems.append("BusinessLicensePics is missing: a third-party qualification needs the "
                        "licence of the company the messages are sent for")
    return Decision.from_problems(problems)
