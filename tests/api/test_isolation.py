"""Tenant isolation: another tenant's names and ids behave exactly like ones that do not
exist, for every action, and nothing of the owner's changes."""

from __future__ import annotations

import pytest

from pigeon.api.rpc.actions import load
from pigeon.services import billing
from tests.support import documents, workflow
from tests.support.sdk import CoreClient

PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5E"
       "rkJggg==")


def attempts(own: dict) -> dict[str, tuple[dict, dict]]:
    """For each action: parameters naming the owner's records, and the same naming nothing."""
    q, order, sign, code = own["qualification"], own["order"], own["sign"], own["template"]
    qual_update = {"AdminPhoneNo": own["phone"], "CertifyCode": own["certify_code"],
                   "CompanyName": "别人的公司"}
    sign_fields = {"SignSource": "0", "Remark": "x", "SignType": "1"}
    # Valid in every other respect, so that what is refused is the name or id.
    template_fields = {"TemplateName": "n", "TemplateType": "1", "Remark": "r",
                       "TemplateContent": "您的订单${order}已发货。",
                       "TemplateRule": '{"order":"characterWithNumber"}'}
    files = {"SignFileList.1.FileContents": PNG, "SignFileList.1.FileSuffix": "png"}
    tagging = {"RegionId": "cn-hangzhou", "ResourceType": "TEMPLATE"}
    return {
        "GetSmsSign": ({"SignName": sign}, {"SignName": "无此签名"}),
        "QuerySmsSign": ({"SignName": sign}, {"SignName": "无此签名"}),
        "DeleteSmsSign": ({"SignName": sign}, {"SignName": "无此签名"}),
        "UpdateSmsSign": ({"SignName": sign, "QualificationId": q, **sign_fields},
                          {"SignName": "无此签名", "QualificationId": "999999", **sign_fields}),
        "ModifySmsSign": ({"SignName": sign, **sign_fields, **files},
                          {"SignName": "无此签名", **sign_fields, **files}),
        "CreateSmsSign": ({"SignName": "借用资质", "QualificationId": q, **sign_fields},
                          {"SignName": "借用资质", "QualificationId": "999999", **sign_fields}),
        "GetSmsTemplate": ({"TemplateCode": code}, {"TemplateCode": "SMS_000000001"}),
        "QuerySmsTemplate": ({"TemplateCode": code}, {"TemplateCode": "SMS_000000001"}),
        "DeleteSmsTemplate": ({"TemplateCode": code}, {"TemplateCode": "SMS_000000001"}),
        "UpdateSmsTemplate": ({"TemplateCode": code, "RelatedSignName": sign, **template_fields},
                              {"TemplateCode": "SMS_000000001", "RelatedSignName": "无此签名",
                               **template_fields}),
        "ModifySmsTemplate": ({"TemplateCode": code, **template_fields},
                              {"TemplateCode": "SMS_000000001", **template_fields}),
        "CreateSmsTemplate": ({"RelatedSignName": sign, **template_fields},
                              {"RelatedSignName": "无此签名", **template_fields}),
        "QuerySingleSmsQualification": ({"QualificationGroupId": q},
                                        {"QualificationGroupId": "999999"}),
        "UpdateSmsQualification": ({"QualificationGroupId": q, "OrderId": order, **qual_update},
                                   {"QualificationGroupId": "999999", "OrderId": "999999",
                                    **qual_update}),
        "DeleteSmsQualification": ({"QualificationGroupId": q, "OrderId": order},
                                   {"QualificationGroupId": "999999", "OrderId": "999999"}),
        "ValidPhoneCode": ({"PhoneNo": own["phone"], "CertifyCode": own["certify_code"]},
                           {"PhoneNo": "13900139000", "CertifyCode": "000000"}),
        # Listing actions: the stranger's lists are empty (checked below).
        "QuerySmsSignList": ({}, {}),
        "QuerySmsTemplateList": ({}, {}),
        "QuerySmsQualificationRecord": ({}, {}),
        "RequiredPhoneCode": ({"PhoneNo": "13900139001"}, {"PhoneNo": "13900139002"}),
        "SubmitSmsQualification": ({**workflow.QUALIFICATION, "CertifyCode": "000000"},
                                   {**workflow.QUALIFICATION, "CertifyCode": "000000"}),
        # Upload credentials name nothing; a stranger's admit only its own keys
        # (tests/api/test_uploads.py).
        "GetQualificationOssInfo": ({"BizType": "dysms"}, {"BizType": "dysms"}),
        "GetOSSInfoForUploadFile": ({}, {}),
        # Queue credentials are for one's own queues only: another tenant's queue name is
        # refused like a name no tenant has (tests/api/test_queue_mode.py reads the queues).
        "QueryTokenForMnsQueue": (
            {"MessageType": "SmsReport",
             "QueueName": f"Alicom-Queue-{own['account_id']}-SmsReport"},
            {"MessageType": "SmsReport", "QueueName": "Alicom-Queue-1000000000000000-SmsReport"}),
        # Sending with another tenant's signature and template is sending with unknown ones;
        # its records are as empty as a number nobody sent to.
        "SendSms": ({"PhoneNumbers": "13700137001", "SignName": sign, "TemplateCode": code,
                     "TemplateParam": '{"code":"1234"}'},
                    {"PhoneNumbers": "13700137001", "SignName": "无此签名",
                     "TemplateCode": "SMS_000000001", "TemplateParam": '{"code":"1234"}'}),
        "SendBatchSms": ({"PhoneNumberJson": '["13700137001"]', "SignNameJson": f'["{sign}"]',
                          "TemplateCode": code, "TemplateParamJson": '[{"code":"1234"}]'},
                         {"PhoneNumberJson": '["13700137001"]', "SignNameJson": '["无此签名"]',
                          "TemplateCode": "SMS_000000001",
                          "TemplateParamJson": '[{"code":"1234"}]'}),
        "QuerySendDetails": (
            {"PhoneNumber": own["sent_to"], "SendDate": own["sent_on"], "PageSize": "10",
             "CurrentPage": "1", "BizId": own["biz_id"]},
            {"PhoneNumber": "13700137002", "SendDate": own["sent_on"], "PageSize": "10",
             "CurrentPage": "1", "BizId": "1^0"}),
        "QuerySendStatistics": (
            {"IsGlobe": "1", "StartDate": own["sent_on"], "EndDate": own["sent_on"],
             "PageIndex": "1", "PageSize": "10", "SignName": sign},
            {"IsGlobe": "1", "StartDate": own["sent_on"], "EndDate": own["sent_on"],
             "PageIndex": "1", "PageSize": "10", "SignName": "无此签名"}),
        # A conversion for another tenant's message is refused like one for no message
        # (tests/api/test_conversions.py checks nothing was recorded).
        "SmsConversionIntl": ({"MessageId": own["biz_id"], "Delivered": "true"},
                              {"MessageId": "1^0", "Delivered": "true"}),
        # Signature documents: another tenant's ids are as unknown as made-up ones — a query
        # leaves them out, a signature cannot use them (test_documents.py).  Creating one
        # names nothing: the stranger's own document, which the reviewer rejects, as the
        # picture keys name no upload of its account.
        "QuerySmsAuthorizationLetter": ({"AuthorizationLetterIdList": f"[{own['letter']}]"},
                                        {"AuthorizationLetterIdList": "[999999]"}),
        "QuerySmsTrademark": ({"TrademarkIdList": f"[{own['trademark']}]"},
                              {"TrademarkIdList": "[999999]"}),
        "QuerySmsAppIcpRecord": ({"AppIcpRecordIdList": f"[{own['app_icp']}]"},
                                 {"AppIcpRecordIdList": "[999999]"}),
        "CreateSmsAuthorizationLetter": (own["letter_fields"],
                                         {**own["letter_fields"],
                                          "AuthorizationLetterPic": "1/qualification/x.png"}),
        "CreateSmsTrademark": (own["trademark_fields"],
                               {**own["trademark_fields"], "TrademarkPic": "1/qualification/x.png"}),
        "CreateSmsAppIcpRecord": (own["app_icp_fields"],
                                  {**own["app_icp_fields"],
                                   "AppIcpRecordPic": "1/qualification/x.png"}),
        "ChangeSignatureQualification": ({"SignatureName": sign, "QualificationId": q},
                                         {"SignatureName": "无此签名",
                                          "QualificationId": "999999"}),
        # Extension codes of another tenant's signature: its signature is unknown.
        "AddExtCodeSign": ({"ExtCode": "0555", "SignName": sign},
                           {"ExtCode": "0556", "SignName": "无此签名"}),
        "UpdateExtCodeSign": ({"SignName": sign, "ExistExtCode": own["ext_code"],
                               "NewExtCode": "0557"},
                              {"SignName": "无此签名", "ExistExtCode": "0558",
                               "NewExtCode": "0559"}),
        "DeleteExtCodeSign": ({"ExtCode": own["ext_code"], "SignName": sign},
                              {"ExtCode": "0558", "SignName": "无此签名"}),
        "QueryExtCodeSign": ({"ExtCode": own["ext_code"], "SignName": sign},
                             {"ExtCode": "0558", "SignName": "无此签名"}),
        # Templates' lists and tags: another tenant's template is unknown, its tags unseen.
        "GetSmsTemplateList": ({"TemplateCode": code, "TemplateTag": "team"},
                               {"TemplateCode": "SMS_000000001"}),
        "TagResources": ({**tagging, "ResourceId.1": code, "Tag.1.Key": "team",
                          "Tag.1.Value": "mine"},
                         {**tagging, "ResourceId.1": "SMS_000000001", "Tag.1.Key": "team",
                          "Tag.1.Value": "mine"}),
        "UntagResources": ({**tagging, "ResourceId.1": code, "All": "true"},
                           {**tagging, "ResourceId.1": "SMS_000000001", "All": "true"}),
        "ListTagResources": ({**tagging, "ResourceId.1": code}, {**tagging, "Tag.1.Key": "team"}),
        # Short URLs: another tenant's link is unknown; its clicks unseen.
        "QueryShortUrl": ({"ShortUrl": own["short_url"]},
                          {"ShortUrl": "http://127.0.0.1/s/ABCDEFGH"}),
        "DeleteShortUrl": ({"SourceUrl": own["source_url"]},
                           {"SourceUrl": "https://nothing.example/"}),
        "QueryPageSmartShortUrlLog": (
            {"CreateDateStart": own["sent_on"], "CreateDateEnd": own["sent_on"], "PageNo": "1",
             "PageSize": "10", "ShortUrl": own["smart_url"]},
            {"CreateDateStart": own["sent_on"], "CreateDateEnd": own["sent_on"], "PageNo": "1",
             "PageSize": "10", "PhoneNumber": "13700137000"}),
        "AddShortUrl": ({"SourceUrl": "https://stranger.example/a", "ShortUrlName": "x",
                         "EffectiveDays": "30"},
                        {"SourceUrl": "https://stranger.example/b", "ShortUrlName": "x",
                         "EffectiveDays": "30"}),
        "CreateSmartShortUrl": ({"SourceUrl": own["source_url"], "PhoneNumbers": "13700137000"},
                                {"SourceUrl": "https://stranger.example/c",
                                 "PhoneNumbers": "13700137000"}),
        # Last, as they succeed: from AddSmsSign on, the stranger has a signature of its own
        # named like the owner's.  Before it, the stranger has no approved signature at all.
        "AddSmsTemplate": (template_fields, template_fields),
        "AddSmsSign": ({"SignName": sign, **sign_fields, **files},
                       {"SignName": "无此签名", **sign_fields, **files}),
    }


