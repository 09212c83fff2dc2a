"""Every implemented action with the parameters a caller gives it, for tests that call each
action through each official SDK (tests/api/test_sdk_matrix.py).

A :class:`Stage` is one tenant set up the way the seed's workflow leaves it — an approved
qualification, an approved general signature, approved templates, money and a message sent
today — plus fresh objects for the calls that use one up (a rejected template for
UpdateSmsTemplate, a phone code for SubmitSmsQualification …).  :data:`CASES` gives, per
action, a function of the stage answering a :class:`Case`: the parameters the call needs, the
optional ones set to valid values, and the ``Code`` expected.

Values are typed as the Tea SDKs' request models hold them: ``str``, ``int``, ``bool``, and
``list`` for the parameters the SDKs send as JSON text (``MoreData``, ``BusinessLicensePics``,
``OtherFiles``, ``SignList``, ``TrademarkIdList`` …) or flatten (:data:`FLATTENED`:
``SignFileList``, ``ResourceId``, ``Tag``, ``TagKey``); each client turns them into what its
users pass.
"""

from __future__ import annotations

import base64
import functools
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from pigeon.core.id_numbers import social_credit_check_char
from pigeon.services import billing, qualifications
from tests.support import documents, workflow
from tests.support.images import png_bytes

SIGN = "云雀科技"  # matches the qualification's company (杭州云雀科技有限公司): approved
LONG_TERM = "2020-01-01~2099-12-31"
EXPIRED = "2000-01-01~2001-01-01"  # the reviewer rejects a qualification with this licence
DELEGATION = {"OwnerId": 1001, "ResourceOwnerAccount": "lark-ops", "ResourceOwnerId": 1002}
"""Alibaba's account-delegation parameters, in every action's model: accepted and ignored."""

POSITIVE = frozenset({"PageNo", "PageIndex", "PageSize", "WorkOrderId", "OrderId",
                      "AuthorizationLetterId", "TrademarkId", "AppIcpRecordId", "ConversionTime",
                      "OwnerId", "ResourceOwnerId"})
"""The optional integers of the cases that have only positive values."""

PNG = base64.b64encode(png_bytes()).decode()
FLATTENED = frozenset({"SignFileList", "ResourceId", "Tag", "TagKey"})
"""List parameters the SDKs send flattened (``Tag.1.Key``), not as JSON text."""
_FIRST17 = "91330106MA2B3C4D5"
THIRD_PARTY_CODE = _FIRST17 + social_credit_check_char(_FIRST17)
"""The credit code of the company a third-party signature sends for (杭州白鹭网络有限公司)."""

# Numbers unique across every tenant of a run: a number gets one verification code a minute,
# and a virtual handset's inbox is shared by all tenants.
_numbers = (f"1390000{n:04d}" for n in itertools.count())
# Extension codes are unique on the platform.  Pigeon's own never begin with 0, so these never
# begin (nor are begun by) one of them, and all have the same length.
_ext_codes = (f"0{n:07d}" for n in itertools.count(1))


@dataclass
class Case:
    required: dict
    optional: dict = field(default_factory=dict)
    expect: str = "OK"


def blank(name: str, value):
    """The empty value of an optional parameter: what a client sends for a field its caller
    left at the default, or code passing a form's empty fields along: ``""`` for text (``"[]"``
    for a JSON array given as text), ``[]`` for a list, ``0`` for a number with only positive
    values (a client whose integers default to 0).  ``None`` where there is no such value: a
    boolean, or a number whose 0 means something (``SignType=0`` is an OTP signature)."""
    if isinstance(value, str):
        return "[]" if value.startswith("[") else ""
    if isinstance(value, list):
        return []
    if isinstance(value, int) and not isinstance(value, bool) and name in POSITIVE:
        return 0
    return None


