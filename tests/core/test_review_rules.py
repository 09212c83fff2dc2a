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
                                  "客服短信通知", "科技集团", "安全中心"])
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
