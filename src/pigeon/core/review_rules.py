"""Compliance rules for signatures and templates, at submission time and at review time.

Two kinds of function, as for qualifications (``core/qualification_rules.py``):

* ``validate_*`` run when CreateSmsSign/AddSmsSign/CreateSmsTemplate/… arrive and raise a
  :class:`PigeonError` with a documented business code and a message naming the field and the
  rule, so the API answers at once.
* ``review_*`` are the automatic reviewer's content rules.  They never raise; they return a
  :class:`Decision` whose reason tells the tenant what to change.

This module is also the one place the service layer imports review rules from: it re-exports
the qualification rules (:func:`validate_qualification`, :func:`review_qualification`,
:func:`normalize_mainland_mobile`) and the send-time :func:`check_variable_value`.

Alibaba's documented rules (spec/dysmsapi.md §2.5–2.16, §7.2) are marked [DOC] below; the rest
are Pigeon's choices where the spec is silent, kept simple enough to explain to a tenant:

* Signature name [DOC]: 2–12 characters, Chinese, ASCII letters and digits only, no spaces,
  symbols or brackets, no "测试"/"test".  Too long → ``isv.SIGN_OVER_LIMIT`` (its registry text
  is "name or remark too long"); every other name rule → ``isv.SIGN_NAME_ILLEGAL``.  "Chinese"
  means CJK unified ideographs (basic block and extension A).
* Generic names [DOC, "no neutral names like 客服通知"]: Pigeon rejects a name made only of the
  words in :data:`GENERIC_SIGN_WORDS`, and one whose distinctive part (the name without the
  company-type words of :data:`ORGANIZATION_WORDS`) is empty.
* Company relation (source 0) — Pigeon: the name must appear in the qualification's company
  name, or its distinctive part (at least 2 characters) must; otherwise the tenant is asked for
  an authorisation letter or another source (trademark, app).  Without a qualification (legacy
  AddSmsSign) the proof files stand in for it; legacy applications need at least one file.
* Template [DOC]: no 【】 anywhere, no [ or ] at the start or end, no special symbols
  (★※→① …), no traditional Chinese in domestic templates (Pigeon detects the common characters of
  :data:`TRADITIONAL_CHARACTERS`); notification templates carry no marketing words nor opt-out
  text; OTP templates contain 验证码/注册码/校验码/动态码 and exactly one variable.  Pigeon
  also requires promotional templates to end with an opt-out text (:data:`OPT_OUT_TEXTS`), OTP
  templates to avoid marketing words too, and every template to have fixed text besides its
  variables.
* Template remark: ≤100 characters on AddSmsTemplate/ModifySmsTemplate [DOC]; ≤500 on
  CreateSmsTemplate/UpdateSmsTemplate (Pigeon; undocumented).
* Signature proof files [DOC]: jpg/jpeg/png/gif, ≤ 2 MB (2 MiB, Pigeon's reading); Pigeon
  also checks the bytes really are that kind of image, so a reviewer can open them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pigeon.core import json_input
from pigeon.core.errors import PigeonError
from pigeon.core.qualification_rules import (
    normalize_mainland_mobile,
    review_qualification,
    validate_qualification,
)
from pigeon.core.review_decision import APPROVED, Decision
from pigeon.core.templates import variables
from pigeon.core.variable_values import ATTRIBUTES, OTP_ATTRIBUTES, check_variable_value

__all__ = [
    "APPROVED", "Decision", "check_variable_value", "normalize_mainland_mobile",
    "parse_template_rule", "review_qualification", "review_signature", "review_template",
    "validate_qualification", "validate_sign_file", "validate_sign_name", "validate_sign_remark",
    "validate_sign_source", "validate_sign_type", "validate_template",
]

SIGN_SOURCES_CURRENT = (0, 2, 5)
SIGN_SOURCES_LEGACY = (0, 1, 2, 3, 4, 5)
SIGN_FILE_MAX_BYTES = 2 * 1024 * 1024
SIGN_FILE_MAGIC = {
    "jpg": (b"\xff\xd8\xff",), "jpeg": (b"\xff\xd8\xff",),
    "png": (b"\x89PNG\r\n\x1a\n",), "gif": (b"GIF87a", b"GIF89a"),
}
TEMPLATE_TYPES = (0, 1, 2, 3)
INTL_TYPES = (0, 1, 2)

GENERIC_SIGN_WORDS = (
    "客服通知", "系统消息", "系统通知", "短信通知", "消息通知", "服务通知", "温馨提示", "验证码",
    "校验码", "动态码", "注册码", "安全中心", "会员中心", "客户服务", "客服中心", "官方",
    "客服", "通知", "短信", "系统", "消息", "提醒", "提示", "服务", "验证", "安全", "会员",
    "中心", "平台", "信息", "公告", "订单", "物流", "快递", "支付", "注册", "登录",
)
"""Words that identify no company, app, website or trademark."""

ORGANIZATION_WORDS = (
    "股份有限公司", "有限责任公司", "有限公司", "分公司", "公司", "集团", "控股", "股份",
    "科技", "技术", "信息", "网络", "电子商务", "商务", "实业", "发展", "贸易", "服务",
    "工作室", "中心",
)
"""Company-type words stripped from the end of names before comparing them."""

MARKETING_WORDS = ("优惠", "促销", "折扣", "打折", "抢购", "秒杀", "特价", "满减", "返现", "红包",
                   "领券", "免费领", "限时", "大促", "抽奖", "中奖", "免费送")
"""Words that make a text marketing.  Bare 领取 is not one: "请及时领取快递" is a notification."""
OTP_KEYWORDS = ("验证码", "注册码", "校验码", "动态码", "动态密码")
OPT_OUT_TEXTS = ("拒收请回复R", "拒收回复R", "回T退订", "退订回T", "回TD退订", "退订回TD",
                 "回复T退订", "退订回复T")
TRADITIONAL_CHARACTERS = frozenset(
    "們這個嗎請與為會來時後發說對點間開關電話碼驗證訊號額帳戶單務費購買實現網絡東車門長見頁錢"
    "還進過應讓認識貨幣預約隊員準備優線資產")

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff"
_SIGN_CHAR = re.compile(rf"[A-Za-z0-9{_CJK}]")
_SIGN_BRACKETS = frozenset("【】()[]（）〔〕{}<>《》")
_SPECIAL_SYMBOL = re.compile(
    "[\u2022\u203b\u221a\u2190-\u21ff\u2460-\u24ff\u2500-\u27bf\u2900-\u2bff\u3200-\u32ff"
    "\U0001f000-\U0001faff\ufe0f]")
_PLACEHOLDER = re.compile(r"\$\{[^}]*\}")
_TRAILING_PUNCTUATION = " \t\r\n。.!！"


# -- submission time: signatures ---------------------------------------------------------------

def validate_sign_name(name: str) -> None:
    """Raise ``isv.SIGN_NAME_ILLEGAL`` / ``isv.SIGN_OVER_LIMIT`` if ``name`` breaks a rule [DOC]."""
    if not isinstance(name, str) or not name:
        raise PigeonError("isv.SIGN_NAME_ILLEGAL", "SignName must not be empty.")
    if len(name) > 12:
        raise PigeonError("isv.SIGN_OVER_LIMIT",
                          f"SignName must be at most 12 characters, got {len(name)}.")
    if len(name) < 2:
        raise PigeonError("isv.SIGN_NAME_ILLEGAL", "SignName must be at least 2 characters.")
    for char in name:
        if char.isspace():
            raise PigeonError("isv.SIGN_NAME_ILLEGAL", "SignName must not contain spaces.")
        if char in _SIGN_BRACKETS:
            raise PigeonError("isv.SIGN_NAME_ILLEGAL",
                              f"SignName must not contain brackets such as {char!r}: the "
                              "platform adds 【】 around the signature itself.")
        if not _SIGN_CHAR.fullmatch(char):
            raise PigeonError("isv.SIGN_NAME_ILLEGAL",
                              f"SignName contains {char!r}; only Chinese characters, ASCII "
                              "letters and digits are allowed.")
    if "测试" in name or "test" in name.lower():
        raise PigeonError("isv.SIGN_NAME_ILLEGAL",
                          'SignName must not contain "测试" or "test"; use the name of your '
                          "company, app, website or trademark.")


def validate_sign_remark(remark: str | None) -> None:
    """Raise ``isv.SIGN_OVER_LIMIT`` if the signature remark is longer than 200 characters."""
    if remark is None:
        return
    if not isinstance(remark, str):
        raise PigeonError("isv.INVALID_PARAMETERS", f"Remark must be text, got {remark!r}.")
    if len(remark) > 200:
        raise PigeonError("isv.SIGN_OVER_LIMIT",
                          f"Remark must be at most 200 characters, got {len(remark)}.")


def validate_sign_source(source: int, *, legacy: bool) -> None:
    """CreateSmsSign/UpdateSmsSign accept 0, 2, 5; AddSmsSign/ModifySmsSign (``legacy``) 0–5."""
    allowed = SIGN_SOURCES_LEGACY if legacy else SIGN_SOURCES_CURRENT
    if isinstance(source, bool) or source not in allowed:
        action = "AddSmsSign/ModifySmsSign" if legacy else "CreateSmsSign/UpdateSmsSign"
        raise PigeonError("isv.SIGN_SOURCE_ILLEGAL",
                          f"SignSource {source!r} is not accepted by {action}; use one of "
                          f"{', '.join(map(str, allowed))}.")


def validate_sign_type(sign_type: int) -> None:
    """SignType is 0 (verification codes only) or 1 (general)."""
    if isinstance(sign_type, bool) or sign_type not in (0, 1):
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"SignType must be 0 (verification code) or 1 (general), got "
                          f"{sign_type!r}.")


def validate_sign_file(suffix: str, data: bytes) -> None:
    """A proof file of AddSmsSign/ModifySmsSign: jpg/jpeg/png/gif, ≤ 2 MB, really that image.

    ``isv.INVALID_PARAMETERS`` for a suffix not accepted, empty data or bytes that are not an
    image of the stated kind; ``isv.SIGN_FILE_LIMIT`` for a file over 2 MiB.
    """
    kind = suffix.lower() if isinstance(suffix, str) else suffix
    if kind not in SIGN_FILE_MAGIC:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"SignFileList FileSuffix {suffix!r} is not accepted; use jpg, jpeg, "
                          "png or gif.")
    if not isinstance(data, bytes | bytearray) or not data:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          "SignFileList FileContents is empty or not decoded image bytes.")
    if len(data) > SIGN_FILE_MAX_BYTES:
        raise PigeonError("isv.SIGN_FILE_LIMIT",
                          f"SignFileList FileContents is {len(data)} bytes; a proof file may be "
                          f"at most 2 MB ({SIGN_FILE_MAX_BYTES} bytes).")
    if not data.startswith(SIGN_FILE_MAGIC[kind]):
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"SignFileList FileContents is not a {kind.upper()} image although "
                          f"FileSuffix says {suffix!r}; upload the image itself, base64-encoded.")


# -- submission time: templates ----------------------------------------------------------------

def parse_template_rule(text: str | None) -> dict | None:
    """Decode the ``TemplateRule`` JSON text; ``isv.INVALID_PARAMETERS`` if it is not JSON."""
    if text is None or not text.strip():
        return None
    try:
        return json_input.loads(text)
    except ValueError:  # JsonLimitError too: a rule a few variables long is short and flat
        raise PigeonError("isv.INVALID_PARAMETERS",
                          'TemplateRule must be a JSON object such as {"code":"numberCaptcha"}.'
                          ) from None


def _over(field: str, limit: int, value: str) -> PigeonError:
    return PigeonError("isv.TEMPLATE_OVER_LIMIT",
                       f"{field} must be at most {limit} characters, got {len(value)}.")


def validate_template(name: str, content: str, template_type: int, *, remark: str | None = None,
                      legacy: bool = False, intl_type: int | None = None,
                      rule: Mapping | None = None) -> None:
    """Raise at once if a template application breaks a rule of spec §2.13–2.16.

    Lengths [DOC]: TemplateName ≤ 30, TemplateContent ≤ 500, Remark ≤ 100 on the legacy
    actions (``legacy``) and ≤ 500 otherwise → ``isv.TEMPLATE_OVER_LIMIT``.  TemplateType in
    0–3, IntlType 0–2 required for type 3, malformed placeholders, and a ``rule`` (decoded
    TemplateRule) that is not an object of content variables to known attributes →
    ``isv.INVALID_PARAMETERS``.  Whether every variable has an attribute is the reviewer's
    question (:func:`review_template`).
    """
    if isinstance(template_type, bool) or template_type not in TEMPLATE_TYPES:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"TemplateType must be 0 (verification code), 1 (notification), 2 "
                          f"(promotional) or 3 (international), got {template_type!r}.")
    for field, value, limit in (("TemplateName", name, 30), ("TemplateContent", content, 500)):
        if not isinstance(value, str) or not value.strip():
            raise PigeonError("isv.INVALID_PARAMETERS", f"{field} must not be empty.")
        if len(value) > limit:
            raise _over(field, limit, value)
    if remark is not None:
        limit = 100 if legacy else 500
        if not isinstance(remark, str):
            raise PigeonError("isv.INVALID_PARAMETERS", f"Remark must be text, got {remark!r}.")
        if len(remark) > limit:
            raise _over("Remark", limit, remark)
    if template_type == 3:
        if intl_type is None:
            raise PigeonError("isv.INVALID_PARAMETERS",
                              "IntlType is required when TemplateType is 3: 0 notification, "
                              "1 promotional, 2 verification code.")
        if isinstance(intl_type, bool) or intl_type not in INTL_TYPES:
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"IntlType must be 0 (notification), 1 (promotional) or 2 "
                              f"(verification code), got {intl_type!r}.")
    names = variables(content)
    if rule is None:
        return
    if not isinstance(rule, Mapping):
        raise PigeonError("isv.INVALID_PARAMETERS",
                          'TemplateRule must be a JSON object such as {"code":"numberCaptcha"}.')
    for key, attribute in rule.items():
        if key not in names:
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"TemplateRule names the variable {key!r}, which TemplateContent "
                              "does not contain.")
        if not isinstance(attribute, str) or attribute not in ATTRIBUTES:
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"TemplateRule gives the variable {key!r} the attribute "
                              f"{attribute!r}; use one of {', '.join(sorted(ATTRIBUTES))}.")


# -- review time: signatures -------------------------------------------------------------------

def _strip_words(text: str, words: tuple[str, ...], *, anywhere: bool) -> str:
    """Remove ``words`` (longest first) from the end of ``text``, or everywhere."""
    ordered = sorted(words, key=len, reverse=True)
    if anywhere:
        for word in ordered:
            text = text.replace(word, "")
        return text
    changed = True
    while changed:
        changed = False
        for word in ordered:
            if text.endswith(word):
                text, changed = text[: -len(word)], True
    return text


def _distinctive(name: str) -> str:
    """A name without brackets' contents, spaces, ``·`` and trailing company-type words."""
    text = re.sub(r"[（(][^）)]*[）)]", "", name.lower())
    text = text.replace(" ", "").replace("·", "").replace("【", "").replace("】", "")
    return _strip_words(text, ORGANIZATION_WORDS, anywhere=False)


