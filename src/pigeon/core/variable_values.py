"""Variable attributes (``TemplateRule`` / ``VariableAttribute``) and the values they accept.

A template declares an attribute for each variable (``{"code": "numberCaptcha"}``); at sending
time every value in ``TemplateParam`` is checked against its variable's attribute by
:func:`check_variable_value`.

Which limits are Alibaba's and which are Pigeon's (spec/dysmsapi.md §3.9 and §7.2):

=====================  ===========================================  =========================
attribute              accepted value                               source
=====================  ===========================================  =========================
numberCaptcha          4–6 ASCII digits                             Alibaba [DOC]
characterWithNumber2   4–6 ASCII letters and/or digits              Alibaba [DOC] (see below)
characterWithNumber    as characterWithNumber2                      Pigeon (only seen in an
                                                                    example, same family)
phone_number2          11-digit mobile starting with 1, or a        Alibaba [DOC]
                       landline of 5–13 digits and hyphens, ≤15
                       characters
time                   a date and/or time written with digits,      Alibaba's description,
                       ``- / : .``, spaces and the Chinese words    Pigeon's character set
                       年月日号时分秒点半, 上午/下午/晚上…;
                       no underscore or other symbol; ≤35
money                  a number (optional sign, thousands           Pigeon (UNCERTAIN in spec)
                       separators, decimals, leading ¥/￥/$,
                       trailing 元/万元/万/亿元/亿/角/分/块) or
                       Chinese numerals (壹贰…/一二…, 元角分整); ≤35
name                   letters of any script plus ``· . - ' *``     Pigeon (UNCERTAIN)
                       and spaces (``*`` for masked names such as
                       ``张**``), at least one letter; ≤35
other_number2          ASCII letters, digits, ``-``, ``_``, ``*``;  Pigeon (UNCERTAIN)
                       ≤35
link_param             the variable part of a link written in the   Pigeon (UNCERTAIN)
                       template (``https://s.example.cn/s/${u}``):
                       ASCII letters, digits and ``- _ . ~ / ? = &
                       % +``; ≤35, not a link itself
anything else / none   1–35 characters                              Pigeon (UNCERTAIN; the
                                                                    historic rule was 1–20)
=====================  ===========================================  =========================

Alibaba's description of characterWithNumber2 is "letters, or letters and digits"; Pigeon also
accepts a digits-only value there, since tenants routinely declare alphanumeric codes that
happen to be all digits, and the rule protects the format (length, no symbols), not the mix.

``link_param`` is how a per-recipient link goes out: the template holds the fixed start of the
link, the value its end — a smart short URL's code (CreateSmartShortUrl's ``ShortName``).  The
message then carries the whole link, and is counted and billed with it.

Every attribute: no URL in a value (``isv.PARAM_NOT_SUPPORT_URL``, Alibaba [DOC]); a value
that is empty or longer than its maximum raises ``isv.PARAM_LENGTH_LIMIT``; a value that does
not fit its attribute's format raises ``isv.TEMPLATE_PARAMS_ILLEGAL``.  For the OTP attributes
the 4–6 length is part of the format, so a 7-digit code is ``TEMPLATE_PARAMS_ILLEGAL``.
"""

from __future__ import annotations

import re

from pigeon.core.errors import PigeonError

OTP_ATTRIBUTES = frozenset({"numberCaptcha", "characterWithNumber", "characterWithNumber2"})
ATTRIBUTES = OTP_ATTRIBUTES | {"phone_number2", "time", "money", "name", "other_number2",
                               "link_param"}
"""The attribute names a ``TemplateRule`` may use (the documented ones, spec §3.9)."""

MAX_VALUE_LENGTH = 35
"""Pigeon's cap for values whose attribute has no documented maximum."""

_TLDS = ("com|cn|net|org|gov|edu|info|biz|top|xyz|vip|club|shop|site|online|app|io|me|cc|tv|co"
         "|link|ltd|wang|store|tech|fun|ink|mobi|pro|asia|work|live|art|hk|tw|mo")
_URL = re.compile(
    r"(?i)(?:https?://|ftp://|www\.|"
    rf"(?<![A-Za-z0-9-])[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.(?:{_TLDS})(?![A-Za-z0-9]))")

_DIGITS_4_6 = re.compile(r"[0-9]{4,6}")
_ALNUM_4_6 = re.compile(r"[A-Za-z0-9]{4,6}")
_MOBILE = re.compile(r"1[0-9]{10}")
_LANDLINE = re.compile(r"[0-9][0-9-]*[0-9]|[0-9]")
_TIME_CHARS = re.compile(r"[0-9:/.\- 年月日号时分秒点半上下中晚早凌傍午晨夜今明后天周星期一二三四五六七末至到~]+")
_TIME_ANCHOR = re.compile(r"[0-9]|上午|下午|中午|晚上|凌晨|早上|傍晚|今天|明天|后天|周|星期")
_MONEY_NUMBER = re.compile(
    r"[¥￥$]?[-+]?(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(?:\.[0-9]+)?(?:元|万元|万|亿元|亿|角|分|块)?")
