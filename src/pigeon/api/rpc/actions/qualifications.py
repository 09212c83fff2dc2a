"""Qualification actions: SubmitSmsQualification, UpdateSmsQualification,
DeleteSmsQualification, QuerySmsQualificationRecord, QuerySingleSmsQualification, and the
administrator-phone check RequiredPhoneCode / ValidPhoneCode (spec/dysmsapi.md §2.19–2.24;
JSON types of spec/wire.md §6).

Two state vocabularies, both verbatim from Alibaba: the record list says
``INIT/NOT_PASS/PASS/NOT_FINISH/CANCEL``, the single view ``INT/FAILED/PASSED/NOT_FINISH/CANCELED``.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial

from pigeon.api.rpc.actions import Call, action
from pigeon.api.rpc.params import Params
from pigeon.core.errors import PigeonError
from pigeon.services import qualifications

SINGLE_STATES = {"INIT": "INT", "NOT_PASS": "FAILED", "PASS": "PASSED",
                 "NOT_FINISH": "NOT_FINISH", "CANCEL": "CANCELED"}

BOOLEANS = ("UseBySelf", "WhetherShare")
LISTS = ("BusinessLicensePics", "OtherFiles")
FIELDS = (
    "QualificationName", "UseBySelf", "WhetherShare", "CompanyName", "CompanyType",
    "OrganizationCode", "BussinessLicenseExpDate", "BusinessLicensePics", "LegalPersonName",
    "LegalPersonIDCardType", "LegalPersonIDCardNo", "LegalPersonIdCardEffTime",
    "LegalPersonIdCardFrontSide", "LegalPersonIdCardBackSide", "AdminName", "AdminIDCardType",
    "AdminIDCardNo", "AdminIDCardExpDate", "AdminIDCardFrontFace", "AdminIDCardPic",
    "AdminPhoneNo", "CertifyCode", "OtherFiles", "Remark",
)
"""Every field of SubmitSmsQualification, by wire name.  UpdateSmsQualification reads the same
list so that the rules can refuse the ones it may not change."""

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 50


def _fields(params: Params) -> dict:
    """The qualification fields of a request: text as sent (``None`` when absent or empty,
    and the two file lists when ``[]``), the two booleans parsed (``InvalidUseBySelf`` for
    anything but true/false)."""
    return {name: params.bool(name) if name in BOOLEANS
            else params.list_text(name) if name in LISTS else params.str(name)
            for name in FIELDS}


async def _count_code_attempt(call: Call, fields: dict) -> None:
    """Check CertifyCode in a transaction of its own first, so that a wrong guess counts
    against the code even though the submission then fails (and rolls back)."""
    if fields.get("AdminPhoneNo") and fields.get("CertifyCode"):
        try:
            await call.pigeon.db.write(qualifications.check_phone_code, call.account_id,
                                       fields["AdminPhoneNo"], fields["CertifyCode"], call.now)
        except PigeonError:
            pass  # the submission reports what is wrong with the phone number


@action("SubmitSmsQualification")
async def submit_sms_qualification(call: Call) -> dict:
    fields = _fields(call.params)
    await _count_code_attempt(call, fields)
    result = await call.pigeon.db.write(qualifications.submit, call.pigeon.policy,
                                        call.account_id, fields, call.now)
    return {"Success": True, "Data": str(result["id"])}


@action("UpdateSmsQualification")
async def update_sms_qualification(call: Call) -> dict:
    p = call.params
    qualification_id = p.int("QualificationGroupId", required=True)
    order_id = p.int("OrderId", required=True)
    fields = _fields(p)
    await _count_code_attempt(call, fields)
    result = await call.pigeon.db.write(qualifications.update, call.pigeon.policy,
                                        call.account_id, qualification_id, order_id,
                                        fields, call.now)
    return {"Success": True, "Data": str(result["id"])}


@action("DeleteSmsQualification")
async def delete_sms_qualification(call: Call) -> dict:
    p = call.params
    qualification_id = p.int("QualificationGroupId", required=True)
    order_id = p.int("OrderId", required=True)
    await call.pigeon.db.write(qualifications.delete, call.account_id, qualification_id,
                               order_id, call.now)
    return {"Success": True, "Data": True}


def _date(call: Call, value: datetime | None) -> str | None:
    return call.local_time(value) or None  # absent fields are left out of the answer


def _present(fields: dict) -> dict:
    """Leave out what Pigeon does not know rather than send ``null`` for a typed field."""
    return {name: value for name, value in fields.items() if value is not None}


@action("QuerySmsQualificationRecord")
async def query_sms_qualification_record(call: Call) -> dict:
    p = call.params
    page_no = p.int("PageNo", default=1, low=1)
    page_size = p.int("PageSize", default=DEFAULT_PAGE_SIZE, low=1, high=MAX_PAGE_SIZE)
    total, rows = await call.pigeon.db.read(partial(
        qualifications.query_records, account_id=call.account_id, page_no=page_no,
        page_size=page_size, company_name=p.str("CompanyName"),
        legal_person_name=p.str("LegalPersonName"), name=p.str("QualificationGroupName"),
        state=p.str("State"), use_by_self=p.bool("UseBySelf"),
        work_order_id=p.int("WorkOrderId", low=1)))
    items = [_present({
        "GroupId": row["id"],
        "QualificationGroupName": row["name"],
        "CompanyName": row["company_name"],
        "LegalPersonName": row["legal_person_name"],
        "StateName": row["state"],
        "UseBySelf": "true" if row["use_by_self"] else "false",  # a string here (spec §8.7)
        "WorkOrderId": row["order_id"],
        "CreateDate": _date(call, row["created_at"]),
        "AuditTime": _date(call, row["audit_time"]),
        "AuditRemark": row["audit_remark"],
    }) for row in rows]
    return {"Success": True,
            "Data": {"PageNo": page_no, "PageSize": page_size, "Total": total, "List": items}}


def _pictures(items: list[dict] | None, *, typed: bool) -> list[dict]:
    # Pigeon keeps no copy of OSS objects: the key the tenant gave is also its PicUrl.
    shown = []
    for item in items or ():
        picture = {"LicensePic": item["LicensePic"], "PicUrl": item["LicensePic"]}
        if typed:
            picture["Type"] = item.get("Type")
        shown.append(_present(picture))
    return shown


@action("QuerySingleSmsQualification")
async def query_single_sms_qualification(call: Call) -> dict:
    p = call.params
    qualification_id = p.int("QualificationGroupId", required=True)
    order_id = p.int("OrderId", low=1)
    row = await call.pigeon.db.read(qualifications.get_single, call.account_id,
                                    qualification_id, order_id)
    details = row["details"]
    data = {
        "QualificationGroupId": row["id"],
        "QualificationName": row["name"],
        "WorkOrderId": row["order_id"],
        "State": SINGLE_STATES.get(row["state"], row["state"]),
        "UseBySelf": row["use_by_self"],
        "WhetherShare": row["whether_share"],
        "CompanyName": row["company_name"],
        "CompanyType": details.get("CompanyType"),
        "OrganizationCode": details.get("OrganizationCode"),
        "EffTimeStr": details.get("BussinessLicenseExpDate"),
        "BusinessLicensePics": _pictures(details.get("BusinessLicensePics"), typed=True),
        "OtherFiles": _pictures(details.get("OtherFiles"), typed=False),
        "LegalPersonName": row["legal_person_name"],
        "Remark": details.get("Remark") or "",
    }
    for name in ("LegalPersonIDCardType", "LegalPersonIDCardNo", "LegalPersonIdCardEffTime",
                 "AdminName", "AdminPhoneNo", "AdminIDCardType", "AdminIDCardNo",
                 "AdminIDCardExpDate", "AdminIDCardFrontFace", "AdminIDCardPic"):
        data[name] = details.get(name)
    return {"Success": True, "Data": _present(data)}


@action("RequiredPhoneCode")
async def required_phone_code(call: Call) -> dict:
    phone = call.params.str("PhoneNo", required=True)
    await call.pigeon.db.write(qualifications.request_phone_code, call.account_id, phone,
                               call.now, call.pigeon.calendar.zone)
    return {"Success": True}


@action("ValidPhoneCode")
async def valid_phone_code(call: Call) -> dict:
    p = call.params
    phone = p.str("PhoneNo", required=True)
    code = p.str("CertifyCode", required=True)
    valid = await call.pigeon.db.write(qualifications.check_phone_code, call.account_id,
                                       phone, code, call.now)
    return {"Success": True, "Data": valid}
