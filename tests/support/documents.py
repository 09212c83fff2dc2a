"""Signature documents through the official SDK (aliyunsdkcore's CommonRequest), as a tenant
makes them: the picture uploaded to Pigeon's OSS-style endpoint first, then
CreateSmsAuthorizationLetter / CreateSmsTrademark / CreateSmsAppIcpRecord."""

from __future__ import annotations

import itertools
import json

import httpx

from tests.support import workflow
from tests.support.images import png_bytes

LONG_TERM = "2020-01-01~2099-12-31"
_names = itertools.count(1)


def upload_picture(core, name: str | None = None) -> str:
    """Upload a PNG as GetQualificationOssInfo's credentials allow; its object key."""
    grant = core.common("GetQualificationOssInfo", {"BizType": "dysms"})["Data"]
    key = f"{grant['StartPath']}{name or f'document-{next(_names)}'}.png"
    response = httpx.post(grant["Host"], files=[
        ("key", (None, key)), ("policy", (None, grant["Policy"])),
        ("OSSAccessKeyId", (None, grant["AccessKeyId"])), ("Signature", (None, grant["Signature"])),
        ("file", ("picture.png", png_bytes(), "image/png"))], timeout=30)
    assert response.status_code == 204, response.text
    return key


def letter_fields(core, sign_names: list[str], **overrides) -> dict:
    fields = {"AuthorizationLetterName": "云雀科技授权书", "Authorization": workflow.COMPANY,
              "ProxyAuthorization": "杭州白鹭网络有限公司",
              "OrganizationCode": workflow.QUALIFICATION["OrganizationCode"],
              "AuthorizationLetterExpDate": LONG_TERM,
              "SignList": json.dumps(sign_names, ensure_ascii=False)}
    fields.update(overrides)
    if "AuthorizationLetterPic" not in fields:
        fields["AuthorizationLetterPic"] = upload_picture(core)
    return fields


def letter(core, sign_names: list[str], **overrides) -> dict:
    return core.common("CreateSmsAuthorizationLetter", letter_fields(core, sign_names, **overrides))


def trademark_fields(core, name: str, **overrides) -> dict:
    fields = {"TrademarkName": name, "TrademarkRegistrationNumber": "56781234",
              "TrademarkApplicantName": workflow.COMPANY, "TrademarkEffExpDate": LONG_TERM}
    fields.update(overrides)
    if "TrademarkPic" not in fields:
        fields["TrademarkPic"] = upload_picture(core)
    return fields


def trademark(core, name: str, **overrides) -> dict:
    return core.common("CreateSmsTrademark", trademark_fields(core, name, **overrides))


def app_icp_fields(core, name: str, **overrides) -> dict:
    fields = {"AppServiceName": name, "AppPrincipalUnitName": workflow.COMPANY,
              "AppIcpLicenseNumber": "浙ICP备20230001号", "AppApprovalDate": "2023-05-01",
              "Domain": "www.lark.example"}
    fields.update(overrides)
    if "AppIcpRecordPic" not in fields:
        fields["AppIcpRecordPic"] = upload_picture(core)
    return fields


def app_icp(core, name: str, **overrides) -> dict:
    return core.common("CreateSmsAppIcpRecord", app_icp_fields(core, name, **overrides))


def created(answer: dict) -> int:
    """The id a Create action answered (as its string ``Data``)."""
    assert answer["Code"] == "OK" and answer["Success"] is True, answer
    return int(answer["Data"])
