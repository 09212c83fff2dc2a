import pytest
from hypothesis import given
from hypothesis import strategies as st

from pigeon.core import review_rules
from pigeon.core.errors import PigeonError
from pigeon.core.review_rules import (
    review_signature,
    review_template,
    validate_sign_file,
    validate_sign_name,
    validate_sign_remark,
    validate_sign_source,
    validate_sign_type,
    validate_template,
)

COMPANY = "杭州云雀科技有限公司"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32
GIF = b"GIF89a" + b"\x00" * 32
OTP = "您的验证码为${code}，5分钟内有效，请勿泄露给他人。"
NOTICE = "尊敬的${name}，您的订单${order}已发货，请注意查收。"
PROMOTION = "云雀会员日，全场商品8折优惠，详情见App。拒收请回复R"


def raises_code(code: str, call, *args, **kwargs) -> str:
    with pytest.raises(PigeonError) as raised:
        call(*args, **kwargs)
    assert raised.value.code == code
    return raised.value.message


def refusal(call, *args, **kwargs) -> tuple[str, str]:
    """The code and message of the PigeonError ``call`` raises."""
    with pytest.raises(PigeonError) as raised:
        call(*args, **kwargs)
    return raised.value.code, raised.value.message


# Surviving mutants, explained (scripts/mutation core review_rules):
# - _distinctive: removing " " and "·" not at all or as "XXXX": no name or company reaches it
#   with either (review_signature returns before for a name validate_sign_name refuses, and
#   strips whitespace and "·" from the company first).
# - _distinctive: name.upper() instead of name.lower(): name and company both go through it, so
#   they are compared in one case; only a character whose capital is longer (a ligature such
#   as "ﬀ" in a company name) would tell, and that reading is no rule worth pinning.
# - _distinctive: anywhere=None instead of False; _strip_words: changed = None instead of
#   False: both are only tested for truth.
# - review_signature: name.upper() instead of name.lower() before removing the generic words:
#   the words are Chinese and the check only asks whether anything is left, which a change of
#   case of a valid name's ASCII letters cannot make empty.
# - _strip_words: changed = True after a strip, or text[: +len(word)]: not survivors but
#   timeouts: both loop for ever (on every name, or on one like 科技集团), so the suite hangs.


# -- signature names ---------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["云雀科技", "云雀", "阿里云", "Yunque", "12306", "云雀Lark2",
                                  "杭州云雀科技有限公司", "一二三四五六七八九十一二"])
def test_it_accepts_signature_names_within_the_rules(name):
    validate_sign_name(name)


@pytest.mark.parametrize(("name", "code", "complaint"), [
    ("", "isv.SIGN_NAME_ILLEGAL", "empty"),
    ("云", "isv.SIGN_NAME_ILLEGAL", "at least 2"),
    ("杭州云雀科技网络股份有限公司", "isv.SIGN_OVER_LIMIT", "at most 12"),
    ("云雀 科技", "isv.SIGN_NAME_ILLEGAL", "spaces"),
    ("【云雀科技】", "isv.SIGN_NAME_ILLEGAL", "brackets"),
    ("云雀(科技)", "isv.SIGN_NAME_ILLEGAL", "brackets"),
    ("[Yunque]", "isv.SIGN_NAME_ILLEGAL", "brackets"),
    ("云雀科技!", "isv.SIGN_NAME_ILLEGAL", "'!'"),
    ("云雀·科技", "isv.SIGN_NAME_ILLEGAL", "'·'"),
    ("云雀Ｌａｒｋ", "isv.SIGN_NAME_ILLEGAL", "'Ｌ'"),      # full-width letters
    ("云雀科技😀", "isv.SIGN_NAME_ILLEGAL", "only Chinese"),
    ("云雀测试", "isv.SIGN_NAME_ILLEGAL", "测试"),
    ("LarkTest", "isv.SIGN_NAME_ILLEGAL", "test"),
    ("TESTING", "isv.SIGN_NAME_ILLEGAL", "test"),
])
def test_it_rejects_signature_names_that_break_a_rule(name, code, complaint):
    assert complaint in raises_code(code, validate_sign_name, name)