def review_signature(name: str, *, source: int, sign_type: int, remark: str | None,
                     qualification_company: str | None, has_files: bool,
                     legacy: bool) -> Decision:
    """The automatic reviewer's decision on a signature application.

    ``qualification_company`` is the CompanyName of the bound qualification (``None`` when
    there is none, as with the legacy AddSmsSign).  ``sign_type`` and ``remark`` are accepted
    for the record; no current rule depends on them.
    """
    del sign_type, remark  # part of the application, not used by the current rules
    try:
        validate_sign_name(name)
    except PigeonError as error:
        return Decision(False, error.message)
    problems: list[str] = []
    traditional = sorted({char for char in name if char in TRADITIONAL_CHARACTERS})
    if traditional:
        problems.append(f"SignName uses traditional characters ({''.join(traditional)}); write "
                        "it in simplified Chinese")
    distinctive = _distinctive(name)
    if not _strip_words(name.lower(), GENERIC_SIGN_WORDS, anywhere=True) or not distinctive:
        problems.append(f"SignName {name} is a generic name that identifies no company, app, "
                        "website or trademark; use your company's full or short name, or your "
                        "app's, website's or trademark's name")
    elif source == 0 and qualification_company:
        company = re.sub(r"[\s·]", "", qualification_company.lower())
        related = name.lower() in company or (len(distinctive) >= 2
                                              and distinctive in _distinctive(company))
        if not related:
            problems.append(f"SignName {name} does not match the qualification's company "
                            f"{qualification_company}; use a full or short form of the company "
                            "name, or attach an authorisation letter from the name's owner "
                            "(or apply with the trademark or app as the source)")
    if legacy and not has_files:
        problems.append("no proof file is attached; add a business licence, app-store page, "
                        "website filing or trademark certificate in SignFileList")
    return Decision.from_problems(problems)


