"""Signature actions: CreateSmsSign, UpdateSmsSign, DeleteSmsSign, GetSmsSign,
QuerySmsSignList, and the legacy AddSmsSign, ModifySmsSign, QuerySmsSign
(spec/dysmsapi.md §2.5–2.12; JSON types of spec/wire.md §6)."""

from __future__ import annotations

from pigeon.api.rpc.actions import Call, action
from pigeon.services import signatures

AUDIT_STATES = {0: "AUDIT_STATE_INIT", 1: "AUDIT_STATE_PASS", 2: "AUDIT_STATE_NOT_PASS",
                10: "AUDIT_STATE_CANCEL"}
BUSINESS_TYPES = {0: "验证码类型", 1: "通用类型"}


def _current_fields(call: Call) -> dict:
    p = call.params
    return {
        "name": p.str("SignName", required=True),
        "source": p.int("SignSource", required=True),
        "qualification_id": p.int("QualificationId", required=True),
        "sign_type": p.int("SignType", default=1),
        "remark": p.str("Remark"),
        "third_party": p.bool("ThirdParty", default=False),
        "authorization_letter_id": p.int("AuthorizationLetterId", low=1),
        "trademark_id": p.int("TrademarkId", low=1),
        "app_icp_record_id": p.int("AppIcpRecordId", low=1),
        "apply_scene": p.str("ApplySceneContent"),
        "more_data": p.json("MoreData", list),
    }


def _legacy_fields(call: Call) -> tuple[dict, list[dict]]:
    p = call.params
    fields = {
        "name": p.str("SignName", required=True),
        "source": p.int("SignSource", required=True),
        "sign_type": p.int("SignType", default=1),
        "remark": p.str("Remark", required=True),
    }
    return fields, p.flat_list("SignFileList")


@action("CreateSmsSign")
async def create_sms_sign(call: Call) -> dict:
    return await call.pigeon.db.write(signatures.create, call.pigeon.policy, call.account_id,
                                      _current_fields(call), call.now)


@action("UpdateSmsSign")
async def update_sms_sign(call: Call) -> dict:
    return await call.pigeon.db.write(signatures.modify, call.pigeon.policy, call.account_id,
                                      _current_fields(call), call.now)


@action("AddSmsSign")
async def add_sms_sign(call: Call) -> dict:
    fields, sign_files = _legacy_fields(call)
    answer = await call.pigeon.db.write(_legacy, signatures.create, call, fields, sign_files)
    return {"SignName": answer["SignName"]}


@action("ModifySmsSign")
async def modify_sms_sign(call: Call) -> dict:
    fields, sign_files = _legacy_fields(call)
    answer = await call.pigeon.db.write(_legacy, signatures.modify, call, fields, sign_files)
    return {"SignName": answer["SignName"]}


def _legacy(conn, operation, call: Call, fields: dict, sign_files: list[dict]) -> dict:
    return operation(conn, call.pigeon.policy, call.account_id, fields, call.now, legacy=True,
                     sign_files=sign_files)


@action("DeleteSmsSign")
async def delete_sms_sign(call: Call) -> dict:
    name = call.params.str("SignName", required=True)
    return await call.pigeon.db.write(signatures.remove, call.account_id, name, call.now)


def reject_reason(call: Call, row: dict) -> dict:
    """The ``Reason`` object of the list actions' items."""
    return {"RejectInfo": row["reject_info"] or "", "RejectSubInfo": "",
            "RejectDate": call.local_time(row["audit_date"]) if row["reject_info"] else ""}


def _register_result(rows: list[dict]) -> int:
    """The deprecated overall RegisterResult: 1 all registered, 0 one failed, 2 expired,
    -1 no result yet."""
    states = {r["status"] for r in rows}
    if not rows or -1 in states or -2 in states:
        return -1
    if 0 in states:
        return 0
    if 2 in states:
        return 2
    return 1


@action("GetSmsSign")
async def get_sms_sign(call: Call) -> dict:
    name = call.params.str("SignName", required=True)
    row = await call.pigeon.db.read(signatures.get, call.account_id, name)
    details = [{
        "OperatorCode": r["carrier"],
        "OperatorCompleteTime": call.local_time(r["completed_at"]),
        "RegisterStatus": r["status"],
        "RegisterStatusReasons": [{
            "ReasonCode": r["reason_code"],
            "ReasonDescList": [r["reason_text"]] if r["reason_text"] else [],
        }],
    } for r in row["registrations"]]
    answer = {
        "SignName": row["name"],
        "SignCode": f"SIGN_{row['account_id']}_{row['id']}",
        "SignStatus": row["status"],
        "AuditInfo": {"RejectInfo": row["reject_info"] or "",
                      "AuditDate": call.local_time(row["audit_date"])},
        "CreateDate": call.local_time(row["created_at"]),
        "OrderId": str(row["order_id"] or ""),
        "Remark": row["remark"] or "",
        "ApplyScene": row["apply_scene"] or "",
        "FileUrlList": [f"files/{f['id']}.{f['suffix']}" for f in row["files"]]
        + list(row["more_data"] or []),
        "SignTag": "2",
        "SignUsage": "他用" if row["third_party"] else "自用",
        "ThirdParty": bool(row["third_party"]),
        "AuthorizationLetterAuditPass": row["letter_approved"],
        "RegisterResult": _register_result(row["registrations"]),
        "SignIspRegisterDetailList": details,
    }
    for wire, column in (("QualificationId", "qualification_id"),
                         ("AuthorizationLetterId", "authorization_letter_id"),
                         ("TrademarkId", "trademark_id"), ("AppIcpRecordId", "app_icp_record_id")):
        if row[column] is not None:
            answer[wire] = row[column]
    return answer


@action("QuerySmsSign")
async def query_sms_sign(call: Call) -> dict:
    name = call.params.str("SignName", required=True)
    row = await call.pigeon.db.read(signatures.require, call.account_id, name)
    return {"SignName": row["name"], "SignStatus": row["status"],
            "Reason": row["reject_info"] or "", "CreateDate": call.local_time(row["created_at"])}


@action("QuerySmsSignList")
async def query_sms_sign_list(call: Call) -> dict:
    page_index = call.params.int("PageIndex", default=1, low=1)
    page_size = call.params.int("PageSize", default=10, low=1, high=50)
    total, rows = await call.pigeon.db.read(signatures.page, call.account_id, page_index,
                                            page_size)
    items = []
    for row in rows:
        item = {
            "SignName": row["name"],
            "AuditStatus": AUDIT_STATES.get(row["status"], "AUDIT_STATE_INIT"),
            "CreateDate": call.local_time(row["created_at"]),
            "BusinessType": BUSINESS_TYPES.get(row["sign_type"], "通用类型"),
            "OrderId": str(row["order_id"] or ""),
            "Reason": reject_reason(call, row),
            "authorizationLetterAuditPass": row["letter_approved"],
        }
        for wire, column in (("AuthorizationLetterId", "authorization_letter_id"),
                             ("TrademarkId", "trademark_id"),
                             ("AppIcpRecordId", "app_icp_record_id")):
            if row[column] is not None:
                item[wire] = row[column]
        items.append(item)
    return {"CurrentPage": page_index, "PageSize": page_size, "TotalCount": total,
            "SmsSignList": items}
