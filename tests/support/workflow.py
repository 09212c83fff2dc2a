"""Walk a tenant through the compliance workflow with the official SDK (aliyunsdkcore's
generic CommonRequest), as a tenant would: phone code → qualification → signature → template."""

from __future__ import annotations

from pigeon.services import handsets, review

ADMIN_PHONE = "13800138000"
COMPANY = "杭州云雀科技有限公司"

QUALIFICATION = {
    "QualificationName": "云雀科技资质",
    "UseBySelf": "true",
    "WhetherShare": "false",
    "CompanyName": COMPANY,
    "CompanyType": "COMPANY",
    "OrganizationCode": "91350100M000100Y43",
    "BussinessLicenseExpDate": "2020-01-01~2099-12-31",
    "LegalPersonName": "张三",
    "LegalPersonIDCardType": "identityCard",
    "LegalPersonIDCardNo": "11010519491231002X",
    "LegalPersonIdCardEffTime": "2020-01-01~2040-01-01",
    "AdminName": "李四",
    "AdminIDCardType": "identityCard",
    "AdminIDCardNo": "11010519491231002X",
    "AdminIDCardExpDate": "2020-01-01~2040-01-01",
    "AdminIDCardFrontFace": "qualification/admin-front.png",
    "AdminIDCardPic": "qualification/admin-back.png",
    "AdminPhoneNo": ADMIN_PHONE,
}


def certify_code(core, pigeon, phone: str = ADMIN_PHONE) -> str:
    answer = core.common("RequiredPhoneCode", {"PhoneNo": phone})
    assert answer["Code"] == "OK", answer
    inbox = pigeon.db.read_sync(handsets.inbox, phone)
    text = inbox[0]["text"]
    return "".join(ch for ch in text if ch.isdigit())[:6]


def submit_qualification(core, pigeon, **overrides) -> dict:
    fields = {**QUALIFICATION, **overrides}
    if "CertifyCode" not in fields:
        fields["CertifyCode"] = certify_code(core, pigeon, fields["AdminPhoneNo"])
    return core.common("SubmitSmsQualification", fields)


def approved_qualification(core, pigeon, **overrides) -> str:
    answer = submit_qualification(core, pigeon, **overrides)
    assert answer["Code"] == "OK", answer
    return answer["Data"]


def create_signature(core, qualification_id: str, name: str = "云雀科技", **extra) -> dict:
    return core.common("CreateSmsSign", {"SignName": name, "SignSource": "0",
                                         "QualificationId": qualification_id,
                                         "SignType": "1", "Remark": "用于会员通知", **extra})


def create_template(core, sign_name: str, **fields) -> dict:
    params = {"TemplateName": "登录验证码", "TemplateType": "0",
              "TemplateContent": "您的验证码为${code}，5分钟内有效，请勿泄露于他人。",
              "TemplateRule": '{"code":"numberCaptcha"}', "RelatedSignName": sign_name,
              "Remark": "用户登录"}
    params.update(fields)
    return core.common("CreateSmsTemplate", params)


def decide(pigeon, kind: str, name, *, approved: bool, reason: str = "") -> None:
    """An operator's review decision on the ``kind`` (qualification, signature, template…)
    named ``name``, through the review service the operator pages call."""
    pigeon.db.write_sync(lambda conn: review.decide_by_name(
        conn, pigeon.policy, kind, str(name), approved=approved, reason=reason,
        decided_by="operator:ops@pigeon.example", now=pigeon.now()))


def history(pigeon, kind: str, name: str) -> list[str]:
    """The review statuses ``kind`` ``name`` went through, oldest first."""
    return [h["status"] for h in pigeon.db.read_sync(review.describe, kind, name)["history"]]
