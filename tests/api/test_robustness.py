"""Bad input gets a clear error: no parameter combination makes the server answer 500."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pigeon.api.rpc.actions import load
from tests.support import signer

PARAM_NAMES = sorted({
    "SignName", "SignSource", "SignType", "Remark", "QualificationId", "ThirdParty",
    "AuthorizationLetterId", "TrademarkId", "AppIcpRecordId", "ApplySceneContent", "MoreData",
    "TemplateCode", "TemplateName", "TemplateContent", "TemplateType", "TemplateRule",
    "RelatedSignName", "IntlType", "TrafficDriving", "PageIndex", "PageSize", "PageNo",
    "QualificationGroupId", "OrderId", "QualificationName", "UseBySelf", "WhetherShare",
    "CompanyName", "CompanyType", "OrganizationCode", "BussinessLicenseExpDate",
    "BusinessLicensePics", "OtherFiles", "LegalPersonName", "LegalPersonIDCardType",
    "LegalPersonIDCardNo", "LegalPersonIdCardEffTime", "AdminName", "AdminIDCardType",
    "AdminIDCardNo", "AdminIDCardExpDate", "AdminIDCardFrontFace", "AdminIDCardPic",
    "AdminPhoneNo", "CertifyCode", "PhoneNo", "State", "WorkOrderId", "BizType",
    "SignFileList.1.FileContents", "SignFileList.1.FileSuffix",
    "PhoneNumbers", "TemplateParam", "OutId", "SmsUpExtendCode", "PhoneNumberJson",
    "SignNameJson", "TemplateParamJson", "SmsUpExtendCodeJson", "PhoneNumber", "SendDate",
    "CurrentPage", "BizId", "IsGlobe", "StartDate", "EndDate",
    "AuthorizationLetterName", "Authorization", "ProxyAuthorization",
    "AuthorizationLetterExpDate", "AuthorizationLetterPic", "SignList",
    "AuthorizationLetterIdList", "Status", "TrademarkName", "TrademarkRegistrationNumber",
    "TrademarkApplicantName", "TrademarkEffExpDate", "TrademarkPic", "TrademarkIdList",
    "AppServiceName", "AppPrincipalUnitName", "AppIcpLicenseNumber", "AppApprovalDate",
    "AppIcpRecordPic", "Domain", "AppIcpRecordIdList", "SignatureName", "ExtCode",
    "ExistExtCode", "NewExtCode", "AuditStatus", "TemplateTag", "UsableStateList",
    "RegionId", "ResourceType", "ResourceId.1", "Tag.1.Key", "Tag.1.Value", "TagKey.1", "All",
    "NextToken", "SourceUrl", "ShortUrl", "ShortUrlName", "EffectiveDays", "CreateDateStart",
    "CreateDateEnd",
})

values = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "0", "1", "-1", "99999999999999999999", "9999999999999999999", "true", "False", "[]", "{}",
                     "[{}]", '{"a":1}', "null", "2020-01-01~2019-01-01", "SMS_1", "%", "\x00",
                     "云雀科技", "13800138000", "iVBORw0KGgo=", "png", "20240101", "99991231",
                     "00010101", '["13800138000"]', '[null]', '{"code":"1234"}']),
)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.sampled_from(sorted(load())),
       params=st.dictionaries(st.sampled_from(PARAM_NAMES), values, max_size=8))
def test_no_parameters_make_the_server_fail(server, tenant, action, params):
    signed = signer.v1_params(tenant, action, params)
    response = httpx.post(f"{server.url}/", params=signed, timeout=10)
    assert response.status_code < 500, response.text
    body = response.json()
    assert isinstance(body.get("Code"), str) and body["Code"] != "InternalError", body
    assert "Traceback" not in response.text


LAST_LONG_PAGE = str(2**62)  # a Long, but (page - 1) × PageSize is past what a BIGINT holds


@pytest.mark.parametrize(("action", "page", "items"), [
    ("QuerySmsSignList", "PageIndex", "SmsSignList"),
    ("QuerySmsTemplateList", "PageIndex", "SmsTemplateList"),
    ("QuerySmsQualificationRecord", "PageNo", "Data"),
    ("GetSmsTemplateList", "PageIndex", "Data"),
    ("QueryExtCodeSign", "PageNo", "Data"),
])
def test_a_page_far_past_the_end_is_an_empty_page(core_sdk, action, page, items):
    answer = core_sdk.common(action, {page: LAST_LONG_PAGE, "PageSize": "50"})
    assert answer["Code"] == "OK", answer
    assert (answer[items]["List"] if items == "Data" else answer[items]) == []