SIGN_UNKNOWN, TEMPLATE_UNKNOWN = "isv.SMS_SIGNATURE_ILLEGAL", "isv.SMS_TEMPLATE_ILLEGAL"
INVALID = "isv.INVALID_PARAMETERS"
ANSWERS = {
    "GetSmsSign": SIGN_UNKNOWN, "QuerySmsSign": SIGN_UNKNOWN, "DeleteSmsSign": SIGN_UNKNOWN,
    "UpdateSmsSign": SIGN_UNKNOWN, "ModifySmsSign": SIGN_UNKNOWN,
    "CreateSmsSign": INVALID,  # QualificationId … does not exist in this account
    "GetSmsTemplate": TEMPLATE_UNKNOWN, "QuerySmsTemplate": TEMPLATE_UNKNOWN,
    "DeleteSmsTemplate": TEMPLATE_UNKNOWN, "UpdateSmsTemplate": TEMPLATE_UNKNOWN,
    "ModifySmsTemplate": TEMPLATE_UNKNOWN,
    "CreateSmsTemplate": SIGN_UNKNOWN, "AddSmsTemplate": SIGN_UNKNOWN,
    "QuerySingleSmsQualification": INVALID, "UpdateSmsQualification": INVALID,
    "DeleteSmsQualification": INVALID,
    "ValidPhoneCode": "OK",  # with Data false
    "QuerySmsSignList": "OK", "QuerySmsTemplateList": "OK", "QuerySmsQualificationRecord": "OK",
    "RequiredPhoneCode": "OK",
    "SubmitSmsQualification": INVALID,  # the stranger was sent no code
    "GetQualificationOssInfo": "OK", "GetOSSInfoForUploadFile": "OK",
    "QueryTokenForMnsQueue": "InvalidQueueName",
    "SendSms": TEMPLATE_UNKNOWN, "SendBatchSms": TEMPLATE_UNKNOWN,
    "QuerySendDetails": "OK", "QuerySendStatistics": "OK",
    "SmsConversionIntl": INVALID,
    "AddSmsSign": "OK",  # a name of its own: names are per account
    "QuerySmsAuthorizationLetter": "OK", "QuerySmsTrademark": "OK",  # with Data []
    "QuerySmsAppIcpRecord": "OK",
    "CreateSmsAuthorizationLetter": "OK", "CreateSmsTrademark": "OK",  # its own, rejected
    "CreateSmsAppIcpRecord": "OK",
    "ChangeSignatureQualification": SIGN_UNKNOWN,
    "AddExtCodeSign": SIGN_UNKNOWN, "UpdateExtCodeSign": SIGN_UNKNOWN,
    "DeleteExtCodeSign": SIGN_UNKNOWN, "QueryExtCodeSign": "OK",  # with Total 0
    "GetSmsTemplateList": "OK",  # with Total 0
    "TagResources": TEMPLATE_UNKNOWN, "UntagResources": TEMPLATE_UNKNOWN,
    "ListTagResources": "OK",  # with no tag
    "QueryShortUrl": INVALID, "DeleteShortUrl": INVALID,
    "QueryPageSmartShortUrlLog": "OK",  # with TotalCount 0
    "AddShortUrl": "OK", "CreateSmartShortUrl": "OK",  # links of its own
}
"""What the stranger is answered, with the owner's names and ids and with made-up ones alike:
the refusal of a name or id that does not exist, or OK where nothing is named."""


