"""A refusal in the console user's language, with labels instead of field names.

The services raise :class:`~pigeon.core.errors.PigeonError` with the API's English message
(the API answers it as it is: Alibaba's codes and wording).  The console shows the same
refusal through :func:`of`:

1. A message the console wrote itself (:func:`refusal`) is already in the user's language.
2. A service message matching one of :data:`PATTERNS` is rewritten from the catalogue: wire
   field names (``BussinessLicenseExpDate``) become the form's labels, variable attributes and
   money are written for people, the figures are kept.
3. Anything else falls back to the code's own sentence (:data:`CODE_TEXT`) — less precise, but
   in the user's language; in English the service's message is kept, its field names labelled.

Review reasons (a rejected signature's or template's problems, the template form's live check)
go through :func:`reason`: each ``;``-separated problem on its own.
"""

from __future__ import annotations

import re
from datetime import date

from pigeon.console import i18n, words
from pigeon.console.i18n import N_, gettext
from pigeon.core import pricing
from pigeon.core.errors import PigeonError


class ConsoleRefusal(PigeonError):
    """A refusal the console words itself, already translated."""


def refusal(message: str, code: str = "isv.INVALID_PARAMETERS") -> ConsoleRefusal:
    """A :class:`PigeonError` carrying ``message`` (already in the user's language)."""
    return ConsoleRefusal(code, message)


FIELD_LABELS = {
    **words.QUALIFICATION_FIELDS,
    "SignName": N_("Signature name"), "SignSource": N_("Source"), "SignType": N_("Type"),
    "TemplateName": N_("Template name"), "TemplateContent": N_("Content"),
    "TemplateType": N_("Type"), "TemplateRule": N_("Variable attributes"),
    "TemplateParam": N_("Variables"), "RelatedSignName": N_("Signature"),
    "PhoneNumbers": N_("Phone number"), "QualificationId": N_("Qualification"),
    "Carrier": N_("Carrier"), "State": N_("State"),
    "day_limit": N_("Daily cap"), "month_limit": N_("Monthly cap"),
    "otp_per_minute": N_("Verification codes per minute"),
    "otp_per_hour": N_("Verification codes per hour"),
    "otp_per_day": N_("Verification codes per 24 hours"),
    "other_per_day": N_("Notifications and promotions per 24 hours"),
}
"""Wire and settings names as the pages label them."""

PERIODS = {"分钟": N_("minute"), "小时": N_("hour"), "天": N_("day"), "minute": N_("minute"),
           "hour": N_("hour"), "day": N_("day")}
TEMPLATE_KINDS = {"notification": N_("notification"),
                  "verification-code": N_("verification-code")}