@pytest.mark.parametrize(("remark", "code"), [
    (None, None), ("", None), ("用于用户注册登录验证码", None), ("说" * 200, None),
    ("说" * 201, "isv.SIGN_OVER_LIMIT"), (42, "isv.INVALID_PARAMETERS"),
])
def test_a_signature_remark_is_at_most_200_characters(remark, code):
    if code is None:
        validate_sign_remark(remark)
    else:
        raises_code(code, validate_sign_remark, remark)


@pytest.mark.parametrize(("source", "legacy", "accepted"), [
    (0, False, True), (2, False, True), (5, False, True),
    (1, False, False), (3, False, False), (4, False, False), (6, False, False),
    (0, True, True), (1, True, True), (3, True, True), (4, True, True), (5, True, True),
    (6, True, False), (-1, True, False), (True, True, False), ("0", False, False),
])
def test_the_signature_source_depends_on_the_action(source, legacy, accepted):
    if accepted:
        validate_sign_source(source, legacy=legacy)
    else:
        raises_code("isv.SIGN_SOURCE_ILLEGAL", validate_sign_source, source, legacy=legacy)


@pytest.mark.parametrize(("sign_type", "accepted"), [(0, True), (1, True), (2, False),
                                                     (None, False), (False, False)])
def test_the_signature_type_is_zero_or_one(sign_type, accepted):
    if accepted:
        validate_sign_type(sign_type)
    else:
        raises_code("isv.INVALID_PARAMETERS", validate_sign_type, sign_type)