@pytest.fixture
def owned(pigeon, server, tenant):
    core = CoreClient(server.endpoint, tenant)
    qualification = workflow.approved_qualification(core, pigeon)
    record = core.common("QuerySingleSmsQualification", {"QualificationGroupId": qualification})
    assert workflow.create_signature(core, qualification)["Code"] == "OK"
    template = workflow.create_template(core, "云雀科技")
    phone = "13900139003"  # the admin phone already had its code this minute
    certify_code = workflow.certify_code(core, pigeon, phone)
    pigeon.db.write_sync(billing.topup, tenant.account_id, 10_000, pigeon.now())
    sent = core.common("SendSms", {"PhoneNumbers": "13700137000", "SignName": "云雀科技",
                                   "TemplateCode": template["TemplateCode"],
                                   "TemplateParam": '{"code":"1234"}'})
    assert sent["Code"] == "OK", sent
    letter_fields = documents.letter_fields(core, ["云雀科技"])
    trademark_fields = documents.trademark_fields(core, "云雀科技")
    app_icp_fields = documents.app_icp_fields(core, "云雀科技")
    source_url = "https://www.lark.example/promo"
    ext_code = "0777"
    tagging = {"RegionId": "cn-hangzhou", "ResourceType": "TEMPLATE"}
    for action, params in (
            ("AddExtCodeSign", {"ExtCode": ext_code, "SignName": "云雀科技"}),
            ("TagResources", {**tagging, "ResourceId.1": template["TemplateCode"],
                              "Tag.1.Key": "team", "Tag.1.Value": "growth"})):
        assert core.common(action, params)["Code"] == "OK"
    short_url = core.common("AddShortUrl", {"SourceUrl": source_url, "ShortUrlName": "会员日",
                                            "EffectiveDays": "30"})["Data"]["ShortUrl"]
    smart_url = core.common("CreateSmartShortUrl", {"SourceUrl": source_url,
                                                    "PhoneNumbers": "13700137000"}
                            )["Model"][0]["ShortUrl"]
    return {"letter": documents.created(core.common("CreateSmsAuthorizationLetter",
                                                    letter_fields)),
            "trademark": documents.created(core.common("CreateSmsTrademark", trademark_fields)),
            "app_icp": documents.created(core.common("CreateSmsAppIcpRecord", app_icp_fields)),
            "letter_fields": letter_fields, "trademark_fields": trademark_fields,
            "app_icp_fields": app_icp_fields, "ext_code": ext_code, "short_url": short_url,
            "source_url": source_url, "smart_url": smart_url,
            "sent_to": "13700137000", "biz_id": sent["BizId"],
            "sent_on": pigeon.calendar.local_date(pigeon.now()).strftime("%Y%m%d"),
            "phone": phone, "qualification": qualification, "order": str(record["Data"]["WorkOrderId"]),
            "sign": "云雀科技", "template": template["TemplateCode"],
            "certify_code": certify_code, "client": core, "account_id": tenant.account_id}