CODE_TEXT = {
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": N_("This signature may not send this type of template."),
    "isv.EXTEND_CODE_ERROR": N_("The extension code is already used by another signature."),
    "isv.SIGN_STATE_ILLEGAL": N_("The signature cannot be used in its current state."),
    "isv.DOMESTIC_NUMBER_NOT_SUPPORTED": N_("An international template cannot send to a "
                                            "mainland number."),
    "isv.DAY_LIMIT_CONTROL": N_("Your daily sending cap is reached (Security settings)."),
    "isv.MONTH_LIMIT_CONTROL": N_("Your monthly sending cap is reached (Security settings)."),
    "isv.SMS_CONTENT_ILLEGAL": N_("The content contains forbidden material."),
    "isv.SMS_SIGN_ILLEGAL": N_("The signature is banned."),
    "isv.OUT_OF_SERVICE": N_("Sending is suspended for your account; ask your operator."),
    "isv.PRODUCT_UNSUBSCRIBE": N_("The service is not activated for your account."),
    "isv.ACCOUNT_NOT_EXISTS": N_("The account does not exist."),
    "isv.ACCOUNT_ABNORMAL": N_("The account is in an abnormal state; ask your operator."),
    "isv.SMS_TEMPLATE_ILLEGAL": N_("The template does not exist in your account or is not "
                                   "approved."),
    "isv.SMS_SIGNATURE_ILLEGAL": N_("The signature does not exist in your account or is not "
                                    "approved."),
    "isv.INVALID_PARAMETERS": N_("Something in the form is not valid; check the fields and "
                                 "try again."),
    "isp.SYSTEM_ERROR": N_("Something went wrong on the server; try again."),
    "isv.MOBILE_NUMBER_ILLEGAL": N_("The phone number is not valid."),
    "isv.MOBILE_COUNT_OVER_LIMIT": N_("Too many phone numbers at once."),
    "isv.TEMPLATE_MISSING_PARAMETERS": N_("Give a value for every variable of the template."),
    "isv.BUSINESS_LIMIT_CONTROL": N_("This number has received as many messages as it may for "
                                     "now; try again later."),
    "isv.INVALID_JSON_PARAM": N_("The variables are not valid."),
    "isv.PARAM_LENGTH_LIMIT": N_("A variable's value is too long or empty."),
    "isv.PARAM_NOT_SUPPORT_URL": N_("Links are not allowed in variables; write a fixed link "
                                    "into the template instead."),
    "isv.AMOUNT_NOT_ENOUGH": N_("Your balance is not enough: ask your operator to top it up "
                                "or to add a resource package."),
    "isv.TEMPLATE_PARAMS_ILLEGAL": N_("A variable's value does not fit its attribute."),
    "isv.SMS_TEST_NUMBER_LIMIT": N_("Test messages go only to bound test numbers."),
    "isv.SIGN_COUNT_OVER_LIMIT": N_("Too many signature applications today; try again "
                                    "tomorrow."),
    "isv.TEMPLATE_COUNT_OVER_LIMIT": N_("Too many template applications today; try again "
                                        "tomorrow."),
    "isv.SIGN_NAME_ILLEGAL": N_("The signature name breaks the naming rules."),
    "isv.SIGN_FILE_LIMIT": N_("A supporting file is larger than 2 MB."),
    "isv.SIGN_OVER_LIMIT": N_("The signature name or remark is too long."),
    "isv.TEMPLATE_OVER_LIMIT": N_("The template name, content or remark is too long."),
    "isv.SIGN_SOURCE_ILLEGAL": N_("Choose a source from the list."),
    "isv.ERROR_SIGN_NOT_DELETE": N_("A signature under review cannot be deleted."),
    "isv.ERROR_SIGN_NOT_MODIFY": N_("Only a rejected signature can be changed."),
    "isv.ERROR_TEMPLATE_NOT_DELETE": N_("A template under review cannot be deleted."),
    "isv.ERROR_TEMPLATE_NOT_MODIFY": N_("Only a rejected template can be changed."),
    "template_parameter_count_illegal": N_("A verification-code template has exactly one "
                                           "variable, the code."),
    "Throttling.User": N_("Too many attempts; wait a moment and try again."),
    "InvalidAccessKeyId.NotFound": N_("There is no such AccessKey."),
    "ServiceUnavailable": N_("The server is busy; try again in a moment."),
    "InternalError": N_("Something went wrong on the server; try again."),
}
"""Each code's sentence for people, when its message is not one of :data:`PATTERNS`."""
_MISSING = N_("%(field)s is required.")
_INVALID = N_("%(field)s is not valid.")

_Q = "'?\"?"  # Python reprs quote names: 'name' (or "name" when it holds a quote)