class Stage:
    """A tenant ready for every action, reached through ``core`` (aliyunsdkcore's
    CommonRequest) as in tests/support/workflow.py."""

    def __init__(self, pigeon, core, tenant) -> None:
        self.pigeon, self.core, self.tenant = pigeon, core, tenant
        self._names = itertools.count(1)
        self.qualification = int(workflow.approved_qualification(
            core, pigeon, AdminPhoneNo=self.phone()))
        self.order_id = self._work_order(self.qualification)
        self._ok(workflow.create_signature(core, str(self.qualification), SIGN))
        self.otp = self.template()
        self.notice = self.template(TemplateName="发货通知", TemplateType="1",
                                    TemplateContent="您的订单${order}已发货，请注意查收。",
                                    TemplateRule='{"order":"other_number2"}')
        self.plain_notice = self.template(TemplateName="到货通知", TemplateType="1",
                                          TemplateContent="您的包裹已到驿站，请及时取件。",
                                          TemplateRule="")
        pigeon.db.write_sync(billing.topup, tenant.account_id, 100_000, pigeon.now(),
                             "test money")
        self.sent_phone = self.phone()
        self.biz_id = self._ok(core.common("SendSms", {
            "PhoneNumbers": self.sent_phone, "SignName": SIGN,
            "TemplateCode": self.plain_notice}))["BizId"]
        self.today = pigeon.calendar.local_date(pigeon.now()).strftime("%Y%m%d")

    @staticmethod
    def _ok(answer: dict) -> dict:
        assert answer["Code"] == "OK", answer
        return answer

    def phone(self) -> str:
        return next(_numbers)

    def name(self, prefix: str) -> str:
        """A name no other object of this tenant has: ``prefix`` and a number."""
        return f"{prefix}{next(self._names)}"

    def certify_code(self, phone: str) -> str:
        return workflow.certify_code(self.core, self.pigeon, phone)

    def _work_order(self, qualification_id: int) -> int:
        row = self.pigeon.db.read_sync(qualifications.get_single, self.tenant.account_id,
                                       qualification_id)
        return row["order_id"]

    def rejected_qualification(self) -> tuple[int, int]:
        """``(QualificationGroupId, OrderId)`` of a qualification the reviewer rejected."""
        answer = self._ok(workflow.submit_qualification(
            self.core, self.pigeon, AdminPhoneNo=self.phone(),
            QualificationName=self.name("云雀资质"), BussinessLicenseExpDate=EXPIRED))
        qualification_id = int(answer["Data"])
        return qualification_id, self._work_order(qualification_id)

    def signature(self, *, rejected: bool = False) -> str:
        """An approved signature (AddSmsSign with a proof file), or a rejected one
        (CreateSmsSign with a name unrelated to the qualification's company)."""
        if rejected:
            name = self.name("白鹭航空")
            self._ok(workflow.create_signature(self.core, str(self.qualification), name))
        else:
            name = self.name("云雀")
            self._ok(self.core.common("AddSmsSign", {
                "SignName": name, "SignSource": "0", "Remark": "用于会员通知",
                "SignFileList.1.FileContents": PNG, "SignFileList.1.FileSuffix": "png"}))
        status = self.core.common("GetSmsSign", {"SignName": name})["SignStatus"]
        assert status == (2 if rejected else 1), (name, status)
        return name

    def template(self, *, rejected: bool = False, **fields) -> str:
        """An approved template (by default an OTP one), or a rejected one (a notification
        with opt-out text)."""
        if rejected:
            fields = {"TemplateName": "取件提醒", "TemplateType": "1", "TemplateRule": "",
                      "TemplateContent": "您的包裹已到驿站，请及时取件。拒收请回复R"}
        code = self._ok(workflow.create_template(self.core, SIGN, **fields))["TemplateCode"]
        status = self.core.common("GetSmsTemplate", {"TemplateCode": code})["TemplateStatus"]
        assert status == ("2" if rejected else "1"), (code, status)
        return code

    # -- documents, codes, links --------------------------------------------------------------

    @functools.cached_property
    def third_party_qualification(self) -> int:
        """An approved qualification of the company third-party signatures send for."""
        licence = documents.upload_picture(self.core)
        return int(workflow.approved_qualification(
            self.core, self.pigeon, QualificationName=self.name("白鹭网络资质"),
            UseBySelf="false", CompanyName="杭州白鹭网络有限公司",
            OrganizationCode=THIRD_PARTY_CODE, AdminPhoneNo=self.phone(),
            BusinessLicensePics=json.dumps([{"LicensePic": licence,
                                             "Type": "businessLicense"}])))

    def letter(self, names: list[str], code: str = workflow.QUALIFICATION["OrganizationCode"]
               ) -> int:
        """An approved authorisation letter for ``names`` from the company of ``code``."""
        return documents.created(documents.letter(self.core, names, OrganizationCode=code))

    def trademark(self, name: str) -> int:
        return documents.created(documents.trademark(self.core, name))

    def app_icp(self, name: str) -> int:
        return documents.created(documents.app_icp(self.core, name))

    @staticmethod
    def ext_code() -> str:
        return next(_ext_codes)

    def add_ext_code(self) -> str:
        code = self.ext_code()
        self._ok(self.core.common("AddExtCodeSign", {"ExtCode": code, "SignName": SIGN}))
        return code

    def short_url(self, source: str) -> str:
        return self._ok(self.core.common("AddShortUrl", {
            "SourceUrl": source, "ShortUrlName": "会员日", "EffectiveDays": "30"}))["Data"][
            "ShortUrl"]

    def smart_short_url(self, phone: str) -> str:
        return self._ok(self.core.common("CreateSmartShortUrl", {
            "SourceUrl": "https://www.lark.example/welcome", "PhoneNumbers": phone}))["Model"][0][
            "ShortUrl"]

    def tag_template(self) -> None:
        self._ok(self.core.common("TagResources", {
            "RegionId": "cn-hangzhou", "ResourceType": "TEMPLATE", "ResourceId.1": self.otp,
            "Tag.1.Key": "team", "Tag.1.Value": "growth"}))


