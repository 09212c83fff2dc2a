"""Signature documents through the official SDK: authorisation letters, trademarks and app ICP
filings are submitted, reviewed and queried, and CreateSmsSign / UpdateSmsSign /
ChangeSignatureQualification accept only a document of the account, approved, valid and
covering the signature."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_util.models import RuntimeOptions

from pigeon.app import Pigeon
from pigeon.core.id_numbers import social_credit_check_char
from pigeon.services import review
from tests.conftest import make_tenant
from tests.support import documents, workflow
from tests.support.sdk import CoreClient, tea_client
from tests.support.server import LiveServer

RT = RuntimeOptions()
SIGN = "云雀科技"
OWN_CODE = workflow.QUALIFICATION["OrganizationCode"]
_FIRST17 = "91330106MA2B3C4D5"
OTHER_CODE = _FIRST17 + social_credit_check_char(_FIRST17)  # 杭州白鹭网络有限公司's
OTHER_PHONE = "13800138031"


@pytest.fixture
def qualification(pigeon, core_sdk) -> int:
    return int(workflow.approved_qualification(core_sdk, pigeon))


@pytest.fixture
def third_party_qualification(pigeon, core_sdk) -> int:
    """An approved qualification of 杭州白鹭网络有限公司, for which the tenant sends."""
    licence = documents.upload_picture(core_sdk, "bailu-licence")
    return int(workflow.approved_qualification(
        core_sdk, pigeon, QualificationName="白鹭网络资质", UseBySelf="false",
        CompanyName="杭州白鹭网络有限公司", OrganizationCode=OTHER_CODE, AdminPhoneNo=OTHER_PHONE,
        BusinessLicensePics=json.dumps([{"LicensePic": licence, "Type": "businessLicense"}])))


def create_sign(sdk, qualification: int, name: str = SIGN, **fields):
    return sdk.create_sms_sign_with_options(models.CreateSmsSignRequest(
        sign_name=name, sign_source=fields.pop("sign_source", 0), qualification_id=qualification,
        remark="用于会员通知", **fields), RT).body


def refusal(body) -> tuple[str, str]:
    assert body.code != "OK", body
    return body.code, body.message


# -- the documents ---------------------------------------------------------------------------------

def test_a_letter_is_submitted_reviewed_and_read_back_with_the_sdks_types(sdk, core_sdk):
    picture = documents.upload_picture(core_sdk, "letter")
    created = sdk.create_sms_authorization_letter_with_options(
        models.CreateSmsAuthorizationLetterRequest(
            authorization_letter_name="云雀科技授权书", authorization=workflow.COMPANY,
            proxy_authorization="杭州白鹭网络有限公司", organization_code=OWN_CODE,
            authorization_letter_exp_date="2020-01-01~2099-12-31",
            authorization_letter_pic=picture, sign_list=["云雀科技", "云雀", "云雀科技"]), RT).body
    assert created.code == "OK" and created.success is True and isinstance(created.data, str)

    found = sdk.query_sms_authorization_letter_with_options(
        models.QuerySmsAuthorizationLetterRequest(
            authorization_letter_id_list=[int(created.data)]), RT).body
    [item] = found.data
    assert item.authorization_letter_id == int(created.data)
    assert (item.authorization, item.proxy_authorization, item.organization_code) == \
        (workflow.COMPANY, "杭州白鹭网络有限公司", OWN_CODE)
    assert (item.sign_scope, item.state, item.status) == ("云雀科技、云雀", "PASSED", "VALID")
    assert item.authorization_letter_pic == picture

    def query(**filters):
        body = sdk.query_sms_authorization_letter_with_options(
            models.QuerySmsAuthorizationLetterRequest(**filters), RT).body
        return [i.authorization_letter_id for i in body.data]

    assert query(sign_name="云雀") == [int(created.data)]
    assert query(sign_name="白鹭") == []
    assert query(state="PASSED", status="VALID", organization_code=OWN_CODE) == \
        [int(created.data)]
    assert query(state="INT") == [] and query(status="INVALID") == []


def test_a_letter_whose_picture_was_never_uploaded_or_that_expired_is_rejected(sdk, core_sdk):
    missing = documents.created(documents.letter(
        core_sdk, [SIGN], AuthorizationLetterPic="123/qualification/nothing.png"))
    expired = documents.created(documents.letter(
        core_sdk, [SIGN], AuthorizationLetterExpDate="2000-01-01~2001-01-01"))
    body = sdk.query_sms_authorization_letter_with_options(
        models.QuerySmsAuthorizationLetterRequest(
            authorization_letter_id_list=[missing, expired]), RT).body
    assert [(i.authorization_letter_id, i.state, i.status) for i in body.data] == [
        (missing, "FAILED", "VALID"), (expired, "FAILED", "INVALID")]


def test_trademarks_and_icp_filings_are_read_back_by_id_and_others_are_left_out(
        sdk, core_sdk, server, other_tenant):
    mark = documents.created(documents.trademark(core_sdk, "云雀"))
    record = documents.created(documents.app_icp(core_sdk, "云雀出行",
                                                 AppRuntimePic=documents.upload_picture(core_sdk)))

    marks = sdk.query_sms_trademark_with_options(
        models.QuerySmsTrademarkRequest(trademark_id_list=[mark, record, 999999]), RT).body
    [item] = marks.data
    assert (item.trademark_id, item.trademark_name, item.trademark_registration_number,
            item.trademark_applicant_name) == (mark, "云雀", "56781234", workflow.COMPANY)
    assert item.trademark_pic == item.trademark_pic_url and item.trademark_pic
    records = sdk.query_sms_app_icp_record_with_options(
        models.QuerySmsAppIcpRecordRequest(app_icp_record_id_list=[record, mark]), RT).body
    [item] = records.data
    assert (item.app_icp_record_id, item.app_service_name, item.domain, item.app_approval_date) \
        == (record, "云雀出行", "www.lark.example", "2023-05-01")
    assert item.app_runtime_pic and item.app_store_download_pic == ""

    stranger = CoreClient(server.endpoint, other_tenant)
    assert stranger.common("QuerySmsTrademark", {"TrademarkIdList": f"[{mark}]"})["Data"] == []


@pytest.mark.parametrize("action, change, code, words", [
    ("CreateSmsTrademark", {"TrademarkName": None}, "MissingTrademarkName", "mandatory"),
    ("CreateSmsTrademark", {"TrademarkName": "云雀科技有限公司的注册商标名称啊"},
     "isv.INVALID_PARAMETERS", "at most 15"),
    ("CreateSmsTrademark", {"TrademarkRegistrationNumber": "第5678号"}, "isv.INVALID_PARAMETERS",
     "letters and digits"),
    ("CreateSmsTrademark", {"TrademarkEffExpDate": "2030-01-01"}, "isv.INVALID_PARAMETERS",
     "YYYY-MM-DD~YYYY-MM-DD"),
    ("CreateSmsAppIcpRecord", {"Domain": "localhost"}, "isv.INVALID_PARAMETERS", "domain name"),
    ("CreateSmsAppIcpRecord", {"AppApprovalDate": "2023-02-30"}, "isv.INVALID_PARAMETERS",
     "YYYY-MM-DD"),
    ("CreateSmsAuthorizationLetter", {"OrganizationCode": "91350100M000100Y44"},
     "isv.INVALID_PARAMETERS", "check character"),
    ("CreateSmsAuthorizationLetter", {"SignList": '["云雀测试"]'}, "isv.SIGN_NAME_ILLEGAL",
     "SignList item 1"),
    ("CreateSmsAuthorizationLetter", {"SignList": json.dumps([f"云雀{n}" for n in range(101)])},
     "isv.INVALID_PARAMETERS", "at most 100"),
    ("CreateSmsAuthorizationLetter", {"SignList": "[]"}, "isv.INVALID_PARAMETERS", "1 to 100"),
])
def test_a_document_that_breaks_a_rule_is_refused_at_once(core_sdk, action, change, code, words):
    fields = {"CreateSmsTrademark": documents.trademark_fields,
              "CreateSmsAppIcpRecord": documents.app_icp_fields}.get(action)
    params = fields(core_sdk, "云雀") if fields else documents.letter_fields(core_sdk, [SIGN])
    params.update(change)
    params = {k: v for k, v in params.items() if v is not None}
    try:
        answer = core_sdk.common(action, params)
    except Exception as error:  # Missing…: HTTP 400, the SDK raises
        answer = {"Code": error.get_error_code(), "Message": error.get_error_msg()}
    assert answer["Code"] == code and words in answer["Message"], answer


def test_the_tea_sdk_raises_for_a_missing_required_field(sdk):
    with pytest.raises(ClientException) as raised:
        sdk.create_sms_trademark_with_options(models.CreateSmsTrademarkRequest(
            trademark_name="云雀"), RT)
    assert raised.value.code == "MissingTrademarkRegistrationNumber"


# -- signatures need documents that cover them ---------------------------------------------------

def test_a_trademark_signature_needs_an_approved_trademark_of_that_name(
        sdk, core_sdk, qualification):
    other_name = documents.created(documents.trademark(core_sdk, "白鹭"))
    assert refusal(create_sign(sdk, qualification, "云雀", sign_source=5,
                               trademark_id=other_name)) == (
        "isv.INVALID_PARAMETERS",
        f"TrademarkId {other_name} is for the trademark 白鹭, not the signature 云雀; the "
        "signature must be the trademark's name.")
    with pytest.raises(ClientException) as raised:  # the gateway's Missing…: HTTP 400
        create_sign(sdk, qualification, "云雀", sign_source=5)
    assert raised.value.code == "MissingTrademarkId"

    mark = documents.created(documents.trademark(core_sdk, "云雀"))
    created = create_sign(sdk, qualification, "云雀", sign_source=5, trademark_id=mark)
    assert created.code == "OK", created.message
    sign = sdk.get_sms_sign_with_options(models.GetSmsSignRequest(sign_name="云雀"), RT).body
    assert sign.trademark_id == mark


def test_an_app_signature_needs_the_icp_filing_of_that_app(sdk, core_sdk, qualification):
    record = documents.created(documents.app_icp(core_sdk, "云雀出行"))
    code, message = refusal(create_sign(sdk, qualification, "云雀打车", sign_source=2,
                                        app_icp_record_id=record))
    assert code == "isv.INVALID_PARAMETERS" and "app or site 云雀出行" in message
    created = create_sign(sdk, qualification, "云雀出行", sign_source=2, app_icp_record_id=record,
                          apply_scene_content="https://apps.example/lark")
    assert created.code == "OK", created.message


def test_a_document_id_that_is_not_the_accounts_or_of_another_kind_does_not_exist(
        pigeon, server, sdk, core_sdk, qualification, other_tenant):
    mark = documents.created(documents.trademark(core_sdk, SIGN))
    stranger = CoreClient(server.endpoint, other_tenant)
    theirs = documents.created(documents.trademark(stranger, SIGN))
    for document_id in (theirs, 999999):
        assert refusal(create_sign(sdk, qualification, sign_source=5,
                                   trademark_id=document_id)) == (
            "isv.INVALID_PARAMETERS",
            f"TrademarkId {document_id} is no trademark of this account.")
    # A trademark's id named as a letter is no letter.
    code, message = refusal(create_sign(sdk, qualification, authorization_letter_id=mark))
    assert message == f"AuthorizationLetterId {mark} is no authorisation letter of this account."


def test_a_letter_must_list_the_signature_and_come_from_the_qualifications_company(
        sdk, core_sdk, third_party_qualification):
    other_names = documents.created(documents.letter(core_sdk, ["白鹭网络"],
                                                     OrganizationCode=OTHER_CODE))
    code, message = refusal(create_sign(sdk, third_party_qualification, "白鹭", third_party=True,
                                        authorization_letter_id=other_names))
    assert message == (f"AuthorizationLetterId {other_names} does not authorise the signature "
                       "白鹭 (it authorises 白鹭网络); submit a letter that lists it.")
    wrong_company = documents.created(documents.letter(core_sdk, ["白鹭"]))  # OWN_CODE
    code, message = refusal(create_sign(sdk, third_party_qualification, "白鹭",
                                        third_party=True, authorization_letter_id=wrong_company))
    assert code == "isv.INVALID_PARAMETERS" and "not by the qualification's company" in message

    letter = documents.created(documents.letter(core_sdk, ["白鹭", "白鹭网络"],
                                                OrganizationCode=OTHER_CODE))
    created = create_sign(sdk, third_party_qualification, "白鹭", third_party=True,
                          authorization_letter_id=letter)
    assert created.code == "OK", created.message
    sign = sdk.get_sms_sign_with_options(models.GetSmsSignRequest(sign_name="白鹭"), RT).body
    assert (sign.third_party, sign.authorization_letter_id,
            sign.authorization_letter_audit_pass, sign.sign_status) == (True, letter, True, 1)
    [item] = sdk.query_sms_sign_list_with_options(models.QuerySmsSignListRequest(),
                                                  RT).body.sms_sign_list
    assert (item.authorization_letter_id, item.authorization_letter_audit_pass) == (letter, True)


def test_a_signature_without_a_letter_shows_no_approved_letter(sdk, qualification):
    assert create_sign(sdk, qualification).code == "OK"
    sign = sdk.get_sms_sign_with_options(models.GetSmsSignRequest(sign_name=SIGN), RT).body
    assert sign.authorization_letter_audit_pass is False and sign.authorization_letter_id is None


def test_a_third_party_signature_needs_a_letter_and_a_third_party_qualification(
        sdk, core_sdk, qualification, third_party_qualification):
    with pytest.raises(ClientException) as raised:
        create_sign(sdk, third_party_qualification, "白鹭", third_party=True)
    assert raised.value.code == "MissingAuthorizationLetterId"
    letter = documents.created(documents.letter(core_sdk, ["白鹭"]))
    code, message = refusal(create_sign(sdk, qualification, "白鹭", third_party=True,
                                        authorization_letter_id=letter))
    assert code == "isv.INVALID_PARAMETERS" and "UseBySelf true" in message


def test_a_rejected_or_expired_document_is_refused(sdk, core_sdk, qualification):
    rejected = documents.created(documents.trademark(
        core_sdk, SIGN, TrademarkPic="1/qualification/never.png"))
    code, message = refusal(create_sign(sdk, qualification, sign_source=5, trademark_id=rejected))
    assert message.startswith(f"TrademarkId {rejected} was rejected (TrademarkPic names")
    expired = documents.created(documents.trademark(
        core_sdk, SIGN, TrademarkEffExpDate="2000-01-01~2001-01-01"))
    code, message = refusal(create_sign(sdk, qualification, sign_source=5, trademark_id=expired))
    assert "was rejected (the trademark expired on 2001-01-01" in message


def test_update_sms_sign_checks_the_documents_as_create_does(pigeon, sdk, core_sdk,
                                                             qualification):
    assert create_sign(sdk, qualification, "白鹭航空").code == "OK"  # rejected: no relation
    assert sdk.get_sms_sign_with_options(models.GetSmsSignRequest(sign_name="白鹭航空"),
                                         RT).body.sign_status == 2
    mark = documents.created(documents.trademark(core_sdk, "白鹭"))
    body = sdk.update_sms_sign_with_options(models.UpdateSmsSignRequest(
        sign_name="白鹭航空", sign_source=5, qualification_id=qualification, trademark_id=mark),
        RT).body
    assert body.code == "isv.INVALID_PARAMETERS" and "not the signature 白鹭航空" in body.message


# -- ChangeSignatureQualification ---------------------------------------------------------------

def test_change_signature_qualification_rebinds_an_approved_signature_and_registers_it_again(
        pigeon, sdk, core_sdk, qualification, third_party_qualification):
    assert create_sign(sdk, qualification).code == "OK"
    second = int(workflow.approved_qualification(core_sdk, pigeon, QualificationName="云雀二号",
                                                 AdminPhoneNo="13800138032"))
    body = sdk.change_signature_qualification_with_options(
        models.ChangeSignatureQualificationRequest(signature_name=SIGN, qualification_id=second),
        RT).body
    assert (body.code, body.success, body.data.success, body.data.err_code) == \
        ("OK", True, True, "")
    sign = sdk.get_sms_sign_with_options(models.GetSmsSignRequest(sign_name=SIGN), RT).body
    assert sign.qualification_id == second and sign.sign_status == 1
    assert {d.register_status for d in sign.sign_isp_register_detail_list} == {3}


@pytest.mark.parametrize("case", ["unknown signature", "unknown qualification",
                                  "letter not listing it"])
def test_change_signature_qualification_refuses_what_create_refuses(
        sdk, core_sdk, qualification, case):
    assert create_sign(sdk, qualification).code == "OK"
    request = {"signature_name": SIGN, "qualification_id": qualification}
    if case == "unknown signature":
        request["signature_name"] = "无此签名"
    elif case == "unknown qualification":
        request["qualification_id"] = 999999
    else:
        request["authorization_letter_id"] = documents.created(documents.letter(core_sdk,
                                                                                ["白鹭"]))
    body = sdk.change_signature_qualification_with_options(
        models.ChangeSignatureQualificationRequest(**request), RT).body
    expected = "isv.SMS_SIGNATURE_ILLEGAL" if case == "unknown signature" else \
        "isv.INVALID_PARAMETERS"
    assert body.code == expected, body.message


# -- documents wait for a reviewer like qualifications ------------------------------------------

@pytest.fixture
def manual(settings):
    """A Pigeon whose reviews wait for an operator, and a tenant's SDKs on it."""
    pigeon = Pigeon(replace(settings, review_mode="manual"))
    live = LiveServer(pigeon).start()
    tenant = make_tenant(pigeon)
    yield pigeon, tea_client(live.endpoint, tenant), CoreClient(live.endpoint, tenant)
    live.stop()
    pigeon.close()