PATTERNS: list[tuple[str, str]] = [
    # -- fields of a form (qualifications, signatures, templates) --
    (r"(?P<field>\w+) is mandatory for this action", _MISSING),
    (r"(?P<field>\w+) must not be empty", N_("%(field)s must not be empty.")),
    (r"(?P<field>\w+) must be text, got .*", N_("%(field)s must be text.")),
    (r"(?P<field>\w+) must be at most (?P<n>\d+) characters, got (?P<got>\d+)",
     N_("%(field)s may have at most %(n)s characters; it has %(got)s.")),
    (r"(?P<field>\w+) must be at least (?P<n>\d+) characters",
     N_("%(field)s needs at least %(n)s characters.")),
    (r"(?P<field>\w+) may contain only letters, Chinese characters and digits",
     N_("%(field)s may contain only letters, Chinese characters and digits.")),
    (r"(?P<field>\w+) must not be digits only", N_("%(field)s must not be only digits.")),
    (r"(?P<field>\w+) may contain only letters, Chinese characters, digits, spaces and the "
     r"symbols .*",
     N_("%(field)s may contain only letters, Chinese characters, digits, spaces and the "
        "symbols · 【】 （） ().")),
    (r"(?P<field>\w+) must contain letters or Chinese characters, not only digits and symbols",
     N_("%(field)s must contain letters or Chinese characters.")),
    (r"(?P<field>\w+) must be the 18-character unified social credit code; it .*",
     N_("%(field)s must be the 18-character code printed on the business licence; check "
        "it.")),
    (r"(?P<field>\w+) must be a range YYYY-MM-DD~YYYY-MM-DD .*",
     N_("%(field)s needs a first and a last day (choose “long-term” when it does not "
        "expire).")),
    (r"(?P<field>\w+) holds .*, which contains a date that does not exist",
     N_("%(field)s holds a date that does not exist.")),
    (r"(?P<field>\w+) starts on (?P<day_start>[\d-]+) after it ends on (?P<day_end>[\d-]+)",
     N_("%(field)s starts on %(day_start)s, after it ends on %(day_end)s.")),
    (r"(?P<field>\w+) must be one of .*", N_("Choose %(field)s from the list.")),
    (r"(?P<field>\w+) must be COMPANY or NON_PROFIT_ORGANIZATION.*",
     N_("Choose %(field)s from the list.")),
    (r"(?P<field>\w+) must be a mainland mobile number .*",
     N_("%(field)s must be a mainland mobile number: 11 digits starting with 1.")),
    (r"(?P<field>\w+) cannot be changed by UpdateSmsQualification.*",
     N_("%(field)s cannot be changed; submit a new qualification instead.")),
    (r"BusinessLicensePics is required for a third-party qualification.*",
     N_("A qualification for a third party needs the business licence of the company you "
        "send for.")),
    (r"(?P<field>\w+) must not contain spaces", N_("%(field)s must not contain spaces.")),
    # -- verification codes of the qualification form --
    (rf"{_Q}(?P<phone>.*?){_Q} is not a mainland mobile number .*",
     N_("%(phone)s is not a mainland mobile number (11 digits starting with 1).")),
    (r"CertifyCode is not the code last sent to (?P<phone>\S+), or it has expired or was "
     r"used already.*",
     N_("The verification code is not the one last sent to %(phone)s, or it has expired or "
        "was used already: send a new code.")),
    (r"This account had (?P<n>\d+) verification codes sent in the last 24 hours.*",
     N_("Your account was sent %(n)s verification codes in the last 24 hours, the most it "
        "may; try again tomorrow.")),
    (r"触发(?P<period>分钟|小时|天)级流控Permits:(?P<n>\d+)",
     N_("This number has received as many messages as it may per %(period)s (%(n)s); try "
        "again later.")),
    # -- qualifications --
    (rf"A qualification named {_Q}(?P<name>.*?){_Q} already exists in this account.*",
     N_("You already have a qualification named %(name)s; choose another name.")),
    (r"Qualification (?P<id>\d+) is .*; only a rejected qualification or one asked for more "
     r"materials can be updated",
     N_("Only a rejected qualification, or one asked for more materials, can be updated.")),
    (r"Qualification (?P<id>\d+) is under review and cannot be deleted until it is decided",
     N_("Qualification %(id)s is under review: it can be deleted once the review is "
        "decided.")),
    (r"Qualification (?P<id>\d+) is used by \d+ signature\(s\) \((?P<names>.*)\); change "
     r"their qualification or delete them first",
     N_("Qualification %(id)s is used by the signatures %(names)s: change their qualification "
        "or delete them first.")),
    (r"OrderId \d+ is not the current review ticket .*",
     N_("The qualification changed meanwhile; reload the page and try again.")),
    (r"QualificationId (?P<id>\d+) does not exist in this account",
     N_("There is no qualification %(id)s in your account.")),
    (r"QualificationId (?P<id>\d+) is not approved yet.*",
     N_("Qualification %(id)s is not approved yet: a signature needs an approved "
        "qualification.")),
    # -- signatures --
    (r"SignName must not contain brackets such as (?P<char>.+): the platform adds .*",
     N_("The signature name must not contain brackets such as %(char)s: 【】 are added "
        "around it for you.")),
    (r"SignName contains (?P<char>.+); only Chinese characters, ASCII letters and digits are "
     r"allowed",
     N_("The signature name contains %(char)s: only Chinese characters, letters and digits "
        "are allowed.")),
    (r"SignName must not contain \"测试\" or \"test\".*",
     N_("The signature name must not contain “测试” or “test”: use the name of your "
        "company, app, website or trademark.")),
    (rf"A signature named {_Q}(?P<name>.*?){_Q} already exists in this account",
     N_("You already have a signature named %(name)s.")),
    (rf"Signature {_Q}(?P<name>.*?){_Q} is not rejected; only a rejected signature can be "
     r"modified", N_("Only a rejected signature can be changed.")),
    (rf"Signature {_Q}(?P<name>.*?){_Q} is under review and cannot be deleted",
     N_("【%(name)s】 is under review: it can be deleted once the review is decided.")),
    (rf"There is no signature named {_Q}(?P<name>.*?){_Q}( in this account)?",
     N_("You have no signature named %(name)s.")),
    (rf"Signature {_Q}(?P<name>.*?){_Q} is not approved; apply for a template once its "
     r"signature is approved",
     N_("【%(name)s】 is not approved yet: apply for a template once its signature is "
        "approved.")),
    (r"This account has no approved signature yet.*",
     N_("You have no approved signature yet: apply for a template once a signature is "
        "approved.")),
    (rf"Signature {_Q}(?P<name>.*?){_Q} is not approved",
     N_("The signature 【%(name)s】 is not approved.")),
    (rf"Signature {_Q}(?P<name>.*?){_Q} may only send verification-code templates; "
     r"(?P<code>\S+) is not one",
     N_("The signature 【%(name)s】 sends verification codes only; template %(code)s is not "
        "one.")),
    (r"SignSource .* is not accepted by .*", N_("Choose a source from the list.")),
    (r"SignName uses traditional characters \((?P<chars>.+)\); write it in simplified Chinese",
     N_("The signature name uses traditional characters (%(chars)s): write it in simplified "
        "Chinese.")),
    (r"SignName (?P<name>.+) is a generic name that identifies no company.*",
     N_("%(name)s is a generic name that identifies no company, app, website or trademark: "
        "use your company's full or short name, or your app's, website's or trademark's "
        "name.")),
    (r"SignName (?P<name>.+) does not match the qualification's company (?P<company>.+?); .*",
     N_("%(name)s does not match the qualification's company %(company)s: use a full or short "
        "form of the company name, or attach the name owner's authorisation letter.")),
    (r"no proof file is attached; .*",
     N_("No supporting file is attached: add a business licence, app-store page, website "
        "filing or trademark certificate.")),
    # -- templates --
    (r"TemplateContent has an unclosed placeholder (?P<p>.+): write variables as .*",
     N_("The content has an unclosed variable %(p)s: write variables as ${name}.")),
    (r"TemplateContent placeholder (?P<p>.+) is malformed: .*",
     N_("The variable %(p)s is malformed: a variable's name is letters, digits or "
        "underscores, as in ${code}.")),
    (r"TemplateRule must be a JSON object.*",
     N_("Choose an attribute for each variable of the content.")),
    (r"TemplateRule is required when TemplateContent has variables.*",
     N_("Choose an attribute for each variable of the content.")),
    (rf"TemplateRule names the variable {_Q}(?P<name>.*?){_Q}, which TemplateContent does not "
     r"contain", N_("The content has no variable ${%(name)s}.")),
    (rf"TemplateRule gives the variable {_Q}(?P<name>.*?){_Q} the attribute .*",
     N_("Choose the attribute of ${%(name)s} from the list.")),
    (r"TemplateRule gives no attribute for (?P<names>.+); declare an attribute for every "
     r"variable", N_("Choose an attribute for %(names)s.")),
    (r"TemplateRule names (?P<names>.+), which the content does not use",
     N_("The content does not use %(names)s.")),
    (r"TemplateRule uses unknown attributes .*", N_("Choose each attribute from the list.")),
    (r"TemplateContent is empty; write the message text", N_("Write the message text.")),
    (r"the related signature is for verification codes only .*",
     N_("The chosen signature sends verification codes only: choose a general signature for "
        "this type.")),
    (r"the template has no fixed text besides its variables.*",
     N_("The template has no fixed text besides its variables: write the message itself and "
        "keep only the changing parts in variables.")),
    (r"remove 【 and 】: they are reserved for the signature",
     N_("Remove 【 and 】: they are reserved for the signature.")),
    (r"do not start or end the template with \[ or \]: they look like a signature",
     N_("Do not start or end the template with [ or ]: they look like a signature.")),
    (r"remove the special symbols (?P<symbols>.+): handsets may not show them",
     N_("Remove the special symbols %(symbols)s: handsets may not show them.")),
    (r"write domestic templates in simplified Chinese; found traditional characters "
     r"(?P<chars>.+)",
     N_("Write domestic templates in simplified Chinese; found traditional characters "
        "%(chars)s.")),
    (r"a (?P<kind>notification|verification-code) template may not carry marketing content "
     r"\((?P<words>.+)\); apply for a promotional template \(type 2\)",
     N_("A %(kind)s template may not carry marketing words (%(words)s): apply for a "
        "promotional template.")),
    (r"a notification template may not contain opt-out text such as 拒收请回复R.*",
     N_("A notification template may not contain opt-out text such as 拒收请回复R: that "
        "marks a promotional message.")),
    (r"a promotional template must end with an opt-out text such as 拒收请回复R or 回T退订",
     N_("A promotional template must end with an opt-out text such as 拒收请回复R or "
        "回T退订.")),
    (r"a verification-code template must say what it sends: include .*",
     N_("A verification-code template must say what it sends: include 验证码, 注册码, 校验码 "
        "or 动态码.")),
    (r"a verification-code template must have exactly one variable, the code; it has "
     r"(?P<n>\d+)",
     N_("A verification-code template has exactly one variable, the code; this one has "
        "%(n)s.")),
    (r"the code variable (?P<name>\w+) must have the attribute numberCaptcha or "
     r"characterWithNumber2",
     N_("The code variable ${%(name)s} must be a verification code (digits, or letters and "
        "digits).")),
    (r"Template (?P<code>\S+) is not rejected; only a rejected template can be modified",
     N_("Only a rejected template can be changed.")),
    (r"Template (?P<code>\S+) is under review and cannot be deleted",
     N_("Template %(code)s is under review: it can be deleted once the review is decided.")),
    # -- sending --
    (r"Template (?P<code>\S+) is not approved", N_("Template %(code)s is not approved.")),
    (r"Template (?P<code>\S+) needs TemplateParam with (?P<names>.+)",
     N_("Template %(code)s needs a value for %(names)s.")),
    (r"TemplateParam gives no value for the template variable \$\{(?P<name>\w+)\}",
     N_("Give a value for ${%(name)s}.")),
    (rf"The value {_Q}(?P<value>.*?){_Q} does not fit the variable attribute (?P<attribute>\w+):"
     r" .*", N_("The value %(value)s does not fit the variable's attribute: %(attribute)s.")),
    (r"A value for attribute (?P<attribute>\w+) must be 1 to (?P<n>\d+) characters long, got "
     r"(?P<got>\d+)",
     N_("A value for “%(attribute)s” has 1 to %(n)s characters; this one has %(got)s.")),
    (r"A value for a variable without a declared attribute must be 1 to (?P<n>\d+) characters "
     r"long, got (?P<got>\d+)",
     N_("A variable's value has 1 to %(n)s characters; this one has %(got)s.")),
    (rf"The value {_Q}(?P<value>.*?){_Q} contains a link; .*",
     N_("The value %(value)s contains a link: links are not allowed in variables; write a "
        "fixed link into the template instead.")),
    (r"The service is suspended for this account; sending is refused",
     N_("Sending is suspended for your account; ask your operator.")),
    (r"(?P<raw>.+) is not a valid mobile number: .*",
     N_("%(raw)s is not a valid mobile number.")),
    (r"PhoneNumbers contains no phone number", N_("Give a phone number.")),
    (r"The account balance is insufficient: (?P<money_due>-?[\d.]+) CNY is due from the "
     r"balance, which holds (?P<money_held>-?[\d.]+) CNY; (?P<money_missing>-?[\d.]+) CNY is "
     r"missing",
     N_("Your balance is not enough: %(money_due)s is due and the balance holds "
        "%(money_held)s (%(money_missing)s missing). Ask your operator to top it up or to add "
        "a resource package.")),
    (r"Promotional messages are not sent from (?P<start>\S+) to (?P<end>\S+) \(.*\); send "
     r"again from (?P<resume>.+)",
     N_("Promotional messages are not sent from %(start)s to %(end)s; send again from "
        "%(resume)s.")),
    # -- number lists, limits, caps, allow-list --
    (r"The (list of test numbers|whitelist) holds at most (?P<n>\d+) numbers and is full; "
     r"remove one before adding (?P<phone>\S+)",
     N_("The list holds at most %(n)s numbers and is full: remove one before adding "
        "%(phone)s.")),
    (r"(?P<phone>\S+) is not on the (list of test numbers|whitelist) of account \d+",
     N_("%(phone)s is not on the list.")),
    (r"(?P<field>\w+) may only be lowered: the platform maximum for .* to one number is "
     r"(?P<n>\d+), got (?P<got>\d+)",
     N_("%(field)s may only be lowered: the platform allows at most %(n)s, not %(got)s.")),
    (r"(?P<field>\w+) must be at least 1 \(.*\), got (?P<got>-?\d+)",
     N_("%(field)s must be at least 1.")),
    (r"(?P<field>\w+) must be a whole number of at least 1 and at most (?P<n>\d+), got .*",
     N_("%(field)s must be a whole number from 1 to %(n)s.")),
    (r"(?P<field>\w+) must be a whole number, got .*", N_("%(field)s must be a whole number.")),
    (r"Give an IPv4 or IPv6 address or a CIDR range .*",
     N_("Give an IPv4 or IPv6 address, or a range such as 203.0.113.0/24.")),
    (r"The IP allow-list holds at most (?P<n>\d+) entries and is full.*",
     N_("The IP allow-list holds at most %(n)s entries and is full: remove one, or use a "
        "wider range.")),
    # -- delivery reports --
    (r"The report URL must be an http:// or https:// URL with a host.*",
     N_("The push address must be an http:// or https:// URL with a host.")),
    (r"The report URL has a bad port: .*", N_("The push address has a bad port.")),
    (r"The report URL is refused: .*",
     N_("This push address is refused: this Pigeon does not push to it (ask your operator).")),
    (r"A URL is only for mode http", N_("A push address is only for HTTP push.")),
    # -- contacts, channels, rules --
    (r"A contact's name is 1 to 64 characters", N_("A contact's name has 1 to 64 characters.")),
    (r"A contact needs a phone number .* or an email .*",
     N_("A contact needs a phone number or an email address.")),
    (rf"{_Q}(?P<email>.*?){_Q} is not an email address", N_("%(email)s is not an email address.")),
    (r"Contact (?P<id>\d+) is named by channel\(s\) (?P<ids>.+); remove them first",
     N_("Contact %(id)s is named by channels %(ids)s: remove them first.")),
    (r"Contact (?P<id>\d+) has no (?P<needed>\w+); a (?P<kind>\w+) channel needs one",
     N_("Contact %(id)s has no %(needed)s, which this channel needs.")),
    (r"At most (?P<n>\d+) (?P<what>contacts|channels|rules); remove one first",
     N_("You have as many as you may (%(n)s); remove one first.")),
    (r"The quiet period is 0s to 30d", N_("The quiet period is 0s to 30d.")),
    # -- statistics and records --
    (r"The range starts on (?P<day_first>[\d-]+) after it ends on (?P<day_last>[\d-]+)",
     N_("The range starts on %(day_first)s, after it ends on %(day_last)s.")),
    (r"A range covers at most (?P<n>\d+) days; .*", N_("A range covers at most %(n)s days.")),
]
_COMPILED = [(re.compile(pattern), message) for pattern, message in PATTERNS]