def _qualification_fields(stage: Stage, phone: str) -> dict:
    return {**workflow.QUALIFICATION, "UseBySelf": True, "WhetherShare": False,
            "AdminPhoneNo": phone, "BussinessLicenseExpDate": LONG_TERM,
            "QualificationName": stage.name("云雀科技资质")}


def _licence_pictures(stage: Stage) -> list:
    return [{"LicensePic": f"{stage.tenant.account_id}/qualification/licence.png",
             "Type": "businessLicense"}]


def _other_files(stage: Stage) -> list:
    return [{"LicensePic": f"{stage.tenant.account_id}/qualification/other.pdf"}]


def _updatable(stage: Stage) -> dict:
    """Every field UpdateSmsQualification may change, with valid values."""
    fields = {name: value for name, value in workflow.QUALIFICATION.items()
              if name not in ("QualificationName", "UseBySelf", "WhetherShare", "CompanyType",
                              "OrganizationCode", "AdminPhoneNo")}
    return {**fields, "BussinessLicenseExpDate": LONG_TERM,
            "BusinessLicensePics": _licence_pictures(stage), "OtherFiles": _other_files(stage),
            "LegalPersonIdCardFrontSide": f"{stage.tenant.account_id}/qualification/front.png",
            "LegalPersonIdCardBackSide": f"{stage.tenant.account_id}/qualification/back.png"}


# -- qualifications ------------------------------------------------------------------------------

def submit_sms_qualification(stage: Stage) -> Case:
    phone = stage.phone()
    return Case(
        required={**_qualification_fields(stage, phone), "CertifyCode": stage.certify_code(phone)},
        optional={"BusinessLicensePics": _licence_pictures(stage),
                  "OtherFiles": _other_files(stage), "Remark": "会员通知资质",
                  "LegalPersonIdCardFrontSide": f"{stage.tenant.account_id}/qualification/f.png",
                  "LegalPersonIdCardBackSide": f"{stage.tenant.account_id}/qualification/b.png",
                  **DELEGATION})


def update_sms_qualification(stage: Stage) -> Case:
    qualification_id, order_id = stage.rejected_qualification()
    phone = stage.phone()
    return Case(required={"QualificationGroupId": qualification_id, "OrderId": order_id,
                          "AdminPhoneNo": phone, "CertifyCode": stage.certify_code(phone)},
                optional={**_updatable(stage), **DELEGATION})


def delete_sms_qualification(stage: Stage) -> Case:
    qualification_id, order_id = stage.rejected_qualification()
    return Case(required={"QualificationGroupId": qualification_id, "OrderId": order_id},
                optional=DELEGATION)


