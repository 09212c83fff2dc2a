"""QuerySendStatistics: per platform day, the segments sent and how their receipts came back
(spec/dysmsapi.md §2.4; field names and types of the SDK's
``QuerySendStatisticsResponseBodyDataTargetList``: every count a Long, ``SendDate`` yyyyMMdd)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pytest
import time_machine
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_util.models import RuntimeOptions
from aliyunsdkcore.acs_exception.exceptions import ServerException

from pigeon.services import delivery
from pigeon.store.tables import messages
from tests.support.sdk import tea_client
from tests.support.sending import ready_to_send, rows, tomorrow_at

RT = RuntimeOptions()
A, B, C = "13800138000", "13900139000", "13700137000"


def send(sdk, numbers, sign, template, params=None):
    body = sdk.send_sms_with_options(models.SendSmsRequest(
        phone_numbers=numbers, sign_name=sign, template_code=template,
        template_param=None if params is None else json.dumps(params, ensure_ascii=False)),
        RT).body
    assert body.code == "OK", body.message
    return body


@pytest.fixture
def history(pigeon, server, tenant, core_sdk, sdk):
    """Two days of sending: day one 10:00 and day two 09:00 (platform time)."""
    sender = ready_to_send(pigeon, core_sdk, tenant.account_id)
    first = tomorrow_at(pigeon, 10)
    with time_machine.travel(first, tick=True):
        send(sdk, f"{A},{B}", sender.sign, sender.notice, {"order": "A1"})  # 2 × 1 segment
        send(sdk, A, sender.sign, sender.long_notice, {"name": "欧阳" * 4 + "先生"})  # 2 segments
        send(sdk, A, sender.sign, sender.otp, {"code": "1234"})
        send(sdk, f"{A},{B}", sender.sign, sender.otp, {"code": "1234"})  # A over its limit
        send(sdk, C, sender.otp_sign, sender.otp, {"code": "1234"})
    second = first + timedelta(days=1, hours=-1)
    with time_machine.travel(second, tick=True):
        send(sdk, A, sender.sign, sender.promo)
    stored = rows(pigeon, messages, tenant.account_id)
    for message, delivered in ((stored[0], True), (stored[1], False)):
        pigeon.db.write_sync(delivery.finish, message["id"], delivered=delivered,
                             err_code="DELIVERED" if delivered else "MK:0005", err_msg=None,
                             zone=pigeon.calendar.zone, now=first + timedelta(seconds=5))
    return {"sender": sender, "days": [first.strftime("%Y%m%d"), second.strftime("%Y%m%d")]}


def statistics(sdk, start: str, end: str, *, is_globe: int = 1, page: int = 1,
               page_size: int = 50, **extra):
    return sdk.query_send_statistics_with_options(models.QuerySendStatisticsRequest(
        is_globe=is_globe, start_date=start, end_date=end, page_index=page,
        page_size=page_size, **extra), RT).body


def rows_of(body) -> list[tuple]:
    return [(t.send_date, t.total_count, t.responded_success_count, t.responded_fail_count,
             t.no_responded_count) for t in body.data.target_list]


def test_each_day_counts_segments_by_receipt(history, core_sdk):
    day1, day2 = history["days"]

    answer = core_sdk.common("QuerySendStatistics", {
        "IsGlobe": "1", "StartDate": day1, "EndDate": day2, "PageIndex": "1", "PageSize": "10"})

    assert answer["Code"] == "OK"
    assert answer["Data"]["TotalSize"] == 2
    # Day one: notification to A (delivered) and B (failed), a 2-segment notification, OTP to
    # A, OTP to A (refused for its limit: failed) and B, OTP to C — 8 segments, oldest day first.
    assert answer["Data"]["TargetList"] == [
        {"SendDate": day1, "TotalCount": 8, "RespondedSuccessCount": 1,
         "RespondedFailCount": 2, "NoRespondedCount": 5},
        {"SendDate": day2, "TotalCount": 1, "RespondedSuccessCount": 0,
         "RespondedFailCount": 0, "NoRespondedCount": 1},
    ]


def test_the_tea_model_reads_the_answer(history, sdk):
    day1, day2 = history["days"]
    body = statistics(sdk, day1, day2)
    assert body.code == "OK" and body.data.total_size == 2
    assert rows_of(body)[0] == (day1, 8, 1, 2, 5)


def test_days_without_messages_are_left_out(history, sdk):
    day1, day2 = history["days"]
    before, after = shifted(day1, -5), shifted(day2, 5)
    assert [r[0] for r in rows_of(statistics(sdk, before, after))] == [day1, day2]
    assert statistics(sdk, before, before).data.total_size == 0


def shifted(day: str, days: int) -> str:
    return (datetime.strptime(day, "%Y%m%d") + timedelta(days=days)).strftime("%Y%m%d")


def test_template_type_and_sign_name_narrow_the_count(history, sdk):
    day1, day2 = history["days"]
    assert rows_of(statistics(sdk, day1, day2, template_type=2)) == [(day2, 1, 0, 0, 1)]
    assert rows_of(statistics(sdk, day1, day2, template_type=0)) == [(day1, 4, 0, 1, 3)]
    assert rows_of(statistics(sdk, day1, day2, sign_name="云雀")) == [(day1, 1, 0, 0, 1)]
    assert rows_of(statistics(sdk, day1, day2, template_type=7)) == []
    assert rows_of(statistics(sdk, day1, day2, sign_name="无此签名")) == []


def test_international_statistics_leave_out_domestic_messages(history, sdk):
    day1, day2 = history["days"]
    body = statistics(sdk, day1, day2, is_globe=2)
    assert body.code == "OK" and body.data.total_size == 0 and body.data.target_list == []


def test_pages_of_days(history, sdk):
    day1, day2 = history["days"]
    pages = [statistics(sdk, day1, day2, page=n, page_size=1) for n in (1, 2, 3)]
    assert [p.data.total_size for p in pages] == [2, 2, 2]
    assert [[r[0] for r in rows_of(p)] for p in pages] == [[day1], [day2], []]


def test_another_tenant_sees_nothing(history, server, other_tenant):
    day1, day2 = history["days"]
    body = statistics(tea_client(server.endpoint, other_tenant), day1, day2)
    assert body.code == "OK" and body.data.total_size == 0


@pytest.mark.parametrize("params, fragment", [
    ({"IsGlobe": "3"}, "IsGlobe"),
    ({"StartDate": "20240105", "EndDate": "20240101"}, "after EndDate"),
    ({"StartDate": "2024-01-01"}, "yyyyMMdd"),
    ({"EndDate": "20240231"}, "not a calendar date"),
    ({"TemplateType": "5"}, "TemplateType"),
])
def test_invalid_values_are_refused(pigeon, core_sdk, params, fragment):
    answer = core_sdk.common("QuerySendStatistics", {
        "IsGlobe": "1", "StartDate": "20240101", "EndDate": "20240102", "PageIndex": "1",
        "PageSize": "10", **params})
    assert answer["Code"] == "isv.INVALID_PARAMETERS" and fragment in answer["Message"]


@pytest.mark.parametrize("params, code", [
    ({"PageSize": "51"}, "InvalidPageSize"),
    ({"PageSize": ""}, "MissingPageSize"),
    ({"IsGlobe": ""}, "MissingIsGlobe"),
])
def test_gateway_checks_answer_http_400(core_sdk, params, code):
    with pytest.raises(ServerException) as raised:
        core_sdk.common("QuerySendStatistics", {
            "IsGlobe": "1", "StartDate": "20240101", "EndDate": "20240102",
            "PageIndex": "1", "PageSize": "10", **params})
    assert raised.value.get_error_code() == code
    assert raised.value.get_http_status() == 400
