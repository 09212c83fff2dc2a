"""Template actions: CreateSmsTemplate, UpdateSmsTemplate, DeleteSmsTemplate, GetSmsTemplate,
QuerySmsTemplateList, and the legacy AddSmsTemplate, ModifySmsTemplate, QuerySmsTemplate
(spec/dysmsapi.md §2.13–2.18b; JSON types of spec/wire.md §6)."""

from __future__ import annotations

import json

from pigeon.api.rpc.actions import Call, action
from pigeon.api.rpc.actions.signatures import AUDIT_STATES, reject_reason
from pigeon.services import templates

# QuerySmsTemplateList items number template types differently from every other action
# (spec/dysmsapi.md §8.6): 0 notification, 1 promotional, 2 OTP, 6 international.
INTERNAL_TYPES = {0: 2, 1: 0, 2: 1, 3: 6}


def _current_fields(call: Call) -> dict:
    p = call.params
    return {
        "name": p.str("TemplateName", required=True),
        "content": p.str("TemplateContent", required=True),
        "type": p.int("TemplateType", required=True),
        "related_sign_name": p.str("RelatedSignName"),
        "variable_attribute": p.json("TemplateRule", dict),
        "remark": p.str("Remark"),
        "intl_type": p.int("IntlType"),
        "apply_scene": p.str("ApplySceneContent"),
        "traffic_driving": p.list_text("TrafficDriving"),  # a JSON array, kept as text
        "more_data": p.json("MoreData", list),
    }


def _legacy_fields(call: Call) -> dict:
    p = call.params
    return {
        "type": p.int("TemplateType", required=True),
        "name": p.str("TemplateName", required=True),
        "content": p.str("TemplateContent", required=True),
        "remark": p.str("Remark", required=True),
    }


@action("CreateSmsTemplate")
async def create_sms_template(call: Call) -> dict:
    return await call.pigeon.db.write(templates.create, call.pigeon.policy, call.account_id,
                                      _current_fields(call), call.now)


@action("UpdateSmsTemplate")
async def update_sms_template(call: Call) -> dict:
    code = call.params.str("TemplateCode", required=True)
    return await call.pigeon.db.write(templates.modify, call.pigeon.policy, call.account_id,
                                      code, _current_fields(call), call.now)


@action("AddSmsTemplate")
async def add_sms_template(call: Call) -> dict:
    answer = await call.pigeon.db.write(_add_legacy, call, _legacy_fields(call))
    return {"TemplateCode": answer["TemplateCode"]}


def _add_legacy(conn, call: Call, fields: dict) -> dict:
    return templates.create(conn, call.pigeon.policy, call.account_id, fields, call.now,
                            legacy=True)


@action("ModifySmsTemplate")
async def modify_sms_template(call: Call) -> dict:
    code = call.params.str("TemplateCode", required=True)
    answer = await call.pigeon.db.write(_modify_legacy, call, code, _legacy_fields(call))
    return {"TemplateCode": answer["TemplateCode"]}


def _modify_legacy(conn, call: Call, code: str, fields: dict) -> dict:
    return templates.modify(conn, call.pigeon.policy, call.account_id, code, fields, call.now,
                            legacy=True)


@action("DeleteSmsTemplate")
async def delete_sms_template(call: Call) -> dict:
    code = call.params.str("TemplateCode", required=True)
    return await call.pigeon.db.write(templates.remove, call.account_id, code, call.now)