def query_sms_qualification_record(stage: Stage) -> Case:
    return Case(required={}, optional={
        "PageNo": 1, "PageSize": 10, "CompanyName": "云雀", "LegalPersonName": "张三",
        "QualificationGroupName": "云雀科技资质", "State": "PASS", "UseBySelf": True,
        "WorkOrderId": stage.order_id, **DELEGATION})


def query_single_sms_qualification(stage: Stage) -> Case:
    return Case(required={"QualificationGroupId": stage.qualification},
                optional={"OrderId": stage.order_id, **DELEGATION})


def required_phone_code(stage: Stage) -> Case:
    return Case(required={"PhoneNo": stage.phone()}, optional=DELEGATION)


def valid_phone_code(stage: Stage) -> Case:
    phone = stage.phone()
    return Case(required={"PhoneNo": phone, "CertifyCode": stage.certify_code(phone)},
                optional=DELEGATION)


# -- signatures ----------------------------------------------------------------------------------

def _sign_options(stage: Stage, name: str) -> dict:
    """Every optional parameter of CreateSmsSign/UpdateSmsSign, valid for the signature
    ``name``: a third-party signature (its company's qualification and letter) with the
    trademark and the ICP filing of that name."""
    return {"SignType": 1, "Remark": "用于会员通知", "ThirdParty": True,
            "QualificationId": stage.third_party_qualification,
            "AuthorizationLetterId": stage.letter([name], THIRD_PARTY_CODE),
            "TrademarkId": stage.trademark(name), "AppIcpRecordId": stage.app_icp(name),
            "ApplySceneContent": "https://www.example.com/app",
            "MoreData": [f"{stage.tenant.account_id}/more-data/proof.png"], **DELEGATION}


def create_sms_sign(stage: Stage) -> Case:
    name = stage.name("云雀")
    return Case(required={"SignName": name, "SignSource": 0,
                          "QualificationId": stage.qualification},
                optional=_sign_options(stage, name))


def update_sms_sign(stage: Stage) -> Case:
    name = stage.signature(rejected=True)
    return Case(required={"SignName": name, "SignSource": 0,
                          "QualificationId": stage.qualification},
                optional=_sign_options(stage, name))


def change_signature_qualification(stage: Stage) -> Case:
    name = stage.signature()
    return Case(required={"SignatureName": name, "QualificationId": stage.qualification},
                optional={"AuthorizationLetterId": stage.letter([name]), **DELEGATION})


# -- signature documents --------------------------------------------------------------------------

def create_sms_authorization_letter(stage: Stage) -> Case:
    fields = documents.letter_fields(stage.core, [SIGN, "云雀"])
    fields["SignList"] = json.loads(fields["SignList"])
    return Case(required=fields, optional=DELEGATION)


def query_sms_authorization_letter(stage: Stage) -> Case:
    letter = stage.letter([SIGN])
    return Case(required={}, optional={
        "AuthorizationLetterIdList": [letter], "OrganizationCode":
        workflow.QUALIFICATION["OrganizationCode"], "SignName": SIGN, "State": "PASSED",
        "Status": "VALID", **DELEGATION})


def create_sms_trademark(stage: Stage) -> Case:
    return Case(required=documents.trademark_fields(stage.core, "云雀"), optional=DELEGATION)


def query_sms_trademark(stage: Stage) -> Case:
    return Case(required={"TrademarkIdList": [stage.trademark("云雀")]}, optional=DELEGATION)


def create_sms_app_icp_record(stage: Stage) -> Case:
    return Case(required=documents.app_icp_fields(stage.core, "云雀出行"), optional={
        "AppRuntimePic": documents.upload_picture(stage.core),
        "AppStoreDownloadPic": documents.upload_picture(stage.core), **DELEGATION})


def query_sms_app_icp_record(stage: Stage) -> Case:
    return Case(required={"AppIcpRecordIdList": [stage.app_icp("云雀出行")]},
                optional=DELEGATION)


# -- extension codes -------------------------------------------------------------------------------

def add_ext_code_sign(stage: Stage) -> Case:
    return Case(required={"ExtCode": stage.ext_code(), "SignName": SIGN}, optional=DELEGATION)


