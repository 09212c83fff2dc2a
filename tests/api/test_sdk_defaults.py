"""The seed's workflow through the current Python SDK with every optional field left at its
default: what the SDK sends for a field nobody set must mean "not given".

``Request().from_map({...})`` — how the SDK builds requests from a dict, and what code
generated from Alibaba's API explorer does — leaves every list it was not given as ``[]``,
and the SDK then sends ``OtherFiles=[]``; a plain constructor leaves them ``None`` and sends
nothing.  Both must work, with V3 and V1 signatures.
"""

from __future__ import annotations

import re

import pytest
from alibabacloud_dysmsapi20170525 import models

from pigeon.services import billing, handsets
from tests.support import workflow
from tests.support.sdk import tea_client

PHONE = "13800138000"
LONG_TERM = "2020-01-01~2099-12-31"
QUALIFICATION = {
    "QualificationName": "云雀科技资质", "UseBySelf": True, "WhetherShare": False,
    "CompanyName": "杭州云雀科技有限公司", "CompanyType": "COMPANY",
    "OrganizationCode": "91330106MA2CFX4L75", "BussinessLicenseExpDate": LONG_TERM,
    "LegalPersonName": "张三", "LegalPersonIDCardType": "identityCard",
    "LegalPersonIDCardNo": "11010519900307451X", "LegalPersonIdCardEffTime": LONG_TERM,
    "AdminName": "李四", "AdminIDCardType": "identityCard", "AdminIDCardNo": "330106198512310026",
    "AdminIDCardExpDate": LONG_TERM, "AdminIDCardFrontFace": "1/admin-front.png",
    "AdminIDCardPic": "1/admin-back.png", "AdminPhoneNo": PHONE,
}


def from_map(request_class, **wire):
    return request_class().from_map(wire)


def plain(request_class, **wire):
    """The same request as the constructor makes it: fields not given stay ``None``."""
    made = request_class().from_map(wire)
    for attribute, value in vars(made).items():
        if value == []:
            setattr(made, attribute, None)
    return made


