"""The template actions that change something, each through an official SDK: it succeeds and
the change shows in what the tenant reads afterwards.  (The whole workflow is in
test_workflow.py; the refusals are in test_isolation.py.)"""

from __future__ import annotations

from dataclasses import replace

import pytest
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_util.models import RuntimeOptions
from aliyunsdkdysmsapi.request.v20170525 import (
    AddSmsTemplateRequest,
    ModifySmsTemplateRequest,
    QuerySmsTemplateRequest,
)

from tests.support import workflow

RT = RuntimeOptions()
SIGN = "云雀科技"


@pytest.fixture
def settings(settings):
    """Reviews wait for an operator, so that a test chooses what is rejected."""
    return replace(settings, review_mode="manual")


@pytest.fixture
def signature(pigeon, core_sdk) -> str:
    """An approved signature (with its approved qualification)."""
    answer = workflow.submit_qualification(core_sdk, pigeon)
    assert answer["Code"] == "OK", answer
    workflow.decide(pigeon, "qualification", answer["Data"], approved=True)
    created = workflow.create_signature(core_sdk, answer["Data"], SIGN)
    assert created["Code"] == "OK", created
    workflow.decide(pigeon, "signature", SIGN, approved=True)
    return SIGN


def test_update_sms_template_changes_a_rejected_template_and_sends_it_to_review_again(
        pigeon, sdk, core_sdk, signature):
    created = workflow.create_template(core_sdk, signature)
    assert created["Code"] == "OK", created
    code = created["TemplateCode"]
    workflow.decide(pigeon, "template", code, approved=False, reason="请说明验证码用途")

    answer = sdk.update_sms_template_with_options(models.UpdateSmsTemplateRequest(
        template_code=code, template_name="注册验证码", template_type=0,
        template_content="您正在注册云雀会员，验证码为${code}，10分钟内有效。",
        template_rule='{"code":"numberCaptcha"}', related_sign_name=signature,
        remark="新用户注册"), RT).body

    assert answer.code == "OK", answer.message
    assert answer.template_code == code and answer.order_id != created["OrderId"]
    got = sdk.get_sms_template_with_options(models.GetSmsTemplateRequest(template_code=code),
                                            RT).body
    assert (got.template_name, got.template_content, got.remark) == \
        ("注册验证码", "您正在注册云雀会员，验证码为${code}，10分钟内有效。", "新用户注册")
    assert (got.template_status, got.order_id, got.audit_info.reject_info) == \
        ("0", answer.order_id, "")
    [item] = sdk.query_sms_template_list_with_options(models.QuerySmsTemplateListRequest(),
                                                      RT).body.sms_template_list
    assert (item.audit_status, item.template_content) == \
        ("AUDIT_STATE_INIT", "您正在注册云雀会员，验证码为${code}，10分钟内有效。")
    assert workflow.history(pigeon, "template", code) == ["rejected", "pending"]


def test_modify_sms_template_changes_a_rejected_legacy_template(pigeon, core_sdk, signature):
    add = AddSmsTemplateRequest.AddSmsTemplateRequest()
    add.set_TemplateType(1)
    add.set_TemplateName("发货通知")
    add.set_TemplateContent("您的订单${order}已发货。")
    add.set_Remark("订单发货提醒")
    code = core_sdk.typed(add)["TemplateCode"]
    workflow.decide(pigeon, "template", code, approved=False, reason="请写明快递公司")

    modify = ModifySmsTemplateRequest.ModifySmsTemplateRequest()
    modify.set_TemplateCode(code)
    modify.set_TemplateType(1)
    modify.set_TemplateName("发货通知")
    modify.set_TemplateContent("您的订单${order}已由顺丰发货，请注意查收。")
    modify.set_Remark("订单发货提醒，含快递公司")
    answer = core_sdk.typed(modify)

    assert answer["Code"] == "OK" and answer["TemplateCode"] == code, answer
    query = QuerySmsTemplateRequest.QuerySmsTemplateRequest()
    query.set_TemplateCode(code)
    shown = core_sdk.typed(query)
    assert (shown["TemplateStatus"], shown["Reason"], shown["TemplateContent"]) == \
        (0, "", "您的订单${order}已由顺丰发货，请注意查收。")
    assert workflow.history(pigeon, "template", code) == ["rejected", "pending"]


def test_delete_sms_template_removes_the_template(pigeon, sdk, core_sdk, signature):
    created = workflow.create_template(core_sdk, signature)
    assert created["Code"] == "OK", created
    code = created["TemplateCode"]
    workflow.decide(pigeon, "template", code, approved=True)

    answer = sdk.delete_sms_template_with_options(
        models.DeleteSmsTemplateRequest(template_code=code), RT).body

    assert (answer.code, answer.template_code) == ("OK", code), answer.message
    gone = sdk.get_sms_template_with_options(models.GetSmsTemplateRequest(template_code=code),
                                             RT).body
    assert gone.code == "isv.SMS_TEMPLATE_ILLEGAL"
    listed = sdk.query_sms_template_list_with_options(models.QuerySmsTemplateListRequest(),
                                                      RT).body
    assert (listed.total_count, listed.sms_template_list) == (0, [])
