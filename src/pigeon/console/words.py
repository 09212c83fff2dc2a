"""People's words for what the API names with field names and enumerations: the labels the
console shows for states, types, qualification fields, ID documents and variable attributes,
and how it shows what should not be shown whole (ID numbers, the reviewer).

Every label is an English message id marked with :func:`~pigeon.console.i18n.N_`; a page
translates the labels it shows with :func:`~pigeon.console.i18n.translated` (or
:func:`label`).  The wire names stay what the API says — these are only the way a person
reads them.
"""

from __future__ import annotations

from collections.abc import Mapping

from pigeon.console.i18n import N_, gettext

REVIEW_STATUS = {0: N_("Under review"), 1: N_("Approved"), 2: N_("Rejected"),
                 10: N_("Cancelled")}
"""SignStatus / TemplateStatus / AuditStatus."""

TEMPLATE_TYPES = {0: N_("Verification code"), 1: N_("Notification"), 2: N_("Promotional"),
                  3: N_("International")}
TEMPLATE_TYPE_NAMES = {"otp": N_("Verification code"), "notification": N_("Notification"),
                       "promotional": N_("Promotional"), "international": N_("International")}
"""Template types by the names billing and routing use."""

REGISTER_STATUS = {-2: N_("Not registered"), -1: N_("Registering"),
                   0: N_("Registration failed"), 1: N_("Verifying"), 2: N_("Expired"),
                   3: N_("Registered")}
QUALIFICATION_STATES = {"INIT": N_("Under review"), "PASS": N_("Approved"),
                        "NOT_PASS": N_("Rejected"), "NOT_FINISH": N_("More materials needed"),
                        "CANCEL": N_("Withdrawn")}
SIGN_SOURCES = {0: N_("Enterprise or institution name"), 1: N_("Website filed with the MIIT"),
                2: N_("App name"), 3: N_("Official account or mini program"),
                4: N_("E-commerce store name"), 5: N_("Trademark name")}
CONSOLE_SIGN_SOURCES = (0, 2, 5)
"""The sources the console's form offers (the others need documents the API takes)."""
SIGN_TYPES = {1: N_("General"), 0: N_("Verification codes only")}
TICKET_STATUS = {"pending": N_("Waiting for review"), "approved": N_("Approved"),
                 "rejected": N_("Rejected"), "withdrawn": N_("Withdrawn")}
SEND_STATUS = {1: N_("Waiting for receipt"), 2: N_("Failed"), 3: N_("Delivered")}
"""QuerySendDetails' SendStatus."""

ID_CARD_TYPES = {"identityCard": N_("Resident ID card"), "passport": N_("Passport"),
                 "homeReturnPermit": N_("Home Return Permit (Hong Kong and Macao)"),
                 "TaiwanCompatriotPermit": N_("Mainland Travel Permit for Taiwan Residents"),
                 "residencePermit": N_("Residence permit"), "other": N_("Other document")}
COMPANY_TYPES = {"COMPANY": N_("Company"), "NON_PROFIT_ORGANIZATION": N_("Non-profit organisation")}
LICENSE_TYPES = {"socialCreditLicense": N_("Unified social credit licence"),
                 "businessLicense": N_("Business licence"),
                 "signLegalLicense": N_("Institution legal person certificate"),
                 "otherLicense": N_("Other licence")}

QUALIFICATION_FIELDS = {
    "QualificationName": N_("Qualification name"),
    "CompanyName": N_("Company name"),
    "CompanyType": N_("Company type"),
    "OrganizationCode": N_("Unified social credit code"),
    "BussinessLicenseExpDate": N_("Licence validity"),
    "BusinessLicensePics": N_("Business licence"),
    "LegalPersonName": N_("Legal person"),
    "LegalPersonIDCardType": N_("Legal person's ID type"),
    "LegalPersonIDCardNo": N_("Legal person's ID number"),
    "LegalPersonIdCardEffTime": N_("Legal person's ID validity"),
    "LegalPersonIdCardFrontSide": N_("Legal person's ID card, front"),
    "LegalPersonIdCardBackSide": N_("Legal person's ID card, back"),
    "AdminName": N_("Administrator"),
    "AdminIDCardType": N_("Administrator's ID type"),
    "AdminIDCardNo": N_("Administrator's ID number"),
    "AdminIDCardExpDate": N_("Administrator's ID validity"),
    "AdminIDCardFrontFace": N_("Administrator's ID card, front"),
    "AdminIDCardPic": N_("Administrator's ID card, back"),
    "AdminPhoneNo": N_("Administrator's mobile phone"),
    "CertifyCode": N_("Verification code"),
    "UseBySelf": N_("For own use"),
    "WhetherShare": N_("Shared with other accounts"),
    "OtherFiles": N_("Other files"),
    "Remark": N_("Remark"),
}
"""The qualification's fields (wire names, spec §2.19) as the form labels them."""

ID_NUMBER_FIELDS = ("LegalPersonIDCardNo", "AdminIDCardNo")
DATE_RANGE_FIELDS = ("BussinessLicenseExpDate", "LegalPersonIdCardEffTime",
                     "AdminIDCardExpDate")

VARIABLE_ATTRIBUTES = {
    "numberCaptcha": N_("Verification code: 4–6 digits"),
    "characterWithNumber2": N_("Code: 4–6 letters and digits"),
    "characterWithNumber": N_("Code: 4–6 letters and digits (older name)"),
    "name": N_("Name of a person or company"),
    "phone_number2": N_("Phone number"),
    "other_number2": N_("Other number: order, tracking, account…"),
    "time": N_("Date or time"),
    "money": N_("Amount of money"),
    "link_param": N_("End of a link written in the template"),
}
"""TemplateRule's attributes (core/variable_values.py), in the order the form offers them."""

REPORT_TYPES = {"SmsReport": N_("Delivery receipts"), "SmsUp": N_("Replies"),
                "SignSmsReport": N_("Signature review results"),
                "TemplateSmsReport": N_("Template review results")}
REPORT_MODES = {"http": N_("HTTP push"), "queue": N_("Message queue (MNS)"),
                "off": N_("Not delivered")}
ACCOUNT_STATUS = {"active": N_("active"), "suspended": N_("suspended")}
PACKAGE_KINDS = {"general": N_("General (codes and notifications)"),
                 "otp": N_("Verification codes"), "notification": N_("Notifications"),
                 "promotional": N_("Promotional")}
KEY_STATUS = {"enabled": N_("Enabled"), "disabled": N_("Disabled")}


def label(mapping: Mapping, key, default: str | None = None) -> str:
    """The translated label of ``key``, or ``default`` (else ``key`` as text) when the
    mapping has none."""
    if key in mapping:
        return gettext(mapping[key])
    return default if default is not None else str(key)


def masked_id(number: str | None) -> str:
    """An ID document number with only its first and last four characters shown:
    ``1101**********002X``."""
    text = (number or "").strip()
    if len(text) <= 8:
        return "*" * len(text)
    return text[:4] + "*" * (len(text) - 8) + text[-4:]


def masked_phone(number: str | None) -> str:
    text = (number or "").strip()
    return text[:3] + "****" + text[-4:] if len(text) >= 11 else text


def reviewer(decided_by: str | None) -> str:
    """Who decided a review, as the tenant sees it: never an operator's address."""
    from pigeon.services.review import AUTO_REVIEWER

    if not decided_by:
        return ""
    if decided_by == AUTO_REVIEWER:
        return gettext("Automatic review")
    if decided_by == "tenant":
        return gettext("You")
    return gettext("A reviewer")