def _shown(name: str, value: str) -> str:
    """A matched part of a message as the translation shows it."""
    if name.startswith("field"):
        return words.label(FIELD_LABELS, value)
    if name == "attribute":
        return words.label(words.VARIABLE_ATTRIBUTES, value)
    if name == "period":
        return words.label(PERIODS, value)
    if name == "kind":
        return words.label(TEMPLATE_KINDS, value)
    if name.startswith("money_"):
        try:
            return i18n.format_money(pricing.parse_cny(value))
        except ValueError:
            return value
    if name.startswith("day_"):
        try:
            return i18n.format_date(date.fromisoformat(value))
        except ValueError:
            return value
    return value


def _matched(message: str) -> str | None:
    text = message.strip().rstrip(".。").strip()
    for pattern, translation in _COMPILED:
        found = pattern.fullmatch(text)
        if found:
            values = {name: _shown(name, value or "")
                      for name, value in found.groupdict().items()}
            return gettext(translation) % values
    return None


_WIRE_NAME = re.compile(r"\b(" + "|".join(sorted(FIELD_LABELS, key=len, reverse=True))
                        + r")\b")


def _labelled(message: str) -> str:
    """An English message with its wire field names replaced by their labels."""
    return _WIRE_NAME.sub(lambda m: gettext(FIELD_LABELS[m.group(1)]), message)