def query_ext_code_sign(stage: Stage) -> Case:
    code = stage.add_ext_code()
    return Case(required={}, optional={"ExtCode": code, "SignName": SIGN, "PageNo": 1,
                                       "PageSize": 10, **DELEGATION})


def update_ext_code_sign(stage: Stage) -> Case:
    return Case(required={"SignName": SIGN, "ExistExtCode": stage.add_ext_code(),
                          "NewExtCode": stage.ext_code()}, optional=DELEGATION)


def delete_ext_code_sign(stage: Stage) -> Case:
    return Case(required={"ExtCode": stage.add_ext_code(), "SignName": SIGN},
                optional=DELEGATION)


# -- short URLs ------------------------------------------------------------------------------------

def add_short_url(stage: Stage) -> Case:
    return Case(required={"SourceUrl": "https://www.lark.example/promo?id=1",
                          "ShortUrlName": "会员日", "EffectiveDays": "30"}, optional=DELEGATION)


def query_short_url(stage: Stage) -> Case:
    return Case(required={"ShortUrl": stage.short_url("https://www.lark.example/promo?id=2")},
                optional=DELEGATION)


def delete_short_url(stage: Stage) -> Case:
    source = f"https://www.lark.example/promo?case={stage.name('delete')}"
    stage.short_url(source)
    return Case(required={"SourceUrl": source}, optional=DELEGATION)


def create_smart_short_url(stage: Stage) -> Case:
    return Case(required={"SourceUrl": "https://www.lark.example/welcome",
                          "PhoneNumbers": f"{stage.phone()},{stage.phone()}"},
                optional={"OutId": "campaign-7", **DELEGATION})


def query_page_smart_short_url_log(stage: Stage) -> Case:
    phone = stage.phone()
    link = stage.smart_short_url(phone)
    day = int(stage.today)
    return Case(required={"CreateDateStart": day, "CreateDateEnd": day, "PageNo": 1,
                          "PageSize": 10},
                optional={"PhoneNumber": phone, "ShortUrl": link, **DELEGATION})


def _sign_files() -> list:
    return [{"FileContents": PNG, "FileSuffix": "png"}]


def add_sms_sign(stage: Stage) -> Case:
    return Case(required={"SignName": stage.name("云雀"), "SignSource": 0,
                          "Remark": "用于会员通知", "SignFileList": _sign_files()},
                optional={"SignType": 1, **DELEGATION})


def modify_sms_sign(stage: Stage) -> Case:
    return Case(required={"SignName": stage.signature(rejected=True), "SignSource": 0,
                          "Remark": "用于会员通知", "SignFileList": _sign_files()},
                optional={"SignType": 1, **DELEGATION})


def delete_sms_sign(stage: Stage) -> Case:
    return Case(required={"SignName": stage.signature()}, optional=DELEGATION)


def get_sms_sign(stage: Stage) -> Case:
    return Case(required={"SignName": SIGN}, optional=DELEGATION)


def query_sms_sign(stage: Stage) -> Case:
    return Case(required={"SignName": SIGN}, optional=DELEGATION)


def query_sms_sign_list(stage: Stage) -> Case:
    return Case(required={}, optional={"PageIndex": 1, "PageSize": 10, **DELEGATION})


# -- templates -----------------------------------------------------------------------------------

NOTICE = {"TemplateName": "发货通知", "TemplateType": 1,
          "TemplateContent": "您的订单${order}已发货，请注意查收。"}
PLAIN_NOTICE = {"TemplateName": "到货通知", "TemplateType": 1,
                "TemplateContent": "您的包裹已到驿站，请及时取件。"}


def _template_options(stage: Stage) -> dict:
    return {"TemplateRule": '{"order":"other_number2"}', "Remark": "订单发货后通知买家",
            "IntlType": 0, "ApplySceneContent": "https://www.example.com/orders",
            "TrafficDriving": json.dumps([{"trafficDrivingType": "LINK_TYPE",
                                           "trafficDrivingContent": "https://www.example.com"}]),
            "MoreData": [f"{stage.tenant.account_id}/more-data/orders.png"], **DELEGATION}