_MONEY_WORDS = re.compile(r"[零壹贰叁肆伍陆柒捌玖拾佰仟一二三四五六七八九十百千万亿]+[元圆角分整]*")
_NAME_MARKS = frozenset("·. -'*")
_OTHER_NUMBER = re.compile(r"[A-Za-z0-9_*-]+")
_LINK_PARAM = re.compile(r"[A-Za-z0-9._~/?=&%+-]+")


def is_known_attribute(attribute: object) -> bool:
    return isinstance(attribute, str) and attribute in ATTRIBUTES


def contains_url(text: str) -> bool:
    """Whether ``text`` holds something a handset would show as a link."""
    return _URL.search(text) is not None


def _illegal(attribute: str, value: str, rule: str) -> PigeonError:
    return PigeonError("isv.TEMPLATE_PARAMS_ILLEGAL",
                       f"The value {value!r} does not fit the variable attribute {attribute}: "
                       f"{rule}.")


def _check_length(attribute: str | None, value: str, maximum: int) -> None:
    if not 1 <= len(value) <= maximum:
        label = f"attribute {attribute}" if attribute else "a variable without a declared attribute"
        raise PigeonError("isv.PARAM_LENGTH_LIMIT",
                          f"A value for {label} must be 1 to {maximum} characters long, got "
                          f"{len(value)}.")


def _is_name(value: str) -> bool:
    return (all(char.isalpha() or char in _NAME_MARKS for char in value)
            and any(char.isalpha() for char in value))


def check_variable_value(attribute: str | None, value: str) -> None:
    """Raise a coded :class:`PigeonError` if ``value`` may not fill a variable of ``attribute``.

    ``attribute`` is the variable's entry in the template's ``TemplateRule``; ``None`` (no rule)
    and unknown names get the generic check (1–35 characters, no URL).
    """
    if not isinstance(value, str):
        raise PigeonError("isv.INVALID_JSON_PARAM",
                          f"A TemplateParam value must be a JSON string, got {value!r}.")
    if contains_url(value):
        raise PigeonError("isv.PARAM_NOT_SUPPORT_URL",
                          f"The value {value!r} contains a link; URLs are not allowed in "
                          "variables, put a fixed link in the template text instead.")
    if attribute == "numberCaptcha":
        if not _DIGITS_4_6.fullmatch(value):
            raise _illegal(attribute, value, "a verification code of 4 to 6 digits")
    elif attribute in ("characterWithNumber", "characterWithNumber2"):
        if not _ALNUM_4_6.fullmatch(value):
            raise _illegal(attribute, value, "a code of 4 to 6 ASCII letters or digits")
    elif attribute == "phone_number2":
        digits = value.replace("-", "")
        mobile = _MOBILE.fullmatch(value) is not None
        landline = (_LANDLINE.fullmatch(value) is not None and len(value) <= 15
                    and 5 <= len(digits) <= 13)
        if not (mobile or landline):
            raise _illegal(attribute, value, "an 11-digit mobile number starting with 1, or a "
                           "landline of 5 to 13 digits and hyphens (at most 15 characters)")
    else:
        _check_length(attribute, value, MAX_VALUE_LENGTH)
        if attribute == "time":
            if not (_TIME_CHARS.fullmatch(value) and _TIME_ANCHOR.search(value)):
                raise _illegal(attribute, value, "a date or time such as 2025-03-08, 20250308, "
                               "14:30, 2025年3月8日 or 下午3点")
        elif attribute == "money":
            if not (_MONEY_NUMBER.fullmatch(value) or _MONEY_WORDS.fullmatch(value)):
                raise _illegal(attribute, value, "an amount such as 128.50, 1,280元 or 壹佰元整")
        elif attribute == "name":
            if not _is_name(value):
                raise _illegal(attribute, value, "a person's name: letters, spaces, · . - ' "
                               "and * for masking, no digits or other symbols")
        elif attribute == "link_param":
            if not _LINK_PARAM.fullmatch(value):
                raise _illegal(attribute, value, "the end of a link: ASCII letters, digits and "
                               "- _ . ~ / ? = & % +, such as a short URL's code")
        elif attribute == "other_number2":
            if not _OTHER_NUMBER.fullmatch(value):
                raise _illegal(attribute, value, "a number such as an order or tracking "
                               "number: ASCII letters, digits, -, _ and *")
