import pytest
from hypothesis import given
from hypothesis import strategies as st

from pigeon.core.errors import PigeonError
from pigeon.core.variable_values import (
    ATTRIBUTES,
    check_variable_value,
    contains_url,
    is_known_attribute,
)

ILLEGAL = "isv.TEMPLATE_PARAMS_ILLEGAL"
LENGTH = "isv.PARAM_LENGTH_LIMIT"
URL = "isv.PARAM_NOT_SUPPORT_URL"

# Surviving mutants, explained (scripts/mutation core variable_values):
# - check_variable_value: `mobile = None` for phone_number2: every 11-digit mobile number is
#   also a landline of 11 digits (5 to 13 digits, at most 15 characters), so the mobile test
#   never decides alone; no value is accepted or refused differently.


@pytest.mark.parametrize(("attribute", "value", "code"), [
    # numberCaptcha: 4–6 digits [DOC]
    ("numberCaptcha", "1234", None),
    ("numberCaptcha", "123456", None),
    ("numberCaptcha", "123", ILLEGAL),
    ("numberCaptcha", "1234567", ILLEGAL),
    ("numberCaptcha", "12a4", ILLEGAL),
    ("numberCaptcha", "１２３４", ILLEGAL),   # full-width digits
    ("numberCaptcha", "", ILLEGAL),
    # characterWithNumber2 / characterWithNumber: 4–6 letters or digits [DOC]
    ("characterWithNumber2", "a1B2", None),
    ("characterWithNumber2", "abcdef", None),
    ("characterWithNumber2", "123456", None),
    ("characterWithNumber2", "ab-12", ILLEGAL),
    ("characterWithNumber2", "abcdefg", ILLEGAL),
    ("characterWithNumber", "X9Y8", None),
    ("characterWithNumber", "验证码12", ILLEGAL),
    # phone_number2: mobile or landline [DOC]
    ("phone_number2", "13800138000", None),
    ("phone_number2", "0571-82123456", None),
    ("phone_number2", "400-123-1234", None),
    ("phone_number2", "10086", None),
    ("phone_number2", "95679", None),
    ("phone_number2", "1008", ILLEGAL),             # 4 digits
    ("phone_number2", "0571-8212-3456-789", ILLEGAL),  # over 15 characters
    ("phone_number2", "23800138000123", ILLEGAL),   # 14 digits
    ("phone_number2", "0571821234567", None),       # 13 digits
    ("phone_number2", "0571-8212-34567", None),     # 15 characters, 13 of them digits
    ("phone_number2", "0571-8212-3456-7", ILLEGAL),  # 16 characters, 13 of them digits
    ("phone_number2", "-10086", ILLEGAL),
    ("phone_number2", "+8613800138000", ILLEGAL),
    # time
    ("time", "2025-03-08", None),
    ("time", "20250308", None),
    ("time", "2025/03/08 14:30:00", None),
    ("time", "14:30", None),
    ("time", "2025年3月8日16时24分", None),
    ("time", "下午3点", None),
    ("time", "明天上午", None),
    ("time", "2025_03_08", ILLEGAL),
    ("time", "尽快", ILLEGAL),
    ("time", "", LENGTH),
    # money
    ("money", "128.50", None),
    ("money", "1,280元", None),
    ("money", "￥99", None),
    ("money", "-20.5", None),
    ("money", "3万元", None),
    ("money", "壹佰元整", None),
    ("money", "一百元", None),
    ("money", "很多钱", ILLEGAL),
    ("money", "12.5.3", ILLEGAL),
    # name
    ("name", "张三", None),
    ("name", "张**", None),
    ("name", "欧阳·娜娜", None),
    ("name", "Li Lei", None),
    ("name", "O'Brien", None),
    ("name", "张三3", ILLEGAL),
    ("name", "***", ILLEGAL),
    ("name", "张" * 36, LENGTH),
    # other_number2
    ("other_number2", "SF1234567890", None),
    ("other_number2", "2025-0308-001", None),
    ("other_number2", "A_1*", None),
    ("other_number2", "订单123", ILLEGAL),
    ("other_number2", "12 34", ILLEGAL),
    ("other_number2", "1" * 36, LENGTH),
    # link_param: the end of a link the template writes (a short URL's code)
    ("link_param", "Ab3dEf7h", None),
    ("link_param", "order/42?from=sms&x=%20", None),
    ("link_param", "订单42", ILLEGAL),
    ("link_param", "a b", ILLEGAL),
    ("link_param", "a" * 36, LENGTH),
    ("link_param", "https://s.example.cn/s/Ab3dEf7h", URL),
    # no attribute or an unknown one: 1–35 characters, no URL
    (None, "杭州市西湖区文三路90号", None),
    (None, "x", None),
    (None, "x" * 35, None),
    (None, "x" * 36, LENGTH),
    (None, "", LENGTH),
    ("unknownAttribute", "随便什么", None),
    # URLs are refused whatever the attribute [DOC]
    (None, "https://example.com/a", URL),
    (None, "详见www.example.com", URL),
    (None, "访问yunque.cn领取", URL),
    ("name", "yunque.com", URL),
    ("other_number2", "a.b.top", URL),
    (None, "版本2.5.1", None),
    (None, "Mr.Li", None),
])
def test_it_checks_a_value_against_its_attribute(attribute, value, code):
    if code is None:
        check_variable_value(attribute, value)
        return
    with pytest.raises(PigeonError) as raised:
        check_variable_value(attribute, value)
    assert raised.value.code == code
    assert repr(value) in raised.value.message or "characters long" in raised.value.message