@pytest.mark.parametrize(("suffix", "data", "code"), [
    ("png", PNG, None), ("PNG", PNG, None), ("jpg", JPEG, None), ("jpeg", JPEG, None),
    ("gif", GIF, None), ("gif", b"GIF87a" + b"\x00", None),
    ("png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * 1024 * 1024 - 8), None),  # exactly 2 MiB
    ("png", b"\x89PNG\r\n\x1a\n" + b"\x00" * (2 * 1024 * 1024 - 7), "isv.SIGN_FILE_LIMIT"),
    ("pdf", b"%PDF-1.7", "isv.INVALID_PARAMETERS"),
    (".png", PNG, "isv.INVALID_PARAMETERS"),
    ("png", JPEG, "isv.INVALID_PARAMETERS"),     # a JPEG called png
    ("jpg", b"not an image", "isv.INVALID_PARAMETERS"),
    ("jpg", b"", "isv.INVALID_PARAMETERS"),
    ("jpg", "/9j/4AAQ", "isv.INVALID_PARAMETERS"),  # still base64 text, not bytes
])
def test_a_proof_file_is_a_small_real_image(suffix, data, code):
    if code is None:
        validate_sign_file(suffix, data)
    else:
        raises_code(code, validate_sign_file, suffix, data)


# -- template applications --------------------------------------------------------------------

def test_a_well_formed_template_application_is_accepted():
    validate_template("注册验证码", OTP, 0, remark="用户注册时发送", rule={"code": "numberCaptcha"})
    validate_template("发货通知", NOTICE, 1, rule={"name": "name", "order": "other_number2"})
    validate_template("国际验证码", "Your code is ${code}.", 3, intl_type=2)
    validate_template("旧接口模板", OTP, 0, remark="说" * 100, legacy=True)


@pytest.mark.parametrize(("args", "kwargs", "code", "complaint"), [
    (("名" * 31, OTP, 0), {}, "isv.TEMPLATE_OVER_LIMIT", "TemplateName must be at most 30"),
    (("名称", "验" * 501, 0), {}, "isv.TEMPLATE_OVER_LIMIT", "TemplateContent must be at most 500"),
    (("名称", OTP, 0), {"remark": "说" * 101, "legacy": True}, "isv.TEMPLATE_OVER_LIMIT",
     "Remark must be at most 100"),
    (("名称", OTP, 0), {"remark": "说" * 501}, "isv.TEMPLATE_OVER_LIMIT",
     "Remark must be at most 500"),
    (("", OTP, 0), {}, "isv.INVALID_PARAMETERS", "TemplateName must not be empty"),
    (("名称", "  ", 0), {}, "isv.INVALID_PARAMETERS", "TemplateContent must not be empty"),
    (("名称", OTP, 4), {}, "isv.INVALID_PARAMETERS", "TemplateType must be"),
    (("名称", OTP, True), {}, "isv.INVALID_PARAMETERS", "TemplateType must be"),
    (("名称", OTP, 3), {}, "isv.INVALID_PARAMETERS", "IntlType is required"),
    (("名称", OTP, 3), {"intl_type": 3}, "isv.INVALID_PARAMETERS", "IntlType must be"),
    (("名称", "验证码${code", 0), {}, "isv.INVALID_PARAMETERS", "unclosed placeholder"),
    (("名称", OTP, 0), {"rule": ["code"]}, "isv.INVALID_PARAMETERS", "JSON object"),
    (("名称", OTP, 0), {"rule": {"otp": "numberCaptcha"}}, "isv.INVALID_PARAMETERS",
     "does not contain"),
    (("名称", OTP, 0), {"rule": {"code": "digits"}}, "isv.INVALID_PARAMETERS",
     "attribute 'digits'"),
])
def test_a_template_application_that_breaks_a_rule_is_answered_at_once(args, kwargs, code,
                                                                       complaint):
    assert complaint in raises_code(code, validate_template, *args, **kwargs)


@pytest.mark.parametrize(("text", "rule"), [
    (None, None), ("", None), ('{"code":"numberCaptcha"}', {"code": "numberCaptcha"}),
])
def test_it_decodes_a_template_rule(text, rule):
    assert review_rules.parse_template_rule(text) == rule


def test_it_refuses_a_template_rule_that_is_not_json():
    raises_code("isv.INVALID_PARAMETERS", review_rules.parse_template_rule, "{code:1}")


# -- the reviewer: signatures ------------------------------------------------------------------

def sign(name: str, *, source: int = 0, company: str | None = COMPANY, files: bool = False,
         legacy: bool = False):
    return review_signature(name, source=source, sign_type=1, remark="", has_files=files,
                            qualification_company=company, legacy=legacy)


@pytest.mark.parametrize("name", [
    "云雀科技",       # company name without region and suffix
    "云雀",
    "杭州云雀",
    "杭州云雀科技",
    "云雀集团",       # distinctive part 云雀 is in the company name
    "云雀网络",
])
def test_the_reviewer_approves_a_name_taken_from_the_company(name):
    assert sign(name) == review_rules.APPROVED


@pytest.mark.parametrize(("name", "source", "company", "approved"), [
    ("百灵鸟", 5, COMPANY, True),            # a trademark: the company need not match
    ("百灵App", 2, COMPANY, True),           # an app name
    ("百灵科技", 0, COMPANY, False),          # another company's name
    ("云科技", 0, COMPANY, False),            # distinctive part too short to tell
    ("LarkTech", 0, "Lark Technology Co Ltd", True),
    ("阿里巴巴", 0, "阿里巴巴（中国）有限公司", True),
    ("百灵鸟", 0, None, True),               # no qualification (legacy): nothing to compare
])
def test_the_reviewer_compares_the_name_with_the_company_only_for_company_sources(
        name, source, company, approved):
    assert sign(name, source=source, company=company).approved is approved


@pytest.mark.parametrize("name", ["客服通知", "验证码", "通知", "短信", "系统消息", "提醒",
                                  "客服短信通知", "科技集团", "安全中心",
                                  "客户服务",        # not 客户 + 服务: the longest word first
                                  "温馨提示提醒"])   # generic words anywhere, not only at the end
def test_the_reviewer_rejects_a_generic_name(name):
    decision = sign(name)
    assert not decision.approved
    assert "generic name" in decision.reason


def test_the_reviewer_asks_for_an_authorisation_letter_for_an_unrelated_name():
    decision = sign("百灵科技")
    assert "does not match the qualification's company 杭州云雀科技有限公司" in decision.reason
    assert "authorisation letter" in decision.reason


@pytest.mark.parametrize(("files", "approved"), [(True, True), (False, False)])
def test_a_legacy_application_needs_a_proof_file(files, approved):
    decision = sign("百灵鸟", source=1, company=None, files=files, legacy=True)
    assert decision.approved is approved
    if not approved:
        assert "SignFileList" in decision.reason


@pytest.mark.parametrize(("name", "complaint"), [
    ("雲雀電話", "traditional"),
    ("云雀测试", "测试"),
    ("【云雀】", "brackets"),
])
def test_the_reviewer_rechecks_the_naming_rules(name, complaint):
    decision = sign(name)
    assert not decision.approved
    assert complaint in decision.reason


# -- the reviewer: templates -------------------------------------------------------------------

@pytest.mark.parametrize(("content", "template_type", "rule"), [
    (OTP, 0, {"code": "numberCaptcha"}),
    (OTP, 0, {"code": "characterWithNumber2"}),
    (OTP, 0, None),
    ("您的动态密码是${pwd}，10分钟内有效。", 0, {"pwd": "characterWithNumber"}),
    (NOTICE, 1, {"name": "name", "order": "other_number2"}),
    (NOTICE, 1, None),
    ("您预约的${time}门诊已确认，请携带证件。", 1, {"time": "time"}),
    ("您的快递已到云雀驿站，请凭取件码${code}及时领取。", 1, {"code": "other_number2"}),
    (PROMOTION, 2, None),
    ("${name}您好，会员日限时折扣，回T退订", 2, {"name": "name"}),
    ("秋季上新，满200减30。退订回T。", 2, None),
    ("Your Lark verification code is ${code}.", 3, {"code": "numberCaptcha"}),
    ("您的訂單已發貨", 3, None),    # traditional Chinese is fine for Hong Kong/Macao/Taiwan
])
def test_the_reviewer_approves_templates_that_follow_the_rules(content, template_type, rule):
    assert review_template(content, template_type, rule=rule) == review_rules.APPROVED


@pytest.mark.parametrize(("content", "template_type", "rule", "complaint"), [
    ("【云雀】您的验证码为${code}", 0, None, "remove 【 and 】"),
    ("您的订单已发货【云雀】", 1, None, "remove 【 and 】"),
    ("[云雀]您的订单已发货", 1, None, "start or end"),
    ("您的订单已发货[云雀]", 1, None, "start or end"),
    ("★您的订单已发货", 1, None, "special symbols ★"),
    ("您的订单已发货※请查收", 1, None, "special symbols ※"),
    ("①您的订单→已发货", 1, None, "special symbols → ①"),
    ("您的订单已发货😀", 1, None, "special symbols"),
    ("您的訂單已發貨", 1, None, "traditional characters"),
    ("${name}${order}", 1, None, "no fixed text"),
    ("您的订单已发货，领取优惠券请点击", 1, None, "may not carry marketing content (优惠)"),
    ("会员日免费领好礼，限时三天", 1, None, "marketing content (免费领, 限时)"),
    ("您的订单已发货，拒收请回复R", 1, None, "opt-out text"),
    ("您的验证码为${code}，注册即送红包", 0, None, "marketing content (红包)"),
    ("全场八折优惠，欢迎选购", 2, None, "must end with an opt-out"),
    ("拒收请回复R，全场八折", 2, None, "must end with an opt-out"),
    ("您本次登录的密码为${code}", 0, None, "include 验证码"),
    ("您的验证码为${code}，订单${order}", 0, None, "exactly one variable"),
    ("您的验证码已发送", 0, None, "exactly one variable"),
    (OTP, 0, {"code": "money"}, "numberCaptcha or characterWithNumber2"),
    (NOTICE, 1, {"name": "name"}, "no attribute for order"),
    (NOTICE, 1, {"name": "name", "order": "other_number2", "extra": "time"}, "names extra"),
    (NOTICE, 1, {"name": "name", "order": "digits"}, "unknown attributes (digits)"),
    (NOTICE, 1, "name", "JSON object"),
    ("验证码${code", 0, None, "unclosed placeholder"),
    ("", 1, None, "TemplateContent is empty"),
    (NOTICE, 9, None, "TemplateType 9"),
])
def test_the_reviewer_says_what_to_fix_in_a_template(content, template_type, rule, complaint):
    decision = review_template(content, template_type, rule=rule)
    assert not decision.approved
    assert complaint in decision.reason


def test_an_otp_only_signature_cannot_carry_a_notification_template():
    decision = review_template(NOTICE, 1, sign_type_allows=False)
    assert not decision.approved
    assert "SignType 0" in decision.reason


def test_the_reviewer_lists_every_problem_in_one_reason():
    decision = review_template("★【云雀】限时优惠", 1)
    assert decision.reason.count(";") >= 2


def test_review_rules_is_the_one_import_for_every_rule():
    for name in ("validate_qualification", "review_qualification", "normalize_mainland_mobile",
                 "check_variable_value", "Decision"):
        assert name in review_rules.__all__ and hasattr(review_rules, name)


# -- robustness --------------------------------------------------------------------------------

@given(st.text(max_size=20))
def test_validating_a_random_name_fails_only_with_a_coded_error(name):
    try:
        validate_sign_name(name)
    except PigeonError as error:
        assert error.code in {"isv.SIGN_NAME_ILLEGAL", "isv.SIGN_OVER_LIMIT"}


@given(st.text(max_size=40), st.text(max_size=80), st.integers(-1, 5), st.text(max_size=20))
def test_validating_a_random_template_fails_only_with_a_coded_error(name, content, kind, remark):
    try:
        validate_template(name, content, kind, remark=remark, intl_type=kind)
    except PigeonError as error:
        assert error.code in {"isv.INVALID_PARAMETERS", "isv.TEMPLATE_OVER_LIMIT"}


@given(st.text(max_size=16), st.text(max_size=8), st.binary(max_size=16))
def test_validating_a_random_file_fails_only_with_a_coded_error(suffix, _, data):
    try:
        validate_sign_file(suffix, data)
    except PigeonError as error:
        assert error.code in {"isv.INVALID_PARAMETERS", "isv.SIGN_FILE_LIMIT"}


@given(st.text(max_size=20), st.integers(-1, 6), st.one_of(st.none(), st.text(max_size=30)),
       st.booleans(), st.booleans())
def test_reviewing_a_random_signature_never_raises(name, source, company, files, legacy):
    decision = review_signature(name, source=source, sign_type=1, remark=None,
                                qualification_company=company, has_files=files, legacy=legacy)
    assert decision.approved or decision.reason


@given(st.text(max_size=80), st.integers(-1, 4),
       st.one_of(st.none(), st.dictionaries(st.text(max_size=5), st.text(max_size=12))))
def test_reviewing_a_random_template_never_raises(content, kind, rule):
    decision = review_template(content, kind, rule=rule)
    assert decision.approved or decision.reason


# -- exact answers ------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "code", "message"), [
    ("", "isv.SIGN_NAME_ILLEGAL", "SignName must not be empty."),
    ("云", "isv.SIGN_NAME_ILLEGAL", "SignName must be at least 2 characters."),
    ("一二三四五六七八九十一二三", "isv.SIGN_OVER_LIMIT", "SignName must be at most 12 characters, got 13."),
    ("云雀 科技", "isv.SIGN_NAME_ILLEGAL", "SignName must not contain spaces."),
    ("【云雀科技】", "isv.SIGN_NAME_ILLEGAL",
     "SignName must not contain brackets such as '【': the platform adds 【】 around the "
     "signature itself."),
    ("云雀科技!", "isv.SIGN_NAME_ILLEGAL",
     "SignName contains '!'; only Chinese characters, ASCII letters and digits are allowed."),
    ("云雀测试", "isv.SIGN_NAME_ILLEGAL",
     'SignName must not contain "测试" or "test"; use the name of your company, app, website or '
     "trademark."),
])
def test_a_refused_signature_name_is_told_which_rule_it_breaks(name, code, message):
    assert refusal(validate_sign_name, name) == (code, message)


