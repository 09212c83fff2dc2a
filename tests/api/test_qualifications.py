"""Qualifications end to end through the official SDKs: RequiredPhoneCode → the code in the
virtual handset → SubmitSmsQualification → review → the two query views, Update and Delete."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from alibabacloud_dysmsapi20170525 import models as dysms
from alibabacloud_tea_openapi.exceptions import ClientException
from aliyunsdkcore.acs_exception.exceptions import ServerException

from pigeon.app import Pigeon
from pigeon.services import handsets, review
from tests.conftest import make_tenant
from tests.support import workflow
from tests.support.sdk import tea_client
from tests.support.server import LiveServer

PHONE = "13800138000"
CREDIT_CODE = "91330106MA2CFX4L75"  # a valid unified social credit code
LEGAL_PERSON_ID = "11010519900307451X"  # valid resident ID numbers
ADMIN_ID = "330106198512310026"
LONG_TERM = "2020-01-01~2099-12-31"
EXPIRED = "2010-01-01~2020-12-31"


# -- helpers -------------------------------------------------------------------------------------

def request_code(client, pigeon: Pigeon, phone: str = PHONE) -> str:
    """RequiredPhoneCode, then read the code off the virtual handset like a person would."""
    answer = client.required_phone_code(dysms.RequiredPhoneCodeRequest(phone_no=phone))
    assert answer.body.code == "OK", answer.body.message
    assert answer.body.success is True
    latest = pigeon.db.read_sync(handsets.inbox, phone.removeprefix("+86"))[0]
    assert latest["sender"] == "Pigeon"
    return re.search(r"验证码为(\d{6})", latest["text"]).group(1)


def submission(code: str, **changes) -> dysms.SubmitSmsQualificationRequest:
    fields = dict(
        qualification_name="云雀科技资质", use_by_self=True, whether_share=False,
        company_name="杭州云雀科技有限公司", company_type="COMPANY",
        organization_code=CREDIT_CODE, bussiness_license_exp_date=LONG_TERM,
        business_license_pics=[dysms.SubmitSmsQualificationRequestBusinessLicensePics(
            license_pic="123456/licence.png", type="socialCreditLicense")],
        legal_person_name="张三", legal_person_idcard_type="identityCard",
        legal_person_idcard_no=LEGAL_PERSON_ID, legal_person_id_card_eff_time=LONG_TERM,
        admin_name="李四", admin_idcard_type="identityCard", admin_idcard_no=ADMIN_ID,
        admin_idcard_exp_date=LONG_TERM, admin_idcard_front_face="123456/admin-front.png",
        admin_idcard_pic="123456/admin-back.png", admin_phone_no=PHONE, certify_code=code,
        remark="请审核",
    )
    fields.update(changes)
    return dysms.SubmitSmsQualificationRequest(**fields)


def submit(client, pigeon: Pigeon, phone: str = PHONE, **changes):
    code = request_code(client, pigeon, phone)
    return client.submit_sms_qualification(submission(code, admin_phone_no=phone, **changes)).body


def single(client, group_id, order_id=None):
    return client.query_single_sms_qualification(dysms.QuerySingleSmsQualificationRequest(
        qualification_group_id=int(group_id), order_id=order_id)).body


def records(client, **filters):
    return client.query_sms_qualification_record(
        dysms.QuerySmsQualificationRecordRequest(**filters)).body


def decide(pigeon: Pigeon, ticket: int, *, approved: bool, reason: str = "") -> None:
    pigeon.db.write_sync(lambda conn: review.decide(
        conn, pigeon.policy, ticket, approved=approved, reason=reason, decided_by="operator",
        now=pigeon.now()))


@pytest.fixture
def manual(settings):
    """A second Pigeon on the same kind of database, reviewing by hand only."""
    instance = Pigeon(replace(settings, review_mode="manual"))
    live = LiveServer(instance).start()
    yield instance, tea_client(live.endpoint, make_tenant(instance))
    live.stop()
    instance.close()


# -- the happy path ------------------------------------------------------------------------------

def test_a_verified_submission_passes_review_at_once_in_rules_mode(sdk, pigeon):
    body = submit(sdk, pigeon)
    assert (body.code, body.success) == ("OK", True)
    assert isinstance(body.data, str) and body.data.isdigit()

    data = single(sdk, body.data).data
    assert data.state == "PASSED"
    assert data.qualification_group_id == int(body.data)
    assert isinstance(data.work_order_id, int)
    assert data.qualification_name == "云雀科技资质"
    assert data.company_name == "杭州云雀科技有限公司"
    assert (data.use_by_self, data.whether_share) == (True, False)
    assert (data.organization_code, data.eff_time_str) == (CREDIT_CODE, LONG_TERM)
    assert data.admin_phone_no == PHONE and data.admin_idcard_no == ADMIN_ID
    assert data.admin_idcard_front_face == "123456/admin-front.png"
    assert [(p.license_pic, p.type) for p in data.business_license_pics] == [
        ("123456/licence.png", "socialCreditLicense")]
    assert data.remark == "请审核"

    listed = records(sdk).data
    assert (listed.total, listed.page_no, listed.page_size) == (1, 1, 10)
    item = listed.list[0]
    assert (item.group_id, item.state_name, item.use_by_self) == (int(body.data), "PASS", "true")
    assert item.work_order_id == data.work_order_id
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", item.create_date)
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", item.audit_time)


def test_the_answers_carry_the_json_types_of_the_wire_spec(core_sdk, sdk, pigeon):
    group_id = submit(sdk, pigeon).data
    answer = core_sdk.common("QuerySingleSmsQualification", {"QualificationGroupId": group_id})
    data = answer["Data"]
    assert answer["Success"] is True and answer["Code"] == "OK"
    assert isinstance(data["QualificationGroupId"], int) and isinstance(data["WorkOrderId"], int)
    assert data["UseBySelf"] is True and data["WhetherShare"] is False
    assert isinstance(data["BusinessLicensePics"], list) and data["OtherFiles"] == []

    listed = core_sdk.common("QuerySmsQualificationRecord", {"PageSize": "5"})["Data"]
    assert listed["Total"] == 1 and listed["PageSize"] == 5 and listed["PageNo"] == 1
    assert listed["List"][0]["UseBySelf"] == "true"
    assert isinstance(listed["List"][0]["GroupId"], int)

    code = request_code(sdk, pigeon, "13900139000")
    valid = core_sdk.common("ValidPhoneCode", {"PhoneNo": "13900139000", "CertifyCode": code})
    assert valid["Data"] is True and valid["Success"] is True


def test_the_v1_tea_client_and_the_core_sdk_submit_and_read_qualifications(
        sdk_v1, core_sdk, pigeon):
    body = submit(sdk_v1, pigeon)
    assert body.code == "OK" and single(sdk_v1, body.data).data.state == "PASSED"

    code = request_code(sdk_v1, pigeon, "+8613700137000")
    answer = core_sdk.common("SubmitSmsQualification", {
        "QualificationName": "Lark2", "UseBySelf": "false", "WhetherShare": "true",
        "CompanyName": "Lark Technology (Hangzhou)", "CompanyType": "COMPANY",
        "OrganizationCode": CREDIT_CODE, "BussinessLicenseExpDate": LONG_TERM,
        "BusinessLicensePics": '[{"LicensePic":"9/lic.png","Type":"businessLicense"}]',
        "OtherFiles": '[{"LicensePic":"9/other.pdf"}]',
        "LegalPersonName": "Zhang San", "LegalPersonIDCardType": "passport",
        "LegalPersonIDCardNo": "E12345678", "LegalPersonIdCardEffTime": LONG_TERM,
        "AdminName": "Li Si", "AdminIDCardType": "identityCard", "AdminIDCardNo": ADMIN_ID,
        "AdminIDCardExpDate": LONG_TERM, "AdminIDCardFrontFace": "9/f.png",
        "AdminIDCardPic": "9/b.png", "AdminPhoneNo": "+8613700137000", "CertifyCode": code,
    })
    assert answer["Code"] == "OK" and isinstance(answer["Data"], str)
    data = core_sdk.common("QuerySingleSmsQualification",
                           {"QualificationGroupId": answer["Data"]})["Data"]
    assert data["State"] == "PASSED" and data["UseBySelf"] is False
    assert data["AdminPhoneNo"] == "13700137000"
    assert data["OtherFiles"] == [{"LicensePic": "9/other.pdf", "PicUrl": "9/other.pdf"}]
    third_party = records(sdk_v1, use_by_self=False).data
    assert [item.qualification_group_name for item in third_party.list] == ["Lark2"]


# -- review outcomes -----------------------------------------------------------------------------

def test_an_expired_licence_is_rejected_with_the_reason_and_passes_once_updated(sdk, pigeon):
    group_id = submit(sdk, pigeon, bussiness_license_exp_date=EXPIRED).data
    first = single(sdk, group_id).data
    assert first.state == "FAILED"
    item = records(sdk).data.list[0]
    assert item.state_name == "NOT_PASS"
    assert "expired" in item.audit_remark and "BussinessLicenseExpDate" in item.audit_remark

    code = request_code(sdk, pigeon, "13900139000")  # a new administrator, too
    body = sdk.update_sms_qualification(dysms.UpdateSmsQualificationRequest(
        qualification_group_id=int(group_id), order_id=first.work_order_id,
        admin_phone_no="+8613900139000", certify_code=code,
        bussiness_license_exp_date=LONG_TERM)).body
    assert (body.code, body.success, body.data) == ("OK", True, group_id)

    again = single(sdk, group_id).data
    assert again.state == "PASSED" and again.eff_time_str == LONG_TERM
    assert again.work_order_id != first.work_order_id
    assert again.admin_phone_no == "13900139000"
    # Fields the update did not give keep their values.
    assert again.company_name == "杭州云雀科技有限公司"
    item = records(sdk).data.list[0]
    assert item.state_name == "PASS" and not item.audit_remark
    # The earlier ticket still identifies the qualification in the single view.
    assert single(sdk, group_id, first.work_order_id).data.state == "PASSED"


def test_an_update_needs_the_current_order_a_rejected_state_and_updatable_fields(
        sdk, core_sdk, pigeon):
    passed = submit(sdk, pigeon).data
    ticket = single(sdk, passed).data.work_order_id
    code = request_code(sdk, pigeon, "13900139000")

    def update(group_id, order_id, **fields):
        return sdk.update_sms_qualification(dysms.UpdateSmsQualificationRequest(
            qualification_group_id=int(group_id), order_id=order_id,
            admin_phone_no="13900139000", certify_code=code, **fields)).body

    body = update(passed, ticket, admin_name="王五")
    assert body.code == "isv.INVALID_PARAMETERS" and "only a rejected" in body.message
    body = update(passed, ticket + 1000)
    assert body.code == "isv.INVALID_PARAMETERS" and "current review ticket" in body.message

    answer = core_sdk.common("UpdateSmsQualification", {
        "QualificationGroupId": passed, "OrderId": ticket, "AdminPhoneNo": "13900139000",
        "CertifyCode": code, "QualificationName": "Renamed"})
    assert answer["Code"] == "isv.INVALID_PARAMETERS"
    assert "QualificationName cannot be changed" in answer["Message"]
    assert single(sdk, passed).data.admin_name == "李四"


def test_manual_mode_waits_for_an_operator_to_approve_or_reject(manual):
    pigeon, client = manual
    group_id = submit(client, pigeon).data
    data = single(client, group_id).data
    assert data.state == "INT"
    assert records(client).data.list[0].state_name == "INIT"
    assert records(client, state="INIT").data.total == 1

    body = client.delete_sms_qualification(dysms.DeleteSmsQualificationRequest(
        qualification_group_id=int(group_id), order_id=data.work_order_id)).body
    assert body.code == "isv.INVALID_PARAMETERS" and "under review" in body.message

    decide(pigeon, data.work_order_id, approved=False, reason="营业执照照片不清晰")
    assert single(client, group_id).data.state == "FAILED"
    assert records(client).data.list[0].audit_remark == "营业执照照片不清晰"

    code = request_code(client, pigeon, "13900139000")
    client.update_sms_qualification(dysms.UpdateSmsQualificationRequest(
        qualification_group_id=int(group_id), order_id=data.work_order_id,
        admin_phone_no="13900139000", certify_code=code,
        business_license_pics=[dysms.UpdateSmsQualificationRequestBusinessLicensePics(
            license_pic="123456/licence-sharp.png", type="businessLicense")]))
    again = single(client, group_id).data
    assert again.state == "INT" and again.admin_phone_no == "13900139000"
    decide(pigeon, again.work_order_id, approved=True)
    assert single(client, group_id).data.state == "PASSED"


# -- verification codes --------------------------------------------------------------------------

def test_a_wrong_code_is_refused_and_checking_a_code_does_not_use_it(sdk, pigeon):
    code = request_code(sdk, pigeon)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    check = lambda c: sdk.valid_phone_code(  # noqa: E731
        dysms.ValidPhoneCodeRequest(phone_no=PHONE, certify_code=c)).body
    assert (check(wrong).code, check(wrong).data) == ("OK", False)
    assert check(code).data is True and check(code).data is True

    body = sdk.submit_sms_qualification(submission(wrong)).body
    assert body.code == "isv.INVALID_PARAMETERS" and "CertifyCode" in body.message
    assert sdk.submit_sms_qualification(submission(code)).body.code == "OK"


def test_a_code_works_once(sdk, pigeon):
    code = request_code(sdk, pigeon)
    assert sdk.submit_sms_qualification(submission(code)).body.code == "OK"
    body = sdk.submit_sms_qualification(submission(code, qualification_name="另一个资质")).body
    assert body.code == "isv.INVALID_PARAMETERS" and "used already" in body.message
    assert sdk.valid_phone_code(dysms.ValidPhoneCodeRequest(
        phone_no=PHONE, certify_code=code)).body.data is False


def test_a_code_expires_after_five_minutes(sdk, pigeon):
    code = request_code(sdk, pigeon)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=5, seconds=5)):
        body = sdk.submit_sms_qualification(submission(code)).body
    assert body.code == "isv.INVALID_PARAMETERS" and "expired" in body.message


def test_one_code_per_phone_per_minute_and_a_new_code_replaces_the_old(sdk, pigeon):
    old = request_code(sdk, pigeon)
    again = sdk.required_phone_code(dysms.RequiredPhoneCodeRequest(phone_no=PHONE)).body
    assert again.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert len(pigeon.db.read_sync(handsets.inbox, PHONE)) == 1

    with time_machine.travel(datetime.now(UTC) + timedelta(seconds=61)):
        new = request_code(sdk, pigeon)
        check = lambda c: sdk.valid_phone_code(  # noqa: E731
            dysms.ValidPhoneCodeRequest(phone_no=PHONE, certify_code=c)).body.data
        assert check(new) is True
        assert old == new or check(old) is False


def test_a_number_that_is_not_a_mainland_mobile_gets_no_code(sdk):
    body = sdk.required_phone_code(dysms.RequiredPhoneCodeRequest(phone_no="12345")).body
    assert body.code == "isv.MOBILE_NUMBER_ILLEGAL"


# -- validation ----------------------------------------------------------------------------------

@pytest.mark.parametrize("client", ["sdk", "sdk_v1"])
def test_a_missing_parameter_raises_a_client_exception_with_status_400(client, request, pigeon):
    client = request.getfixturevalue(client)
    code = request_code(client, pigeon)
    with pytest.raises(ClientException) as raised:
        client.submit_sms_qualification(submission(code, company_name=None))
    assert (raised.value.code, raised.value.status_code) == ("MissingCompanyName", 400)
    with pytest.raises(ClientException) as raised:
        client.query_single_sms_qualification(dysms.QuerySingleSmsQualificationRequest())
    assert raised.value.code == "MissingQualificationGroupId"


def test_the_core_sdk_reports_a_missing_parameter_as_a_server_exception(core_sdk):
    with pytest.raises(ServerException) as raised:
        core_sdk.common("ValidPhoneCode", {"PhoneNo": PHONE})
    assert raised.value.get_error_code() == "MissingCertifyCode"
    assert raised.value.get_http_status() == 400


def test_an_invalid_organisation_code_is_a_business_error_in_the_body(sdk, pigeon):
    code = request_code(sdk, pigeon)
    wrong_check_character = CREDIT_CODE[:-1] + "6"
    response = sdk.submit_sms_qualification(
        submission(code, organization_code=wrong_check_character))
    assert response.status_code == 200
    assert response.body.code == "isv.INVALID_PARAMETERS"
    assert "OrganizationCode" in response.body.message
    # Nothing was stored and the code was not used up.
    assert records(sdk).data.total == 0
    assert sdk.submit_sms_qualification(submission(code)).body.code == "OK"


def test_a_page_size_outside_1_to_50_is_refused(sdk):
    for size in (-1, 51):
        with pytest.raises(ClientException) as raised:
            records(sdk, page_size=size)
        assert (raised.value.code, raised.value.status_code) == ("InvalidPageSize", 400)
    assert records(sdk, state="DONE").code == "isv.INVALID_PARAMETERS"


def test_a_page_size_of_0_is_not_given(sdk):
    """What a client whose integers default to 0 sends for a page size nobody set."""
    assert records(sdk, page_size=0, page_no=0).data.page_size == 10


def test_a_name_is_unique_in_the_account_whatever_its_letter_case(sdk, pigeon, other_tenant,
                                                                  server):
    assert submit(sdk, pigeon, qualification_name="LarkTech").code == "OK"
    body = submit(sdk, pigeon, "13900139000", qualification_name="larktech")
    assert body.code == "isv.INVALID_PARAMETERS" and "already exists" in body.message
    other = tea_client(server.endpoint, other_tenant)
    assert submit(other, pigeon, "13700137000", qualification_name="LarkTech").code == "OK"


# -- delete --------------------------------------------------------------------------------------

def test_delete_needs_the_current_order_and_no_signature_using_the_qualification(sdk, pigeon):
    group_id = int(submit(sdk, pigeon).data)
    ticket = single(sdk, group_id).data.work_order_id
    delete = lambda order: sdk.delete_sms_qualification(  # noqa: E731
        dysms.DeleteSmsQualificationRequest(qualification_group_id=group_id,
                                            order_id=order)).body
    assert delete(ticket + 1).code == "isv.INVALID_PARAMETERS"

    sign = sdk.create_sms_sign(dysms.CreateSmsSignRequest(
        sign_name="云雀科技", sign_source=0, sign_type=1, qualification_id=group_id,
        remark="公司简称")).body
    assert sign.code == "OK", sign.message
    body = delete(ticket)
    assert body.code == "isv.INVALID_PARAMETERS" and "云雀科技" in body.message

    sdk.delete_sms_sign(dysms.DeleteSmsSignRequest(sign_name="云雀科技"))
    body = delete(ticket)
    assert (body.code, body.success, body.data) == ("OK", True, True)
    assert records(sdk).data.total == 0
    assert single(sdk, group_id).code == "isv.INVALID_PARAMETERS"


# -- the record list -----------------------------------------------------------------------------

def test_the_record_list_pages_newest_first_and_filters(sdk, pigeon):
    made = [
        submit(sdk, pigeon, "13800138001", qualification_name="Alpha",
               company_name="Alpha Trading", legal_person_name="张三"),
        submit(sdk, pigeon, "13800138002", qualification_name="Beta",
               company_name="Beta Trading", legal_person_name="李四",
               bussiness_license_exp_date=EXPIRED),
        submit(sdk, pigeon, "13800138003", qualification_name="Gamma",
               company_name="Gamma Foods", legal_person_name="张三丰"),
    ]
    alpha, beta, gamma = (int(body.data) for body in made)

    def ids(**filters):
        return [item.group_id for item in records(sdk, **filters).data.list]

    assert ids() == [gamma, beta, alpha]
    page = records(sdk, page_no=2, page_size=2).data
    assert (page.total, page.page_no, page.page_size) == (3, 2, 2)
    assert [item.group_id for item in page.list] == [alpha]
    assert ids(page_no=3, page_size=2) == []
    assert ids(company_name="trading") == [beta, alpha]
    assert ids(legal_person_name="张三") == [gamma, alpha]
    assert ids(qualification_group_name="AMM") == [gamma]
    assert ids(state="NOT_PASS") == [beta] and ids(state="PASS") == [gamma, alpha]
    assert ids(use_by_self=True) == [gamma, beta, alpha] and ids(use_by_self=False) == []
    ticket = single(sdk, beta).data.work_order_id
    assert ids(work_order_id=ticket) == [beta]
    assert ids(company_name="Trading", state="PASS") == [alpha]
    assert ids(company_name="100%_") == []


# -- tenant isolation ----------------------------------------------------------------------------

def test_another_tenant_sees_the_qualification_as_nonexistent(sdk, pigeon, other_tenant, server):
    group_id = int(submit(sdk, pigeon, bussiness_license_exp_date=EXPIRED).data)
    ticket = single(sdk, group_id).data.work_order_id
    other = tea_client(server.endpoint, other_tenant)
    missing = group_id + 1000

    def answers(target):
        code = request_code(other, pigeon, f"1370013{target % 10000:04d}")
        return [
            single(other, target),
            single(other, target, ticket),
            other.update_sms_qualification(dysms.UpdateSmsQualificationRequest(
                qualification_group_id=target, order_id=ticket,
                admin_phone_no=f"1370013{target % 10000:04d}", certify_code=code,
                bussiness_license_exp_date=LONG_TERM)).body,
            other.delete_sms_qualification(dysms.DeleteSmsQualificationRequest(
                qualification_group_id=target, order_id=ticket)).body,
        ]

    for theirs, nothing in zip(answers(group_id), answers(missing), strict=True):
        assert theirs.code == nothing.code == "isv.INVALID_PARAMETERS"
        same = theirs.message.replace(f"GroupId {group_id}", "GroupId N")
        assert same == nothing.message.replace(f"GroupId {missing}", "GroupId N")
    assert records(other).data.total == 0
    assert records(other, work_order_id=ticket).data.list == []
    assert single(sdk, group_id).data.state == "FAILED"  # untouched


def test_a_code_sent_for_one_tenant_does_not_work_for_another(sdk, pigeon, other_tenant,
                                                               server):
    code = request_code(sdk, pigeon)
    other = tea_client(server.endpoint, other_tenant)
    assert other.valid_phone_code(dysms.ValidPhoneCodeRequest(
        phone_no=PHONE, certify_code=code)).body.data is False
    body = other.submit_sms_qualification(submission(code)).body
    assert body.code == "isv.INVALID_PARAMETERS" and "CertifyCode" in body.message


def test_a_code_is_void_after_five_wrong_guesses(pigeon, core_sdk):
    code = workflow.certify_code(core_sdk, pigeon, "13900139077")
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(4):
        assert core_sdk.common("ValidPhoneCode", {"PhoneNo": "13900139077",
                                                  "CertifyCode": wrong})["Data"] is False
    assert core_sdk.common("ValidPhoneCode", {"PhoneNo": "13900139077",
                                              "CertifyCode": code})["Data"] is True
    assert core_sdk.common("ValidPhoneCode", {"PhoneNo": "13900139077",
                                              "CertifyCode": wrong})["Data"] is False
    # Five wrong guesses: even the right code no longer works.
    assert core_sdk.common("ValidPhoneCode", {"PhoneNo": "13900139077",
                                              "CertifyCode": code})["Data"] is False
    answer = workflow.submit_qualification(core_sdk, pigeon, AdminPhoneNo="13900139077",
                                           CertifyCode=code)
    assert answer["Code"] == "isv.INVALID_PARAMETERS"