def test_it_refuses_a_value_that_is_not_a_string():
    with pytest.raises(PigeonError) as raised:
        check_variable_value("numberCaptcha", 123456)
    assert raised.value.code == "isv.INVALID_JSON_PARAM"


@pytest.mark.parametrize(("text", "url"), [
    ("http://a.b", True), ("HTTPS://X.CN", True), ("www.a", True), ("点击t.cn/abc", True),
    ("yunque.com.cn", True), ("3.14", False), ("a.b", False), ("e-mail", False),
])
def test_it_spots_links(text, url):
    assert contains_url(text) is url


@given(st.sampled_from(sorted(ATTRIBUTES) + [None, "whatever"]), st.text(max_size=50))
def test_checking_a_value_fails_only_with_a_send_time_code(attribute, value):
    try:
        check_variable_value(attribute, value)
    except PigeonError as error:
        assert error.code in {ILLEGAL, LENGTH, URL}


@pytest.mark.parametrize(("attribute", "known"), [
    ("numberCaptcha", True), ("link_param", True), ("money", True),
    ("whatever", False), ("", False), (None, False), (["money"], False),
])
def test_only_the_documented_attribute_names_are_known(attribute, known):
    assert is_known_attribute(attribute) is known


def illegal(attribute: str, value: str, rule: str) -> tuple:
    return (attribute, value, ILLEGAL,
            f"The value {value!r} does not fit the variable attribute {attribute}: {rule}.")


# The messages are the API's answer (``Message``): each says what the attribute accepts.
@pytest.mark.parametrize(("attribute", "value", "code", "message"), [
    illegal("numberCaptcha", "12a4", "a verification code of 4 to 6 digits"),
    illegal("characterWithNumber2", "ab-12", "a code of 4 to 6 ASCII letters or digits"),
    illegal("characterWithNumber", "ab-12", "a code of 4 to 6 ASCII letters or digits"),
    illegal("phone_number2", "1008", "an 11-digit mobile number starting with 1, or a landline "
            "of 5 to 13 digits and hyphens (at most 15 characters)"),
    illegal("time", "尽快", "a date or time such as 2025-03-08, 20250308, 14:30, 2025年3月8日 "
            "or 下午3点"),
    illegal("money", "很多钱", "an amount such as 128.50, 1,280元 or 壹佰元整"),
    illegal("name", "张三3", "a person's name: letters, spaces, · . - ' and * for masking, no "
            "digits or other symbols"),
    illegal("link_param", "a b", "the end of a link: ASCII letters, digits and - _ . ~ / ? = "
            "& % +, such as a short URL's code"),
    illegal("other_number2", "12 34", "a number such as an order or tracking number: ASCII "
            "letters, digits, -, _ and *"),
    ("name", "张" * 36, LENGTH, "A value for attribute name must be 1 to 35 characters long, "
     "got 36."),
    ("time", "", LENGTH, "A value for attribute time must be 1 to 35 characters long, got 0."),
    (None, "x" * 36, LENGTH, "A value for a variable without a declared attribute must be 1 "
     "to 35 characters long, got 36."),
    ("", "", LENGTH, "A value for a variable without a declared attribute must be 1 to 35 "
     "characters long, got 0."),
    ("name", "yunque.com", URL, "The value 'yunque.com' contains a link; URLs are not allowed "
     "in variables, put a fixed link in the template text instead."),
    ("numberCaptcha", 123456, "isv.INVALID_JSON_PARAM",
     "A TemplateParam value must be a JSON string, got 123456."),
])
def test_a_refusal_says_what_the_variable_accepts(attribute, value, code, message):
    with pytest.raises(PigeonError) as raised:
        check_variable_value(attribute, value)
    assert (raised.value.code, raised.value.message) == (code, message)