def create_sms_template(stage: Stage) -> Case:
    # RelatedSignName is optional in the SDK's model but required for types 0–2 (spec §2.13),
    # and TemplateRule whenever the content has variables: the plain notice needs neither rule.
    return Case(required={**PLAIN_NOTICE, "RelatedSignName": SIGN},
                optional={**NOTICE, **_template_options(stage)})


def update_sms_template(stage: Stage) -> Case:
    return Case(required={"TemplateCode": stage.template(rejected=True), **PLAIN_NOTICE,
                          "RelatedSignName": SIGN},
                optional={**NOTICE, **_template_options(stage)})


def add_sms_template(stage: Stage) -> Case:
    return Case(required={**PLAIN_NOTICE, "Remark": "取件提醒"}, optional=DELEGATION)


def modify_sms_template(stage: Stage) -> Case:
    return Case(required={"TemplateCode": stage.template(rejected=True), **PLAIN_NOTICE,
                          "Remark": "取件提醒"}, optional=DELEGATION)


def delete_sms_template(stage: Stage) -> Case:
    return Case(required={"TemplateCode": stage.template()}, optional=DELEGATION)


def get_sms_template(stage: Stage) -> Case:
    return Case(required={"TemplateCode": stage.otp}, optional=DELEGATION)


def query_sms_template(stage: Stage) -> Case:
    return Case(required={"TemplateCode": stage.otp}, optional=DELEGATION)


def query_sms_template_list(stage: Stage) -> Case:
    return Case(required={}, optional={"PageIndex": 1, "PageSize": 10, **DELEGATION})


def get_sms_template_list(stage: Stage) -> Case:
    stage.tag_template()
    return Case(required={}, optional={
        "PageIndex": 1, "PageSize": 10, "TemplateCode": stage.otp, "TemplateName": "登录",
        "SignName": SIGN, "TemplateType": 0, "AuditStatus": 1, "TemplateTag": "team:growth",
        "UsableStateList": ["USABLE"], **DELEGATION})


TAGGING = {"RegionId": "cn-hangzhou", "ResourceType": "TEMPLATE"}


def tag_resources(stage: Stage) -> Case:
    return Case(required={**TAGGING, "ResourceId": [stage.otp],
                          "Tag": [{"Key": "team", "Value": "growth"}]},
                optional={"ProdCode": "dysms", **DELEGATION})


def untag_resources(stage: Stage) -> Case:
    stage.tag_template()
    return Case(required={**TAGGING, "ResourceId": [stage.otp]},
                optional={"TagKey": ["team"], "All": True, "ProdCode": "dysms", **DELEGATION})


def list_tag_resources(stage: Stage) -> Case:
    stage.tag_template()
    return Case(required=dict(TAGGING), optional={
        "ResourceId": [stage.otp], "Tag": [{"Key": "team", "Value": "growth"}], "PageSize": 10,
        "NextToken": "0", "ProdCode": "dysms", **DELEGATION})


# -- uploads -------------------------------------------------------------------------------------

def get_qualification_oss_info(stage: Stage) -> Case:
    return Case(required={"BizType": "dysms"}, optional=DELEGATION)


def get_oss_info_for_upload_file(stage: Stage) -> Case:
    return Case(required={}, optional={"BizType": "fcMediaSms", **DELEGATION})


# -- sending and records -------------------------------------------------------------------------

def send_sms(stage: Stage) -> Case:
    return Case(required={"PhoneNumbers": stage.phone(), "SignName": SIGN,
                          "TemplateCode": stage.plain_notice},
                optional={"TemplateCode": stage.notice, "TemplateParam": '{"order":"20260501"}',
                          "SmsUpExtendCode": "90", "OutId": "order-20260501", **DELEGATION})


def send_batch_sms(stage: Stage) -> Case:
    phones = [stage.phone(), stage.phone()]
    return Case(required={"PhoneNumberJson": json.dumps(phones), "SignNameJson": json.dumps(
        [SIGN, SIGN], ensure_ascii=False), "TemplateCode": stage.plain_notice},
        optional={"TemplateCode": stage.notice,
                  "TemplateParamJson": '[{"order":"20260501"},{"order":"20260502"}]',
                  "SmsUpExtendCodeJson": '["90","91"]', "OutId": "batch-20260501",
                  **DELEGATION})