# -- review time: templates --------------------------------------------------------------------

def _ends_with_opt_out(content: str) -> bool:
    tail = content.rstrip(_TRAILING_PUNCTUATION).upper()
    return any(tail.endswith(text.upper()) for text in OPT_OUT_TEXTS)


def _rule_problems(names: list[str], rule: object) -> list[str]:
    if not isinstance(rule, Mapping):
        return ["TemplateRule must be a JSON object mapping each variable to its attribute"]
    problems = []
    missing = [name for name in names if name not in rule]
    if missing:
        problems.append(f"TemplateRule gives no attribute for {', '.join(missing)}; declare an "
                        "attribute for every variable")
    extra = [str(key) for key in rule if key not in names]
    if extra:
        problems.append(f"TemplateRule names {', '.join(extra)}, which the content does not use")
    unknown = sorted({str(value) for value in rule.values() if value not in ATTRIBUTES})
    if unknown:
        problems.append(f"TemplateRule uses unknown attributes ({', '.join(unknown)}); use "
                        f"{', '.join(sorted(ATTRIBUTES))}")
    return problems


def review_template(content: str, template_type: int, *, rule: Mapping | None = None,
                    sign_type_allows: bool = True) -> Decision:
    """The automatic reviewer's decision on a template's content.

    ``rule`` is the decoded TemplateRule (``None`` when none was given);
    ``sign_type_allows`` is false when the related signature may not send this template type
    (an OTP-only signature with a notification template).
    """
    if not isinstance(content, str) or not content.strip():
        return Decision(False, "TemplateContent is empty; write the message text.")
    problems: list[str] = []
    if template_type not in TEMPLATE_TYPES:
        problems.append(f"TemplateType {template_type!r} is not 0, 1, 2 or 3")
    if not sign_type_allows:
        problems.append("the related signature is for verification codes only (SignType 0) and "
                        "cannot send this template type; relate a general signature")
    try:
        names = variables(content)
    except PigeonError as error:
        problems.append(error.message)
        names = []
    fixed = _PLACEHOLDER.sub("", content)
    if not re.search(rf"[A-Za-z{_CJK}]", fixed):
        problems.append("the template has no fixed text besides its variables; write the "
                        "message itself and keep only the changing parts in variables")
    if "【" in content or "】" in content:
        problems.append("remove 【 and 】: they are reserved for the signature")
    stripped = content.strip()
    if stripped[:1] in "[]" or stripped[-1:] in "[]":
        problems.append("do not start or end the template with [ or ]: they look like a signature")
    symbols = sorted(set(_SPECIAL_SYMBOL.findall(content)))
    if symbols:
        problems.append(f"remove the special symbols {' '.join(symbols)}: handsets may not show "
                        "them")
    traditional = sorted({char for char in content if char in TRADITIONAL_CHARACTERS})
    if traditional and template_type in (0, 1, 2):
        problems.append(f"write domestic templates in simplified Chinese; found traditional "
                        f"characters {''.join(traditional)}")
    marketing = [word for word in MARKETING_WORDS if word in content]
    if template_type in (0, 1) and marketing:
        kind = "notification" if template_type == 1 else "verification-code"
        problems.append(f"a {kind} template may not carry marketing content ("
                        f"{', '.join(marketing)}); apply for a promotional template (type 2)")
    if template_type == 1 and any(text.upper() in content.upper() for text in OPT_OUT_TEXTS):
        problems.append("a notification template may not contain opt-out text such as "
                        "拒收请回复R; that marks a promotional message")
    if template_type == 2 and not _ends_with_opt_out(content):
        problems.append("a promotional template must end with an opt-out text such as "
                        "拒收请回复R or 回T退订")
    if template_type == 0:
        if not any(word in content for word in OTP_KEYWORDS):
            problems.append("a verification-code template must say what it sends: include "
                            "验证码, 注册码, 校验码 or 动态码")
        if len(names) != 1:
            problems.append(f"a verification-code template must have exactly one variable, the "
                            f"code; it has {len(names)}")
        elif isinstance(rule, Mapping) and rule.get(names[0], "numberCaptcha") not in OTP_ATTRIBUTES:
            problems.append(f"the code variable {names[0]} must have the attribute "
                            "numberCaptcha or characterWithNumber2")
    if rule is not None:
        problems += _rule_problems(names, rule)
    return Decision.from_problems(problems)
