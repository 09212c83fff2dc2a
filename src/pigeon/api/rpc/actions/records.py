"""QuerySendDetails and QuerySendStatistics (spec/dysmsapi.md §2.3–2.4; JSON types of
spec/wire.md §6: QuerySendDetails' ``TotalCount`` is a string, ``SendStatus`` a number;
every QuerySendStatistics count is a number)."""

from __future__ import annotations

from pigeon.api.rpc.actions import Call, action
from pigeon.core import days
from pigeon.core.errors import PigeonError
from pigeon.core.limits import TEMPLATE_TYPES
from pigeon.core.numbers import parse_number
from pigeon.services import records

MAX_PAGE_SIZE = 50

# SendStatus (spec §3.1): 1 waiting for a receipt, 2 failed, 3 delivered.  Every status that is
# not final (queued, sending, sent — or any the dispatcher may add) is "waiting".
SEND_STATUS = {"failed": 2, "delivered": 3}
WAITING = 1

# QuerySendStatistics' TemplateType: Alibaba's types plus 7, digital messages, which Pigeon does
# not send (asking for them is valid and finds nothing).
STATISTICS_TEMPLATE_TYPES = (*TEMPLATE_TYPES, 7)


def _detail(call: Call, row: dict) -> dict:
    status = SEND_STATUS.get(row["status"], WAITING)
    if status == WAITING:
        err_code, received = "", ""
    else:
        err_code = row["err_code"] or ("DELIVERED" if status == 3 else "UNKNOWN")
        received = call.local_time(row["done_at"])
    return {
        "PhoneNum": row["phone"],
        "SendStatus": status,
        "ErrCode": err_code,
        "TemplateCode": row["template_code"],
        "Content": row["content"],
        # Submission to the carrier; acceptance until the dispatcher has submitted it.
        "SendDate": call.local_time(row["sent_at"] or row["created_at"]),
        "ReceiveDate": received,
        "OutId": row["out_id"] or "",
    }


@action("QuerySendDetails")
async def query_send_details(call: Call) -> dict:
    p = call.params
    phone = parse_number(p.str("PhoneNumber", required=True)).wire
    day = days.parse_day(p.str("SendDate", required=True), "SendDate")
    days.check_queryable(day, call.pigeon.calendar.local_date(call.now))
    page_size = p.int("PageSize", required=True, low=1, high=MAX_PAGE_SIZE)
    page = p.int("CurrentPage", required=True, low=1)
    biz_id = p.str("BizId")
    found = await call.pigeon.db.read(records.send_details, call.account_id,
                                      call.pigeon.calendar.zone, phone=phone, day=day,
                                      page=page, page_size=page_size, biz_id=biz_id)
    return {"TotalCount": str(found.total),
            "SmsSendDetailDTOs": {"SmsSendDetailDTO": [_detail(call, row)
                                                      for row in found.items]}}


@action("QuerySendStatistics")
async def query_send_statistics(call: Call) -> dict:
    p = call.params
    is_globe = p.int("IsGlobe", required=True)
    if is_globe not in (1, 2):
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"IsGlobe must be 1 (domestic) or 2 (international), got {is_globe}.")
    first = days.parse_day(p.str("StartDate", required=True), "StartDate")
    last = days.parse_day(p.str("EndDate", required=True), "EndDate")
    if first > last:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"StartDate {days.day_text(first)} is after EndDate "
                          f"{days.day_text(last)}.")
    page = p.int("PageIndex", required=True, low=1)
    page_size = p.int("PageSize", required=True, low=1, high=MAX_PAGE_SIZE)
    template_type = p.int("TemplateType")
    if template_type is not None and template_type not in STATISTICS_TEMPLATE_TYPES:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          "TemplateType must be 0 (OTP), 1 (notification), 2 (promotional), "
                          f"3 (international) or 7 (digital), got {template_type}.")
    sign_name = p.str("SignName")
    rows = await call.pigeon.db.read(records.send_statistics, call.account_id,
                                     call.pigeon.calendar.zone, first=first, last=last,
                                     international=is_globe == 2, template_type=template_type,
                                     sign_name=sign_name,
                                     offload=True)  # may scan many rows: off the event loop
    shown = rows[(page - 1) * page_size: page * page_size]
    return {"Data": {"TotalSize": len(rows), "TargetList": [{
        "SendDate": days.day_text(row["day"]),
        "TotalCount": row["total"],
        "RespondedSuccessCount": row["delivered"],
        "RespondedFailCount": row["failed"],
        "NoRespondedCount": row["waiting"],
    } for row in shown]}}