@action("GetSmsTemplate")
async def get_sms_template(call: Call) -> dict:
    code = call.params.str("TemplateCode", required=True)
    row = await call.pigeon.db.read(templates.get, call.account_id, code)
    answer = {
        "TemplateCode": row["code"],
        "TemplateName": row["name"],
        "TemplateContent": row["content"],
        "TemplateType": str(row["type"]),
        "TemplateStatus": str(row["status"]),
        "TemplateTag": 2,
        "RelatedSignName": row["related_sign_name"] or "",
        "SignList": {"SignList": [row["related_sign_name"]] if row["related_sign_name"] else []},
        "VariableAttribute": json.dumps(row["variable_attribute"], ensure_ascii=False)
        if row["variable_attribute"] else "",
        "ApplyScene": row["apply_scene"] or "",
        "Remark": row["remark"] or "",
        "OrderId": str(row["order_id"] or ""),
        "CreateDate": call.local_time(row["created_at"]),
        "AuditInfo": {"RejectInfo": row["reject_info"] or "",
                      "AuditDate": call.local_time(row["audit_date"])},
        "FileUrlList": {"FileUrl": []},
        "MoreDataFileUrlList": {"MoreDataFileUrl": list(row["more_data"] or [])},
        "VendorAuditStatus": {},
    }
    if row["intl_type"] is not None:
        answer["IntlType"] = row["intl_type"]
    return answer


@action("QuerySmsTemplate")
async def query_sms_template(call: Call) -> dict:
    code = call.params.str("TemplateCode", required=True)
    row = await call.pigeon.db.read(templates.get, call.account_id, code)
    return {"TemplateCode": row["code"], "TemplateName": row["name"],
            "TemplateContent": row["content"], "TemplateStatus": row["status"],
            "TemplateType": row["type"], "Reason": row["reject_info"] or "",
            "CreateDate": call.local_time(row["created_at"])}


@action("QuerySmsTemplateList")
async def query_sms_template_list(call: Call) -> dict:
    page_index = call.params.int("PageIndex", default=1, low=1)
    page_size = call.params.int("PageSize", default=10, low=1, high=50)
    total, rows = await call.pigeon.db.read(templates.page, call.account_id, page_index,
                                            page_size)
    items = [{
        "TemplateCode": row["code"],
        "TemplateName": row["name"],
        "TemplateContent": row["content"],
        "CreateDate": call.local_time(row["created_at"]),
        "OrderId": str(row["order_id"] or ""),
        "SignatureName": row["related_sign_name"] or "",
        "TrafficDriving": row["traffic_driving"] or "",
        "AuditStatus": AUDIT_STATES.get(row["status"], "AUDIT_STATE_INIT"),
        "Reason": reject_reason(call, row),
        "TemplateType": INTERNAL_TYPES.get(row["type"], row["type"]),
        "OuterTemplateType": row["type"],
    } for row in rows]
    return {"CurrentPage": page_index, "PageSize": page_size, "TotalCount": total,
            "SmsTemplateList": items}


@action("GetSmsTemplateList")
async def get_sms_template_list(call: Call) -> dict:
    """The newer list (spec §2.18b): filters, and each template's tags.  ``AuditStatus`` and
    ``TemplateType`` use GetSmsTemplate's numbering; ``UsableStateList`` is ``USABLE`` (an
    approved template) or ``UNUSABLE`` — Alibaba documents neither vocabulary."""
    p = call.params
    page_index = p.int("PageIndex", default=1, low=1)
    page_size = p.int("PageSize", default=10, low=1, high=50)
    usable = p.json("UsableStateList", list)
    total, rows = await call.pigeon.db.read(
        templates.search, call.account_id, page_no=page_index, page_size=page_size,
        code=p.str("TemplateCode"), name=p.str("TemplateName"), sign_name=p.str("SignName"),
        template_type=p.int("TemplateType"), status=p.int("AuditStatus"),
        tag=p.str("TemplateTag"),
        usable=None if usable is None else [str(state) for state in usable])
    items = [{
        "TemplateCode": row["code"],
        "TemplateName": row["name"],
        "TemplateContent": row["content"],
        "TemplateType": row["type"],
        "AuditStatus": row["status"],
        "SignName": row["related_sign_name"] or "",
        "GmtCreate": call.local_time(row["created_at"]),
        "WorkOrderId": str(row["order_id"] or ""),
        "UsableStateList": templates.usable_states(row),
        "TemplateTag": [{"TagKey": key, "TagValue": value} for key, value in row["tags"].items()],
    } for row in rows]
    return {"Data": {"PageNo": page_index, "PageSize": page_size, "Total": total, "List": items},
            "Success": True}