def test_a_document_under_review_is_refused_until_an_operator_approves_it(manual):
    pigeon, sdk, core = manual
    answer = workflow.submit_qualification(core, pigeon)
    workflow.decide(pigeon, "qualification", answer["Data"], approved=True)
    mark = documents.created(documents.trademark(core, SIGN))
    [pending] = pigeon.db.read_sync(review.pending_overview, "trademark")
    assert (pending["Name"], pending["Summary"]) == (str(mark), SIGN)

    code, message = refusal(create_sign(sdk, int(answer["Data"]), sign_source=5,
                                        trademark_id=mark))
    assert message == (f"TrademarkId {mark} is under review; a signature can use the trademark "
                       "once it is approved.")
    workflow.decide(pigeon, "trademark", mark, approved=False, reason="商标证书不清晰")
    code, message = refusal(create_sign(sdk, int(answer["Data"]), sign_source=5,
                                        trademark_id=mark))
    assert message == (f"TrademarkId {mark} was rejected (商标证书不清晰); a signature needs an "
                       "approved trademark.")

    again = documents.created(documents.trademark(core, SIGN))
    workflow.decide(pigeon, "trademark", again, approved=True)
    assert create_sign(sdk, int(answer["Data"]), sign_source=5, trademark_id=again).code == "OK"


def test_the_reviewer_sees_a_documents_fields_and_pictures(pigeon, core_sdk):
    mark = documents.created(documents.trademark(core_sdk, SIGN))
    details = pigeon.db.read_sync(review.describe, "trademark", str(mark))
    assert details["subject"]["details"]["TrademarkName"] == SIGN
    [picture] = details["files"]
    assert picture["field"] == "TrademarkPic" and picture["suffix"] == "png"
    assert details["missing_files"] == []
    assert [t["status"] for t in details["history"]] == ["approved"]