def _answer(core, action, params):
    from aliyunsdkcore.acs_exception.exceptions import ServerException

    try:
        body = core.common(action, params)
    except ServerException as exc:
        return {"Code": exc.get_error_code(), "Status": exc.get_http_status()}
    return body


def test_every_action_is_covered_by_the_isolation_table(owned):
    assert set(load()) <= set(attempts(owned)), "add new actions to the isolation table"
    assert set(attempts(owned)) == set(ANSWERS)


def test_another_tenants_names_and_ids_are_as_good_as_nonexistent(server, other_tenant, owned):
    stranger = CoreClient(server.endpoint, other_tenant)
    assert stranger.common("QuerySmsSignList", {})["TotalCount"] == 0
    assert stranger.common("QuerySmsTemplateList", {})["TotalCount"] == 0
    assert stranger.common("QuerySmsQualificationRecord", {})["Data"]["Total"] == 0
    records = attempts(owned)
    assert stranger.common("QuerySendDetails", records["QuerySendDetails"][0])["TotalCount"] == "0"
    assert stranger.common("QuerySendStatistics",
                           records["QuerySendStatistics"][0])["Data"]["TotalSize"] == 0
    for action in ("QuerySmsAuthorizationLetter", "QuerySmsTrademark", "QuerySmsAppIcpRecord"):
        assert stranger.common(action, records[action][0])["Data"] == [], action
    assert stranger.common("QueryExtCodeSign", records["QueryExtCodeSign"][0])["Data"][
        "Total"] == 0
    assert stranger.common("GetSmsTemplateList", records["GetSmsTemplateList"][0])["Data"][
        "Total"] == 0
    assert stranger.common("ListTagResources", records["ListTagResources"][0])[
        "TagResources"]["TagResource"] == []
    assert stranger.common("QueryPageSmartShortUrlLog",
                           records["QueryPageSmartShortUrlLog"][0])["Model"]["TotalCount"] == 0

    reads = {"GetSmsSign", "QuerySmsSign", "GetSmsTemplate", "QuerySmsTemplate",
             "QuerySingleSmsQualification"}
    for action, (theirs, nothing) in attempts(owned).items():
        with_theirs = _answer(stranger, action, theirs)
        with_nothing = _answer(stranger, action, nothing)
        assert with_theirs["Code"] == ANSWERS[action], (action, with_theirs)
        assert with_nothing["Code"] == ANSWERS[action], (action, with_nothing)
        if action in reads:
            assert with_theirs["Code"] != "OK", (action, with_theirs)
            assert workflow.COMPANY not in str(with_theirs)
        if action == "ValidPhoneCode":
            assert with_theirs["Data"] is False