@pytest.mark.parametrize(("call", "args", "kwargs", "code", "message"), [
    (validate_sign_remark, ("说" * 201,), {}, "isv.SIGN_OVER_LIMIT",
     "Remark must be at most 200 characters, got 201."),
    (validate_sign_remark, (42,), {}, "isv.INVALID_PARAMETERS", "Remark must be text, got 42."),
    (validate_sign_source, (1,), {"legacy": False}, "isv.SIGN_SOURCE_ILLEGAL",
     "SignSource 1 is not accepted by CreateSmsSign/UpdateSmsSign; use one of 0, 2, 5."),
    (validate_sign_source, (6,), {"legacy": True}, "isv.SIGN_SOURCE_ILLEGAL",
     "SignSource 6 is not accepted by AddSmsSign/ModifySmsSign; use one of 0, 1, 2, 3, 4, 5."),
    (validate_sign_type, (2,), {}, "isv.INVALID_PARAMETERS",
     "SignType must be 0 (verification code) or 1 (general), got 2."),
    (validate_sign_file, ("pdf", PNG), {}, "isv.INVALID_PARAMETERS",
     "SignFileList FileSuffix 'pdf' is not accepted; use jpg, jpeg, png or gif."),
    (validate_sign_file, (None, PNG), {}, "isv.INVALID_PARAMETERS",
     "SignFileList FileSuffix None is not accepted; use jpg, jpeg, png or gif."),
    (validate_sign_file, ("jpg", b""), {}, "isv.INVALID_PARAMETERS",
     "SignFileList FileContents is empty or not decoded image bytes."),
    (validate_sign_file, ("png", PNG + b"\x00" * (2 * 1024 * 1024)), {}, "isv.SIGN_FILE_LIMIT",
     "SignFileList FileContents is 2097192 bytes; a proof file may be at most 2 MB (2097152 "
     "bytes)."),
    (validate_sign_file, ("Jpg", PNG), {}, "isv.INVALID_PARAMETERS",
     "SignFileList FileContents is not a JPG image although FileSuffix says 'Jpg'; upload the "
     "image itself, base64-encoded."),
    (review_rules.parse_template_rule, ("{code:1}",), {}, "isv.INVALID_PARAMETERS",
     'TemplateRule must be a JSON object such as {"code":"numberCaptcha"}.'),
])
def test_a_refused_signature_field_is_told_what_is_accepted(call, args, kwargs, code, message):
    assert refusal(call, *args, **kwargs) == (code, message)


