import pytest
from hypothesis import given
from hypothesis import strategies as st

from pigeon.core.errors import PigeonError
from pigeon.core.templates import render, variables


@pytest.mark.parametrize(("content", "names"), [
    ("您的验证码为${code}，5分钟内有效。", ["code"]),
    ("尊敬的${name}，您的订单${order_no}已发货，${name}请注意查收。", ["name", "order_no"]),
    ("${b}${a}${b}", ["b", "a"]),
    ("没有变量的通知", []),
    ("价格$5，{备注}", []),           # a lone $ or brace is text
    ("$${code}", ["code"]),
    ("${Code2}与${code2}", ["Code2", "code2"]),  # names are case-sensitive
    ("${1}", ["1"]),
])
def test_it_lists_variables_in_order_of_first_appearance(content, names):
    assert variables(content) == names


@pytest.mark.parametrize(("content", "complaint"), [
    ("验证码${}", "malformed"),
    ("订单${order-id}", "malformed"),
    ("尊敬的${名字}", "malformed"),
    ("尊敬的${ name }", "malformed"),
    ("验证码${code", "unclosed"),
    ("${a${b}}", "malformed"),
])
def test_it_rejects_malformed_placeholders(content, complaint):
    with pytest.raises(PigeonError) as raised:
        variables(content)
    assert raised.value.code == "isv.INVALID_PARAMETERS"
    assert complaint in raised.value.message


def test_a_placeholder_complaint_quotes_it_and_shows_the_right_form():
    with pytest.raises(PigeonError) as raised:
        variables("验证码${code")
    assert raised.value.message == ("TemplateContent has an unclosed placeholder '${code': "
                                    "write variables as ${name}.")
    with pytest.raises(PigeonError) as raised:
        variables("订单${order-id}")
    assert raised.value.message == (
        "TemplateContent placeholder '${order-id}' is malformed: a variable name must be one or "
        "more ASCII letters, digits or underscores, as in ${code}.")


@pytest.mark.parametrize(("content", "values", "text"), [
    ("您的验证码为${code}。", {"code": "123456"}, "您的验证码为123456。"),
    ("${name}您好，${name}", {"name": "张三"}, "张三您好，张三"),
    ("订单${order}已发货", {"order": "A1", "unused": "x"}, "订单A1已发货"),
    ("原样${a}", {"a": "${b}", "b": "不展开"}, "原样${b}"),
    ("固定文本", {}, "固定文本"),
    ("空值${a}。", {"a": ""}, "空值。"),
])
def test_it_renders_values_in_one_pass(content, values, text):
    assert render(content, values) == text


@pytest.mark.parametrize(("values", "code", "names"), [
    ({}, "isv.TEMPLATE_MISSING_PARAMETERS", "${code}"),
    ({"code": 123456}, "isv.INVALID_JSON_PARAM", "'code'"),
    ({"code": None}, "isv.INVALID_JSON_PARAM", "'code'"),
])
def test_it_refuses_to_render_without_string_values(values, code, names):
    with pytest.raises(PigeonError) as raised:
        render("您的验证码为${code}。", values)
    assert raised.value.code == code
    assert names in raised.value.message


def test_a_value_that_is_no_string_is_named_with_its_json_type():
    with pytest.raises(PigeonError, match=r"got int 123456\.$"):
        render("您的验证码为${code}。", {"code": 123456})


# Surviving mutants, explained (scripts/mutation core templates): variables() calling
# setdefault(name) without its None (the default is None) and render() starting at position
# None instead of 0 (content[None:i] is content[0:i]) change nothing.


@given(st.text(max_size=60))
def test_variables_never_fails_but_with_a_coded_error(content):
    try:
        names = variables(content)
    except PigeonError as error:
        assert error.code == "isv.INVALID_PARAMETERS"
    else:
        rendered = render(content, {name: f"<{name}>" for name in names})
        assert "${" not in rendered  # every placeholder was replaced
