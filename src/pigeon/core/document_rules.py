"""The documents behind a signature: authorisation letters, trademarks and app ICP filings.

A signature names whom it speaks for.  When that is not the tenant's own company it needs a
document saying it may (spec/dysmsapi.md §1.2.E, §2.5): a **letter** (CreateSmsAuthorizationLetter,
``SignSource`` any, ``ThirdParty``) in which the owner of the names authorises their use, a
**trademark** certificate (CreateSmsTrademark, ``SignSource`` 5), or the **ICP filing** of an app
or website (CreateSmsAppIcpRecord, ``SignSource`` 2).  Fields use the wire names.

Three stages, as for qualifications:

* :func:`validate_document` when the document is submitted: a required field that is absent is
  the gateway's ``Missing<Field>``; one that breaks a rule is ``isv.INVALID_PARAMETERS`` naming
  the field (a name in a letter's ``SignList`` that no signature could have keeps the code
  signatures get for it, ``isv.SIGN_NAME_ILLEGAL`` / ``isv.SIGN_OVER_LIMIT``).
* :func:`review_document`, the automatic reviewer: the document must be valid today and its
  pictures uploaded.
* :func:`check_for_signature` when CreateSmsSign/UpdateSmsSign/ChangeSignatureQualification name
  a document: it must exist in the account, be approved and still valid, and **cover the
  signature** — a letter lists the name in its ``SignList``, a trademark is the name, an ICP
  filing's app or site is the name (letter case and spaces aside) — and a letter must come from
  the company of the signature's qualification (the same ``OrganizationCode``).  Alibaba has no
  business code of its own for these refusals: ``isv.INVALID_PARAMETERS`` with a message naming
  the document and what is wrong.

Pigeon's choices where the spec is silent: letter and party names ≤ 100 / 150 characters, the
trademark registration number letters and digits, ``AppApprovalDate`` ``YYYY-MM-DD``, a domain
name of at least two labels, picture keys ≤ 1000 characters.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import date

from pigeon.core.errors import PigeonError
from pigeon.core.id_numbers import social_credit_code_problem
from pigeon.core.qualification_rules import parse_date_range
from pigeon.core.review_decision import Decision
from pigeon.core.review_rules import validate_sign_name

Fields = Mapping[str, object]

LETTER, TRADEMARK, APP_ICP = "letter", "trademark", "app_icp"
KINDS = (LETTER, TRADEMARK, APP_ICP)

ID_FIELDS = {LETTER: "AuthorizationLetterId", TRADEMARK: "TrademarkId",
             APP_ICP: "AppIcpRecordId"}
"""The parameter that names a document of each kind (CreateSmsSign …)."""
TITLES = {LETTER: "authorisation letter", TRADEMARK: "trademark", APP_ICP: "ICP filing"}
NAME_FIELDS = {LETTER: "AuthorizationLetterName", TRADEMARK: "TrademarkName",
               APP_ICP: "AppServiceName"}
"""The field that names a document (its ``name`` column)."""

MAX_SIGN_LIST = 100

# field → (maximum length, required); every field of a kind, in the order of the SDK's model.
FIELDS: dict[str, dict[str, tuple[int, bool]]] = {
    LETTER: {"AuthorizationLetterName": (100, True), "Authorization": (150, True),
             "ProxyAuthorization": (150, True), "OrganizationCode": (18, True),
             "AuthorizationLetterExpDate": (21, True), "AuthorizationLetterPic": (1000, True)},
    TRADEMARK: {"TrademarkName": (15, True), "TrademarkRegistrationNumber": (15, True),
                "TrademarkApplicantName": (50, True), "TrademarkEffExpDate": (21, True),
                "TrademarkPic": (1000, True)},
    APP_ICP: {"AppServiceName": (15, True), "AppPrincipalUnitName": (50, True),
              "AppIcpLicenseNumber": (15, True), "AppApprovalDate": (10, True),
              "AppIcpRecordPic": (1000, True), "Domain": (253, True),
              "AppRuntimePic": (1000, False), "AppStoreDownloadPic": (1000, False)},
}
PICTURES = {LETTER: ("AuthorizationLetterPic",), TRADEMARK: ("TrademarkPic",),
            APP_ICP: ("AppIcpRecordPic", "AppRuntimePic", "AppStoreDownloadPic")}
"""The fields holding object keys of uploaded pictures (GetQualificationOssInfo)."""
VALIDITY = {LETTER: "AuthorizationLetterExpDate", TRADEMARK: "TrademarkEffExpDate"}

_REGISTRATION_NUMBER = re.compile(r"[A-Za-z0-9]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DOMAIN = re.compile(r"(?=.{4,253}$)([A-Za-z0-9\u4e00-\u9fff]([A-Za-z0-9\u4e00-\u9fff-]*"
                     r"[A-Za-z0-9\u4e00-\u9fff])?\.)+[A-Za-z\u4e00-\u9fff]{2,63}")


def _invalid(field: str, rule: str) -> PigeonError:
    return PigeonError("isv.INVALID_PARAMETERS", f"{field} {rule}.")


def name_key(name: str) -> str:
    """How names are compared: letter case and spaces do not count (spec §8.10)."""
    return "".join(name.split()).casefold()


def sign_list(value: object) -> list[str]:
    """A letter's ``SignList`` (decoded JSON): 1–100 signature names, each one a valid
    signature name; duplicates (by :func:`name_key`) are dropped."""
    if not isinstance(value, list) or not value:
        raise _invalid("SignList", "must be a JSON array of 1 to 100 signature names, such as "
                       '["云雀科技"]')
    if len(value) > MAX_SIGN_LIST:
        raise _invalid("SignList", f"names at most {MAX_SIGN_LIST} signatures, got {len(value)}")
    names: dict[str, str] = {}
    for position, item in enumerate(value, start=1):
        if not isinstance(item, str):
            raise _invalid("SignList", f"item {position} must be a signature name, got {item!r}")
        try:
            validate_sign_name(item)
        except PigeonError as error:
            raise PigeonError(error.code, f"SignList item {position}: {error.message}") from None
        names.setdefault(name_key(item), item)
    return list(names.values())


def validate_document(kind: str, fields: Fields) -> dict:
    """Check a submission of ``kind`` (raising as the module says); returns the fields to keep
    (absent optional ones left out, text stripped, ``SignList`` normalised)."""
    kept: dict[str, object] = {}
    for field, (maximum, required) in FIELDS[kind].items():
        value = fields.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise PigeonError.missing(field)
            continue
        if not isinstance(value, str):
            raise _invalid(field, f"must be text, got {value!r}")
        value = value.strip()
        if len(value) > maximum:
            raise _invalid(field, f"must be at most {maximum} characters, got {len(value)}")
        kept[field] = value
    if kind == LETTER:
        problem = social_credit_code_problem(str(kept["OrganizationCode"]))
        if problem:
            raise _invalid("OrganizationCode", "must be the 18-character unified social credit "
                           f"code of the authorising company; it {problem}")
        kept["SignList"] = sign_list(fields.get("SignList"))
    if kind == TRADEMARK and not _REGISTRATION_NUMBER.fullmatch(
            str(kept["TrademarkRegistrationNumber"])):
        raise _invalid("TrademarkRegistrationNumber", "must be the registration number on the "
                       "certificate: letters and digits only")
    if kind == APP_ICP:
        approval = str(kept["AppApprovalDate"])
        if not _valid_date(approval):
            raise _invalid("AppApprovalDate", f"must be a date YYYY-MM-DD, got {approval!r}")
        if not _DOMAIN.fullmatch(str(kept["Domain"])):
            raise _invalid("Domain", f"must be a domain name such as www.example.com, got "
                           f"{kept['Domain']!r}")
    field = VALIDITY.get(kind)
    if field:
        try:
            parse_date_range(str(kept[field]))
        except ValueError as error:
            raise _invalid(field, str(error)) from None
    return kept


def _valid_date(text: str) -> bool:
    if not _DATE.fullmatch(text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True


def validity(kind: str, fields: Fields) -> tuple[date, date] | None:
    """When a letter or trademark is valid (``None`` for an ICP filing, valid until revoked,
    or for a range that does not parse)."""
    field = VALIDITY.get(kind)
    if field is None:
        return None
    try:
        return parse_date_range(str(fields.get(field, "")))
    except ValueError:
        return None


def is_current(kind: str, fields: Fields, today: date) -> bool:
    """Whether the document is within its validity on ``today`` (a letter's ``Status``
    ``VALID``)."""
    if kind not in VALIDITY:
        return True
    span = validity(kind, fields)
    return span is not None and span[0] <= today <= span[1]


def review_document(kind: str, fields: Fields, *, uploaded: Sequence[str],
                    today: date) -> Decision:
    """The automatic reviewer's decision.  ``uploaded`` are the picture fields whose key names
    an upload of the account.  Rejects a document that is not valid ``today`` and one whose
    required pictures were never uploaded."""
    problems: list[str] = []
    field = VALIDITY.get(kind)
    if field:
        span = validity(kind, fields)
        if span is None:
            problems.append(f"{field} is not a date range YYYY-MM-DD~YYYY-MM-DD")
        elif span[1] < today:
            problems.append(f"the {TITLES[kind]} expired on {span[1]} ({field}); submit the "
                            "current one")
        elif span[0] > today:
            problems.append(f"the {TITLES[kind]} is not valid before {span[0]} ({field})")
    for picture in PICTURES[kind]:
        required = FIELDS[kind][picture][1]
        given = fields.get(picture)
        if given and picture not in uploaded:
            problems.append(f"{picture} names {given!r}, which was never uploaded; upload the "
                            "picture (GetQualificationOssInfo) and submit again")
        elif required and not given:
            problems.append(f"{picture} is missing")
    return Decision.from_problems(problems)


def covers(kind: str, name: str, fields: Fields, sign_name: str) -> bool:
    """Whether a document of ``kind`` named ``name`` speaks for the signature ``sign_name``."""
    wanted = name_key(sign_name)
    if kind == LETTER:
        listed = fields.get("SignList")
        return isinstance(listed, list) and any(
            isinstance(item, str) and name_key(item) == wanted for item in listed)
    return name_key(name) == wanted


def check_for_signature(kind: str, document_id: int, document: Mapping | None, sign_name: str,
                        *, organization_code: str | None, today: date) -> None:
    """Raise ``isv.INVALID_PARAMETERS`` unless the document may back the signature (see the
    module).  ``document`` is the account's row (``state``, ``name``, ``details``) or ``None``
    when the account has no document of that kind and id; ``organization_code`` is the
    qualification's unified social credit code."""
    field, title = ID_FIELDS[kind], TITLES[kind]
    if document is None:
        raise _invalid(field, f"{document_id} is no {title} of this account")
    state = document["state"]
    if state == "INIT":
        raise _invalid(field, f"{document_id} is under review; a signature can use the {title} "
                       "once it is approved")
    if state != "PASS":
        remark = document.get("audit_remark")
        why = f" ({remark.rstrip('.')})" if remark else ""
        raise _invalid(field, f"{document_id} was rejected{why}; a signature needs an approved "
                       f"{title}")
    details = document["details"] or {}
    if not is_current(kind, details, today):
        raise _invalid(field, f"{document_id} is not valid today ({details.get(VALIDITY[kind])});"
                       f" submit a current {title}")
    if not covers(kind, document["name"], details, sign_name):
        if kind == LETTER:
            listed = "、".join(details.get("SignList") or [])
            raise _invalid(field, f"{document_id} does not authorise the signature {sign_name} "
                           f"(it authorises {listed}); submit a letter that lists it")
        what = "trademark" if kind == TRADEMARK else "app or site"
        raise _invalid(field, f"{document_id} is for the {what} {document['name']}, not the "
                       f"signature {sign_name}; the signature must be the {what}'s name")
    if kind == LETTER and organization_code is not None and \
            details.get("OrganizationCode") != organization_code:
        raise _invalid(field, f"{document_id} was given by the company with credit code "
                       f"{details.get('OrganizationCode')}, not by the qualification's company "
                       f"({organization_code}); use a letter from the qualification's company")