def test_the_owners_records_are_untouched_by_the_strangers_attempts(server, other_tenant, owned):
    stranger = CoreClient(server.endpoint, other_tenant)
    for action, (theirs, _nothing) in attempts(owned).items():
        _answer(stranger, action, theirs)
    owner = owned["client"]
    assert owner.common("GetSmsSign", {"SignName": owned["sign"]})["SignStatus"] == 1
    assert owner.common("GetSmsTemplate",
                        {"TemplateCode": owned["template"]})["TemplateStatus"] == "1"
    detail = owner.common("QuerySingleSmsQualification",
                          {"QualificationGroupId": owned["qualification"]})
    assert detail["Data"]["State"] == "PASSED"
    assert detail["Data"]["CompanyName"] == workflow.COMPANY
    records = attempts(owned)
    assert owner.common("QuerySendDetails", records["QuerySendDetails"][0])["TotalCount"] == "1"
    [code] = owner.common("QueryExtCodeSign", {"ExtCode": owned["ext_code"]})["Data"]["List"]
    assert (code["SignName"], code["Active"]) == (owned["sign"], 1)
    assert owner.common("ListTagResources", records["ListTagResources"][0])["TagResources"][
        "TagResource"] == [{"ResourceId": owned["template"], "ResourceType": "TEMPLATE",
                            "TagKey": "team", "TagValue": "growth"}]
    assert owner.common("QueryShortUrl", {"ShortUrl": owned["short_url"]})["Data"][
        "SourceUrl"] == owned["source_url"]
    [letter] = owner.common("QuerySmsAuthorizationLetter",
                            records["QuerySmsAuthorizationLetter"][0])["Data"]
    assert letter["State"] == "PASSED"