def _fallback(code: str, message: str) -> str:
    if i18n.current().catalogue is None:
        return _labelled(message)
    if code.startswith("Missing") and code != "MissingParameter":
        return gettext(_MISSING) % {"field": words.label(FIELD_LABELS, code[len("Missing"):])}
    if code in CODE_TEXT:
        return gettext(CODE_TEXT[code])
    if code.startswith("Invalid") and code[len("Invalid"):] in FIELD_LABELS:
        return gettext(_INVALID) % {"field": words.label(FIELD_LABELS, code[len("Invalid"):])}
    return gettext(CODE_TEXT["isv.INVALID_PARAMETERS"])


def of(error: PigeonError) -> str:
    """What the console says about ``error``, in the current language."""
    if isinstance(error, ConsoleRefusal):
        return error.message
    return _matched(error.message) or _fallback(error.code, error.message)


def text(code: str | None, message: str | None) -> str:
    """A stored refusal (a batch row's, a message's) in the current language: its message
    when it is one of :data:`PATTERNS`, else its code's sentence, else the message as is (a
    carrier's own code)."""
    if not message and not code:
        return ""
    found = _matched(message or "")
    if found:
        return found
    if code in CODE_TEXT and i18n.current().catalogue is not None:
        return gettext(CODE_TEXT[code])
    return _labelled(message or "")


def reason(text: str | None) -> str:
    """A review reason (problems joined by ``;``) in the current language, problem by problem;
    a reviewer's own words (no known problem) stay as written."""
    if not text:
        return ""
    parts = [part.strip() for part in re.split(r";\s+|；", text) if part.strip()]
    shown = [_matched(part) for part in parts]
    if not any(shown):
        return text
    return " ".join(s if s else part for s, part in zip(shown, parts, strict=True))


def problems(messages: list[str]) -> list[str]:
    """The template form's live check: each problem in the current language."""
    return [_matched(m) or _fallback("isv.INVALID_PARAMETERS", m) for m in messages]

