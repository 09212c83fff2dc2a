"""Signature documents: CreateSmsAuthorizationLetter, QuerySmsAuthorizationLetter,
CreateSmsTrademark, QuerySmsTrademark, CreateSmsAppIcpRecord, QuerySmsAppIcpRecord, and
ChangeSignatureQualification (spec/dysmsapi.md §1.2.C/E, §2.24).

JSON types as the SDK's models declare them: the Create actions' ``Data`` is the new id as a
**string**, the Query actions' ids are numbers; picture fields are the object keys given, and
their ``…PicUrl`` the same key (Pigeon keeps no copy at another address, as for qualifications).
Query actions leave out ids that are not the account's, as ids that do not exist.
"""

from __future__ import annotations

from pigeon.api.rpc.actions import Call, action
from pigeon.core import document_rules
from pigeon.core.document_rules import APP_ICP, LETTER, TRADEMARK
from pigeon.core.errors import PigeonError
from pigeon.services import sign_documents, signatures


def _fields(call: Call, kind: str) -> dict:
    return {name: call.params.str(name) for name in document_rules.FIELDS[kind]}


async def _create(call: Call, kind: str, fields: dict) -> dict:
    answer = await call.pigeon.db.write(sign_documents.create, call.pigeon.policy,
                                        call.account_id, kind, fields, call.now)
    return {"Data": str(answer["id"]), "Success": True}


def _ids(call: Call, name: str, *, required: bool) -> list[int] | None:
    """A JSON array of ids (``[1,2]``; digit strings too): the ids, or ``None`` when an
    optional one is not given."""
    values = call.params.json(name, list, required=required)
    if values is None:
        return None
    ids = []
    for value in values:
        if isinstance(value, bool) or not (isinstance(value, int) or
                                           (isinstance(value, str) and value.isdigit())):
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"{name} must be a JSON array of ids such as [1001], got "
                              f"{value!r} in it.")
        ids.append(int(value))
    return ids


# -- authorisation letters ---------------------------------------------------------------------

@action("CreateSmsAuthorizationLetter")
async def create_sms_authorization_letter(call: Call) -> dict:
    fields = _fields(call, LETTER)
    fields["SignList"] = call.params.json("SignList", list, required=True)
    return await _create(call, LETTER, fields)


@action("QuerySmsAuthorizationLetter")
async def query_sms_authorization_letter(call: Call) -> dict:
    p = call.params
    rows = await call.pigeon.db.read(
        sign_documents.letters, call.account_id,
        ids=_ids(call, "AuthorizationLetterIdList", required=False),
        organization_code=p.str("OrganizationCode"), sign_name=p.str("SignName"),
        state=p.str("State"), status=p.str("Status"),
        today=call.pigeon.calendar.local_date(call.now))
    data = []
    for row in rows:
        details = row["details"]
        data.append({
            "AuthorizationLetterId": row["id"],
            "AuthorizationLetterName": details["AuthorizationLetterName"],
            "Authorization": details["Authorization"],
            "ProxyAuthorization": details["ProxyAuthorization"],
            "OrganizationCode": details["OrganizationCode"],
            "AuthorizationLetterExpDate": details["AuthorizationLetterExpDate"],
            "AuthorizationLetterPic": details["AuthorizationLetterPic"],
            "SignScope": "、".join(details["SignList"]),
            "State": sign_documents.LETTER_STATES.get(row["state"], row["state"]),
            "Status": "VALID" if row["valid"] else "INVALID",
        })
    return {"Data": data, "Success": True}


# -- trademarks --------------------------------------------------------------------------------

@action("CreateSmsTrademark")
async def create_sms_trademark(call: Call) -> dict:
    return await _create(call, TRADEMARK, _fields(call, TRADEMARK))


@action("QuerySmsTrademark")
async def query_sms_trademark(call: Call) -> dict:
    ids = _ids(call, "TrademarkIdList", required=True)
    rows = await call.pigeon.db.read(sign_documents.listed, call.account_id, TRADEMARK, ids)
    return {"Data": [{
        "TrademarkId": row["id"],
        "TrademarkName": row["details"]["TrademarkName"],
        "TrademarkApplicantName": row["details"]["TrademarkApplicantName"],
        "TrademarkRegistrationNumber": row["details"]["TrademarkRegistrationNumber"],
        "TrademarkEffExpDate": row["details"]["TrademarkEffExpDate"],
        "TrademarkPic": row["details"]["TrademarkPic"],
        "TrademarkPicUrl": row["details"]["TrademarkPic"],
    } for row in rows], "Success": True}


# -- app ICP filings ---------------------------------------------------------------------------

@action("CreateSmsAppIcpRecord")
async def create_sms_app_icp_record(call: Call) -> dict:
    return await _create(call, APP_ICP, _fields(call, APP_ICP))


@action("QuerySmsAppIcpRecord")
async def query_sms_app_icp_record(call: Call) -> dict:
    ids = _ids(call, "AppIcpRecordIdList", required=True)
    rows = await call.pigeon.db.read(sign_documents.listed, call.account_id, APP_ICP, ids)
    data = []
    for row in rows:
        details = row["details"]
        item = {"AppIcpRecordId": row["id"]}
        for field in ("AppServiceName", "AppPrincipalUnitName", "AppIcpLicenseNumber",
                      "AppApprovalDate", "Domain"):
            item[field] = details[field]
        for field in document_rules.PICTURES[APP_ICP]:
            item[field] = details.get(field, "")
            item[f"{field}Url"] = details.get(field, "")
        data.append(item)
    return {"Data": data, "Success": True}


# -- a signature's qualification -------------------------------------------------------------

@action("ChangeSignatureQualification")
async def change_signature_qualification(call: Call) -> dict:
    p = call.params
    await call.pigeon.db.write(
        signatures.change_qualification, call.pigeon.policy, call.account_id,
        p.str("SignatureName", required=True), p.int("QualificationId", required=True),
        p.int("AuthorizationLetterId", low=1), call.now)
    return {"Success": True,
            "Data": {"Success": True, "ErrCode": "", "ErrMessage": "", "Data": {}}}
