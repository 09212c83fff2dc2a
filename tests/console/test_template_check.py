"""The template form's check as you type: what CreateSmsTemplate refuses at once and what the
automatic reviewer would reject, as a list of problems."""

from __future__ import annotations

from pigeon.console.tenant import check_template_text


def test_a_good_verification_code_template_has_no_problem():
    found = check_template_text("登录验证码", "您的验证码为${code}，5分钟内有效。", 0,
                                '{"code":"numberCaptcha"}')
    assert found == {"ok": True, "problems": [], "variables": ["code"]}


def test_signature_brackets_and_a_missing_rule_are_both_named():
    found = check_template_text("", "【云雀】您的订单${order}已发货", 1, "")
    assert not found["ok"]
    assert any("TemplateRule" in p for p in found["problems"])
    assert any("【 and 】" in p for p in found["problems"])


def test_a_rule_that_is_not_json_and_a_promotion_without_opt_out():
    found = check_template_text("会员日", "全场八折，欢迎选购", 2, "{oops")
    assert any("JSON object" in p for p in found["problems"])
    assert any("opt-out" in p for p in found["problems"])


def test_a_malformed_placeholder_is_reported_not_raised():
    found = check_template_text("x", "您的订单${order已发货", 1, "")
    assert not found["ok"] and found["variables"] == []
