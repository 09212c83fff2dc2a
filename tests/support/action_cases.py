"""Every implemented action with the parameters a caller gives it, for tests that call each
action through each official SDK (tests/api/test_sdk_matrix.py).

A :class:`Stage` is one tenant set up the way the seed's workflow leaves it — an approved
qualification, an approved general signature, approved templates, money and a message sent
today — plus fresh objects for the calls that use one up (a rejected template for
UpdateSmsTemplate, a phone code for SubmitSmsQualification …).  :data:`CASES` gives, per
action, a function of the stage answering a :class:`Case`: the parameters the call needs, the
optional ones set to valid values, and the ``Code`` expected.

Values are typed as the Tea SDKs' request models hold them: ``str``, ``int``, ``bool``, and
``list`` for the parameters the SDKs send as JSON text or flatten (``MoreData``,
``BusinessLicensePics``, ``OtherFiles``, ``SignFileList``); each client turns them into what
its users pass.
"""

from __future__ import annotations

import base64
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from pigeon.services import billing, qualifications
from tests.support import workflow
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

# Numbers unique across every tenant of a run: a number gets one verification code a minute,
# and a virtual handset's inbox is shared by all tenants.
_numbers = (f"1390000{n:04d}" for n in itertools.count())


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

def _sign_options(stage: Stage) -> dict:
    return {"SignType": 1, "Remark": "用于会员通知", "ThirdParty": True,
            "AuthorizationLetterId": 3001, "TrademarkId": 3002, "AppIcpRecordId": 3003,
            "ApplySceneContent": "https://www.example.com/app",
            "MoreData": [f"{stage.tenant.account_id}/more-data/proof.png"], **DELEGATION}


def create_sms_sign(stage: Stage) -> Case:
    return Case(required={"SignName": stage.name("云雀"), "SignSource": 0,
                          "QualificationId": stage.qualification},
                optional=_sign_options(stage))


def update_sms_sign(stage: Stage) -> Case:
    return Case(required={"SignName": stage.signature(rejected=True), "SignSource": 0,
                          "QualificationId": stage.qualification},
                optional=_sign_options(stage))


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
}