def test_a_template_may_use_its_full_lengths():
    validate_template("名" * 30, "验" * 500, 0, remark="说" * 500)


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    (("名称", OTP, 0), {"remark": 42}, "Remark must be text, got 42."),
    (("名称", OTP, 3), {},
     "IntlType is required when TemplateType is 3: 0 notification, 1 promotional, 2 "
     "verification code."),
    (("名称", OTP, 0), {"rule": ["code"]},
     'TemplateRule must be a JSON object such as {"code":"numberCaptcha"}.'),
    (("名称", OTP, 0), {"rule": {"otp": "numberCaptcha"}},
     "TemplateRule names the variable 'otp', which TemplateContent does not contain."),
    (("名称", OTP, 0), {"rule": {"code": "digits"}},
     "TemplateRule gives the variable 'code' the attribute 'digits'; use one of "
     "characterWithNumber, characterWithNumber2, link_param, money, name, numberCaptcha, "
     "other_number2, phone_number2, time."),
])
def test_a_refused_template_application_is_told_what_to_change(args, kwargs, message):
    assert refusal(validate_template, *args, **kwargs) == ("isv.INVALID_PARAMETERS", message)


@pytest.mark.parametrize(("name", "company", "reason"), [
    ("云", COMPANY, "SignName must be at least 2 characters."),
    ("雲雀電話", None, "SignName uses traditional characters (話電); write it in simplified "
                      "Chinese."),
    ("客服通知", COMPANY,
     "SignName 客服通知 is a generic name that identifies no company, app, website or "
     "trademark; use your company's full or short name, or your app's, website's or "
     "trademark's name."),
    ("百灵科技", COMPANY,
     "SignName 百灵科技 does not match the qualification's company 杭州云雀科技有限公司; use a "
     "full or short form of the company name, or attach an authorisation letter from the "
     "name's owner (or apply with the trademark or app as the source)."),
])
def test_the_reviewer_says_what_to_fix_in_a_signature(name, company, reason):
    assert sign(name, company=company) == review_rules.Decision(False, reason)