@pytest.mark.parametrize("build", [from_map, plain], ids=["from_map", "constructor"])
@pytest.mark.parametrize("flavour", ["v3", "v1"])
def test_the_seed_workflow_with_every_optional_field_at_its_default(
        pigeon, server, tenant, flavour, build):
    sdk = tea_client(server.endpoint, tenant, v1=flavour == "v1")

    def ok(answer):
        body = answer.body
        assert body.code == "OK", body.message
        return body

    ok(sdk.required_phone_code(build(models.RequiredPhoneCodeRequest, PhoneNo=PHONE)))
    text = pigeon.db.read_sync(handsets.inbox, PHONE)[0]["text"]
    code = re.search(r"验证码为(\d{6})", text).group(1)
    assert ok(sdk.valid_phone_code(build(models.ValidPhoneCodeRequest, PhoneNo=PHONE,
                                         CertifyCode=code))).data is True

    submitted = ok(sdk.submit_sms_qualification(build(
        models.SubmitSmsQualificationRequest, CertifyCode=code, **QUALIFICATION)))
    qualification_id = int(submitted.data)
    records = ok(sdk.query_sms_qualification_record(
        build(models.QuerySmsQualificationRecordRequest)))
    assert [r.group_id for r in records.data.list] == [qualification_id]
    single = ok(sdk.query_single_sms_qualification(build(
        models.QuerySingleSmsQualificationRequest, QualificationGroupId=qualification_id)))
    assert single.data.state == "PASSED" and single.data.other_files == []

    sign = ok(sdk.create_sms_sign(build(
        models.CreateSmsSignRequest, SignName="云雀科技", SignSource=0,
        QualificationId=qualification_id, SignType=1, Remark="会员通知")))
    assert ok(sdk.get_sms_sign(build(models.GetSmsSignRequest,
                                     SignName=sign.sign_name))).sign_status == 1
    assert len(ok(sdk.query_sms_sign_list(build(models.QuerySmsSignListRequest)))
               .sms_sign_list) == 1

    template = ok(sdk.create_sms_template(build(
        models.CreateSmsTemplateRequest, TemplateName="登录验证码", TemplateType=0,
        TemplateContent="您的验证码为${code}，5分钟内有效，请勿泄露于他人。",
        RelatedSignName="云雀科技", TemplateRule='{"code":"numberCaptcha"}', Remark="用户登录")))
    got = ok(sdk.get_sms_template(build(models.GetSmsTemplateRequest,
                                        TemplateCode=template.template_code)))
    assert got.template_status == "1"
    assert len(ok(sdk.query_sms_template_list(build(models.QuerySmsTemplateListRequest)))
               .sms_template_list) == 1

    pigeon.db.write_sync(billing.topup, tenant.account_id, 10_000, pigeon.now(), "test money")
    sent = ok(sdk.send_sms(build(
        models.SendSmsRequest, PhoneNumbers="13900139000", SignName="云雀科技",
        TemplateCode=template.template_code, TemplateParam='{"code":"123456"}')))
    assert sent.biz_id
    batch = ok(sdk.send_batch_sms(build(
        models.SendBatchSmsRequest, PhoneNumberJson='["13900139001"]',
        SignNameJson='["云雀科技"]', TemplateCode=template.template_code,
        TemplateParamJson='[{"code":"654321"}]')))
    assert batch.biz_id

    today = pigeon.calendar.local_date(pigeon.now()).strftime("%Y%m%d")
    details = ok(sdk.query_send_details(build(
        models.QuerySendDetailsRequest, PhoneNumber="13900139000", SendDate=today,
        PageSize=10, CurrentPage=1)))
    assert [d.content for d in details.sms_send_detail_dtos.sms_send_detail_dto] == \
        ["【云雀科技】您的验证码为123456，5分钟内有效，请勿泄露于他人。"]
    statistics = ok(sdk.query_send_statistics(build(
        models.QuerySendStatisticsRequest, IsGlobe=1, StartDate=today, EndDate=today,
        PageIndex=1, PageSize=10)))
    assert statistics.data.total_size == 1


def test_the_empty_values_of_optional_fields_leave_nothing_behind(pigeon, server, tenant,
                                                                  core_sdk):
    """``0`` for an id, ``[]`` for a list, ``""`` for text: not given, so neither stored nor
    shown, and a filter or a page number of 0 is no filter and the first page."""
    sdk = tea_client(server.endpoint, tenant)

    def ok(answer):
        assert answer.body.code == "OK", answer.body.message
        return answer.body

    qualification = int(workflow.approved_qualification(core_sdk, pigeon))
    ok(sdk.create_sms_sign(models.CreateSmsSignRequest(
        sign_name="云雀科技", sign_source=0, qualification_id=qualification, sign_type=1,
        authorization_letter_id=0, trademark_id=0, app_icp_record_id=0, more_data=[],
        apply_scene_content="", remark="")))
    sign = ok(sdk.get_sms_sign(models.GetSmsSignRequest(sign_name="云雀科技")))
    assert (sign.authorization_letter_id, sign.trademark_id, sign.app_icp_record_id) == (
        None, None, None)
    assert sign.file_url_list == [] and sign.sign_status == 1

    ok(sdk.create_sms_template(models.CreateSmsTemplateRequest(
        template_name="到货通知", template_type=1, template_content="您的包裹已到驿站，请及时取件。",
        related_sign_name="云雀科技", template_rule="", traffic_driving="[]", more_data=[],
        apply_scene_content="", remark="")))
    listed = ok(sdk.query_sms_template_list(models.QuerySmsTemplateListRequest(
        page_index=0, page_size=0)))
    assert (listed.current_page, listed.page_size) == (1, 10)
    assert [t.traffic_driving for t in listed.sms_template_list] == [""]

    records = ok(sdk.query_sms_qualification_record(models.QuerySmsQualificationRecordRequest(
        page_no=0, page_size=0, work_order_id=0, company_name="", state="")))
    assert [r.group_id for r in records.data.list] == [qualification]