def query_send_details(stage: Stage) -> Case:
    return Case(required={"PhoneNumber": stage.sent_phone, "SendDate": stage.today,
                          "PageSize": 10, "CurrentPage": 1},
                optional={"BizId": stage.biz_id, **DELEGATION})


def query_send_statistics(stage: Stage) -> Case:
    return Case(required={"IsGlobe": 1, "StartDate": stage.today, "EndDate": stage.today,
                          "PageIndex": 1, "PageSize": 10},
                optional={"TemplateType": 1, "SignName": SIGN, **DELEGATION})


def sms_conversion_intl(stage: Stage) -> Case:
    return Case(required={"MessageId": stage.biz_id, "Delivered": True},
                optional={"ConversionTime": 1_777_600_000_000, **DELEGATION})


def query_token_for_mns_queue(stage: Stage) -> Case:
    return Case(required={"MessageType": "SmsReport"},
                optional={"QueueName": f"Alicom-Queue-{stage.tenant.account_id}-SmsReport",
                          **DELEGATION})


CASES: dict[str, Callable[[Stage], Case]] = {
    "SubmitSmsQualification": submit_sms_qualification,
    "UpdateSmsQualification": update_sms_qualification,
    "DeleteSmsQualification": delete_sms_qualification,
    "QuerySmsQualificationRecord": query_sms_qualification_record,
    "QuerySingleSmsQualification": query_single_sms_qualification,
    "RequiredPhoneCode": required_phone_code,
    "ValidPhoneCode": valid_phone_code,
    "CreateSmsSign": create_sms_sign,
    "UpdateSmsSign": update_sms_sign,
    "AddSmsSign": add_sms_sign,
    "ModifySmsSign": modify_sms_sign,
    "DeleteSmsSign": delete_sms_sign,
    "GetSmsSign": get_sms_sign,
    "QuerySmsSign": query_sms_sign,
    "QuerySmsSignList": query_sms_sign_list,
    "CreateSmsTemplate": create_sms_template,
    "UpdateSmsTemplate": update_sms_template,
    "AddSmsTemplate": add_sms_template,
    "ModifySmsTemplate": modify_sms_template,
    "DeleteSmsTemplate": delete_sms_template,
    "GetSmsTemplate": get_sms_template,
    "QuerySmsTemplate": query_sms_template,
    "QuerySmsTemplateList": query_sms_template_list,
    "GetQualificationOssInfo": get_qualification_oss_info,
    "GetOSSInfoForUploadFile": get_oss_info_for_upload_file,
    "SendSms": send_sms,
    "SendBatchSms": send_batch_sms,
    "QuerySendDetails": query_send_details,
    "QuerySendStatistics": query_send_statistics,
    "SmsConversionIntl": sms_conversion_intl,
    "QueryTokenForMnsQueue": query_token_for_mns_queue,
    "ChangeSignatureQualification": change_signature_qualification,
    "CreateSmsAuthorizationLetter": create_sms_authorization_letter,
    "QuerySmsAuthorizationLetter": query_sms_authorization_letter,
    "CreateSmsTrademark": create_sms_trademark,
    "QuerySmsTrademark": query_sms_trademark,
    "CreateSmsAppIcpRecord": create_sms_app_icp_record,
    "QuerySmsAppIcpRecord": query_sms_app_icp_record,
    "AddExtCodeSign": add_ext_code_sign,
    "QueryExtCodeSign": query_ext_code_sign,
    "UpdateExtCodeSign": update_ext_code_sign,
    "DeleteExtCodeSign": delete_ext_code_sign,
    "GetSmsTemplateList": get_sms_template_list,
    "TagResources": tag_resources,
    "UntagResources": untag_resources,
    "ListTagResources": list_tag_resources,
    "AddShortUrl": add_short_url,
    "QueryShortUrl": query_short_url,
    "DeleteShortUrl": delete_short_url,
    "CreateSmartShortUrl": create_smart_short_url,
    "QueryPageSmartShortUrlLog": query_page_smart_short_url_log,
}