def test_a_legacy_application_without_a_file_is_told_which_files_to_add():
    assert sign("百灵鸟", source=1, company=None, legacy=True) == review_rules.Decision(
        False, "no proof file is attached; add a business licence, app-store page, website "
               "filing or trademark certificate in SignFileList.")


@pytest.mark.parametrize(("name", "company", "approved"), [
    ("云雀百灵", "云雀（杭州）百灵有限公司", True),    # what is in brackets is left out
    ("云雀百灵", "【云雀】【百灵】有限公司", True),     # and so are 【】
    ("云雀百灵", "云雀\u3000百灵有限公司", True),        # and any white space
    ("E科技", "E科技有限公司", True),                  # the whole name, in any case
    ("云雀集团科技", COMPANY, True),                  # company-type words stripped repeatedly
    ("科技云雀", COMPANY, False),                     # but only from the end
])
def test_the_reviewer_reads_company_names_loosely(name, company, approved):
    assert sign(name, company=company).approved is approved


NOT_OTP_ATTRIBUTE = "the code variable code must have the attribute numberCaptcha or " \
                    "characterWithNumber2"


@pytest.mark.parametrize(("content", "template_type", "rule", "reason"), [
    ("", 1, None, "TemplateContent is empty; write the message text."),
    ("${name}${order}", 1, None,
     "the template has no fixed text besides its variables; write the message itself and keep "
     "only the changing parts in variables."),
    ("您的订单已发货【云雀", 1, None, "remove 【 and 】: they are reserved for the signature."),
    ("您的订单已发货】", 1, None, "remove 【 and 】: they are reserved for the signature."),
    ("[云雀]您的订单已发货", 1, None,
     "do not start or end the template with [ or ]: they look like a signature."),
    ("★您的订单已发货※", 1, None, "remove the special symbols ※ ★: handsets may not show them."),
    ("您的訂單已發貨", 1, None,
     "write domestic templates in simplified Chinese; found traditional characters 單發貨."),
    ("您的验证码为${code}，請勿泄露", 0, None,
     "write domestic templates in simplified Chinese; found traditional characters 請."),
    ("您的订单已发货，领取优惠券请点击", 1, None,
     "a notification template may not carry marketing content (优惠); apply for a promotional "
     "template (type 2)."),
    ("您的验证码为${code}，注册即送红包", 0, None,
     "a verification-code template may not carry marketing content (红包); apply for a "
     "promotional template (type 2)."),
    ("您的订单已发货，拒收请回复R", 1, None,
     "a notification template may not contain opt-out text such as 拒收请回复R; that marks a "
     "promotional message."),
    ("全场八折优惠，欢迎选购", 2, None,
     "a promotional template must end with an opt-out text such as 拒收请回复R or 回T退订."),
    ("您本次登录的密码为${code}", 0, None,
     "a verification-code template must say what it sends: include 验证码, 注册码, 校验码 or "
     "动态码."),
    ("您的验证码为${code}，订单${order}", 0, None,
     "a verification-code template must have exactly one variable, the code; it has 2."),
    (OTP, 0, {"code": "money"}, NOT_OTP_ATTRIBUTE + "."),
    (OTP, 0, {}, "TemplateRule gives no attribute for code; declare an attribute for every "
                 "variable."),
    (NOTICE, 1, {}, "TemplateRule gives no attribute for name, order; declare an attribute for "
                    "every variable."),
    (NOTICE, 1, {"name": "name", "order": "time", "extra": "time", "more": "time"},
     "TemplateRule names extra, more, which the content does not use."),
    (NOTICE, 1, {"name": "digits", "order": "money2"},
     "TemplateRule uses unknown attributes (digits, money2); use characterWithNumber, "
     "characterWithNumber2, link_param, money, name, numberCaptcha, other_number2, "
     "phone_number2, time."),
    (NOTICE, 1, "name",
     "TemplateRule must be a JSON object mapping each variable to its attribute."),
])
def test_the_reviewer_names_each_template_problem_exactly(content, template_type, rule, reason):
    assert review_template(content, template_type, rule=rule) == review_rules.Decision(False,
                                                                                      reason)


def test_an_otp_only_signature_is_told_to_relate_a_general_one():
    assert review_template(NOTICE, 1, sign_type_allows=False) == review_rules.Decision(
        False, "the related signature is for verification codes only (SignType 0) and cannot "
               "send this template type; relate a general signature.")


@pytest.mark.parametrize("content", ["X光检查报告已出，请到门诊领取。", "您预约的体检项目为胸部X"])
def test_letters_at_the_ends_of_a_template_are_no_brackets(content):
    assert review_template(content, 1) == review_rules.APPROVED
