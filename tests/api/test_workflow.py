"""The seed document's workflow, end to end with the official SDKs: qualification →
signature → template, each reviewed, then carrier registration."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_util.models import RuntimeOptions
from aliyunsdkdysmsapi.request.v20170525 import (
    AddSmsSignRequest,
    AddSmsTemplateRequest,
    DeleteSmsSignRequest,
    QuerySmsSignRequest,
    QuerySmsTemplateRequest,
)

from pigeon.app import Pigeon
from pigeon.services import reports, review, signatures
from tests.support import workflow
from tests.support.images import png_bytes
from tests.support.sdk import CoreClient, tea_client
from tests.support.server import LiveServer

RT = RuntimeOptions()


@pytest.mark.parametrize("flavour", ["v3", "v1"])
def test_a_tenant_takes_a_qualification_signature_and_template_through_review(
        pigeon, server, tenant, core_sdk, flavour):
    sdk = tea_client(server.endpoint, tenant, v1=flavour == "v1")
    qualification_id = workflow.approved_qualification(core_sdk, pigeon)

    created = sdk.create_sms_sign_with_options(models.CreateSmsSignRequest(
        sign_name="云雀科技", sign_source=0, qualification_id=int(qualification_id), sign_type=1,
        remark="会员通知", third_party=False), RT).body
    assert created.code == "OK", created.message
    assert created.sign_name == "云雀科技" and created.order_id.isdigit()

    sign = sdk.get_sms_sign_with_options(models.GetSmsSignRequest(sign_name="云雀科技"), RT).body
    assert sign.sign_status == 1  # approved by the rules reviewer at once
    assert sign.qualification_id == int(qualification_id)
    assert sign.order_id == created.order_id
    registrations = {d.operator_code: d.register_status for d in sign.sign_isp_register_detail_list}
    assert registrations == {"mobile": 3, "unicom": 3, "telecom": 3}

    template = sdk.create_sms_template_with_options(models.CreateSmsTemplateRequest(
        template_name="登录验证码", template_type=0, related_sign_name="云雀科技",
        template_content="您的验证码为${code}，5分钟内有效，请勿泄露于他人。",
        template_rule='{"code":"numberCaptcha"}', remark="用户登录"), RT).body
    assert template.code == "OK", template.message
    assert template.template_code.startswith("SMS_")

    got = sdk.get_sms_template_with_options(
        models.GetSmsTemplateRequest(template_code=template.template_code), RT).body
    assert got.template_status == "1" and got.template_type == "0"
    assert got.related_sign_name == "云雀科技"
    assert got.variable_attribute == '{"code": "numberCaptcha"}'

    listed = sdk.query_sms_template_list_with_options(models.QuerySmsTemplateListRequest(), RT)
    item = listed.body.sms_template_list[0]
    assert (item.audit_status, item.template_type, item.outer_template_type) == \
        ("AUDIT_STATE_PASS", 2, 0)

    # Each decision is queued as a report for the tenant, in the documented push shape.
    events = pigeon.db.read_sync(reports.queued, tenant.account_id)
    kinds = [(e["type"], e["payload"].get("sign_status") or e["payload"].get("template_status"))
             for e in events]
    assert kinds == [("SignSmsReport", "approved"), ("TemplateSmsReport", "approved")]
    assert events[0]["payload"]["orderId"] == created.order_id


def test_a_template_cannot_be_applied_for_before_its_signature_is_approved(
        settings, tenant, tmp_path):
    manual = Pigeon(settings.__class__(**{**settings.__dict__, "review_mode": "manual"}))
    live = LiveServer(manual).start()
    try:
        core = CoreClient(live.endpoint, tenant)
        sdk = tea_client(live.endpoint, tenant)
        answer = workflow.submit_qualification(core, manual)
        assert answer["Code"] == "OK"
        detail = core.common("QuerySingleSmsQualification",
                             {"QualificationGroupId": answer["Data"]})
        assert detail["Data"]["State"] == "INT"  # waiting for an operator
        manual.db.write_sync(review.decide_by_name, manual.policy, "qualification",
                             answer["Data"], approved=True, reason="", decided_by="operator:t",
                             now=manual.now())

        assert workflow.create_signature(core, answer["Data"])["Code"] == "OK"
        refused = workflow.create_template(core, "云雀科技")
        assert refused["Code"] == "isv.SMS_SIGNATURE_ILLEGAL"
        assert "not approved" in refused["Message"]

        manual.db.write_sync(review.decide_by_name, manual.policy, "signature", "云雀科技",
                             approved=False, reason="签名与企业名称不符", decided_by="operator:t",
                             now=manual.now())
        sign = sdk.get_sms_sign_with_options(
            models.GetSmsSignRequest(sign_name="云雀科技"), RT).body
        assert sign.sign_status == 2
        assert sign.audit_info.reject_info == "签名与企业名称不符"
        assert sign.sign_isp_register_detail_list == []

        again = workflow.create_signature(core, answer["Data"])  # same name: still exists
        assert again["Code"] == "isv.SIGN_NAME_ILLEGAL"
        updated = core.common("UpdateSmsSign", {"SignName": "云雀科技", "SignSource": "0",
                                                "QualificationId": answer["Data"],
                                                "Remark": "补充说明"})
        assert updated["Code"] == "OK"
        listed = core.common("QuerySmsSignList", {})
        assert listed["SmsSignList"][0]["AuditStatus"] == "AUDIT_STATE_INIT"
        history = manual.db.read_sync(review.describe, "signature", "云雀科技")["history"]
        assert [h["status"] for h in history] == ["rejected", "pending"]
        assert history[0]["decided_by"] == "operator:t"
    finally:
        live.stop()
        manual.close()


def test_the_legacy_sdk_applies_with_proof_files_and_no_qualification(pigeon, server, tenant):
    core = CoreClient(server.endpoint, tenant)
    request = AddSmsSignRequest.AddSmsSignRequest()
    request.set_SignName("云雀商城")
    request.set_SignSource(4)
    request.set_Remark("电商店铺: a+b=c & d/e ~*")
    request.set_SignFileLists([{"FileContents": base64.b64encode(png_bytes()).decode(),
                                "FileSuffix": "png"}])
    assert core.typed(request)["SignName"] == "云雀商城"

    query = QuerySmsSignRequest.QuerySmsSignRequest()
    query.set_SignName("云雀商城")
    answer = core.typed(query)
    assert answer["SignStatus"] == 1, answer
    details = pigeon.db.read_sync(review.describe, "signature", "云雀商城")
    assert details["files"][0]["suffix"] == "png"  # kept for reviewers

    template = AddSmsTemplateRequest.AddSmsTemplateRequest()
    template.set_TemplateType(1)
    template.set_TemplateName("发货通知")
    template.set_TemplateContent("您的订单${order}已发货，请注意查收。")
    template.set_Remark("订单发货提醒")
    code = core.typed(template)["TemplateCode"]
    query = QuerySmsTemplateRequest.QuerySmsTemplateRequest()
    query.set_TemplateCode(code)
    answer = core.typed(query)
    assert (answer["TemplateStatus"], answer["TemplateType"]) == (1, 1)

    delete = DeleteSmsSignRequest.DeleteSmsSignRequest()
    delete.set_SignName("云雀商城")
    assert core.typed(delete)["SignName"] == "云雀商城"


def test_a_proof_file_that_is_not_the_image_it_claims_is_refused(server, tenant):
    core = CoreClient(server.endpoint, tenant)
    request = AddSmsSignRequest.AddSmsSignRequest()
    request.set_SignName("云雀商城")
    request.set_SignSource(4)
    request.set_Remark("电商店铺")
    request.set_SignFileLists([{"FileContents": base64.b64encode(b"not an image").decode(),
                                "FileSuffix": "png"}])
    assert core.typed(request)["Code"] == "isv.INVALID_PARAMETERS"


def test_carrier_registration_waits_for_the_simulated_carriers(settings, tenant):
    slow = Pigeon(settings.__class__(**{**settings.__dict__,
                                        "registration_delay": timedelta(minutes=10)}))
    live = LiveServer(slow).start()
    try:
        core = CoreClient(live.endpoint, tenant)
        qualification_id = workflow.approved_qualification(core, slow)
        assert workflow.create_signature(core, qualification_id)["Code"] == "OK"
        detail = core.common("GetSmsSign", {"SignName": "云雀科技"})
        assert {d["RegisterStatus"] for d in detail["SignIspRegisterDetailList"]} == {-1}
        assert detail["RegisterResult"] == -1

        later = slow.now() + timedelta(minutes=11)
        assert slow.db.write_sync(signatures.complete_due_registrations, slow.policy, later) == 3
        detail = core.common("GetSmsSign", {"SignName": "云雀科技"})
        assert {d["RegisterStatus"] for d in detail["SignIspRegisterDetailList"]} == {3}
        assert detail["RegisterResult"] == 1

        slow.db.write_sync(signatures.set_registration, None, "云雀科技", "unicom", "failed",
                           "签名与资质不符", slow.now())
        detail = core.common("GetSmsSign", {"SignName": "云雀科技"})
        unicom = [d for d in detail["SignIspRegisterDetailList"] if d["OperatorCode"] == "unicom"]
        assert unicom[0]["RegisterStatus"] == 0
        assert unicom[0]["RegisterStatusReasons"][0]["ReasonDescList"] == ["签名与资质不符"]
        assert detail["RegisterResult"] == 0
    finally:
        live.stop()
        slow.close()


def test_a_signature_under_review_cannot_be_deleted_or_modified(settings, tenant):
    manual = Pigeon(settings.__class__(**{**settings.__dict__, "review_mode": "manual"}))
    live = LiveServer(manual).start()
    try:
        core = CoreClient(live.endpoint, tenant)
        answer = workflow.submit_qualification(core, manual)
        manual.db.write_sync(review.decide_by_name, manual.policy, "qualification",
                             answer["Data"], approved=True, reason="", decided_by="op",
                             now=manual.now())
        workflow.create_signature(core, answer["Data"])
        assert core.common("DeleteSmsSign", {"SignName": "云雀科技"})["Code"] == \
            "isv.ERROR_SIGN_NOT_DELETE"
        assert core.common("UpdateSmsSign", {"SignName": "云雀科技", "SignSource": "0",
                                             "QualificationId": answer["Data"]})["Code"] == \
            "isv.ERROR_SIGN_NOT_MODIFY"
    finally:
        live.stop()
        manual.close()
