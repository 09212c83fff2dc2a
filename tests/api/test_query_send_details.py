"""QuerySendDetails: one number's messages on one platform day, with the JSON types the SDKs
expect (spec/dysmsapi.md §2.3, spec/wire.md §6: ``TotalCount`` a string, ``SendStatus`` a
number)."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
import time_machine
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_util.models import RuntimeOptions
from aliyunsdkdysmsapi.request.v20170525.QuerySendDetailsRequest import QuerySendDetailsRequest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pigeon.services import delivery, number_lists
from pigeon.store.tables import messages
from tests.support import signer
from tests.support.sdk import CoreClient, tea_client
from tests.support.sending import ready_to_send, rows, tomorrow_at
from tests.support.server import LiveServer
from tests.support.waiting import wait_until

RT = RuntimeOptions()
A, B = "13800138000", "13900139000"


@pytest.fixture
def sender(pigeon, server, tenant, core_sdk):
    sender = ready_to_send(pigeon, core_sdk, tenant.account_id)
    for number in (A, B):  # several messages a minute to the same numbers
        pigeon.db.write_sync(number_lists.add, tenant.account_id, "whitelist", number,
                             pigeon.now())
    return sender


def today(pigeon) -> str:
    return pigeon.calendar.local_date(pigeon.now()).strftime("%Y%m%d")


def notify(sdk, sender, numbers: str = A, order: str = "A1", out_id: str | None = None):
    body = sdk.send_sms_with_options(models.SendSmsRequest(
        phone_numbers=numbers, sign_name=sender.sign, template_code=sender.notice,
        template_param=json.dumps({"order": order}), out_id=out_id), RT).body
    assert body.code == "OK", body.message
    return body.biz_id


def details(sdk, phone: str, day: str, *, page_size: int = 50, page: int = 1,
            biz_id: str | None = None):
    return sdk.query_send_details_with_options(models.QuerySendDetailsRequest(
        phone_number=phone, send_date=day, page_size=page_size, current_page=page,
        biz_id=biz_id), RT).body


def raw_details(core: CoreClient, phone: str, day: str, **extra) -> dict:
    request = QuerySendDetailsRequest()
    request.set_PhoneNumber(phone)
    request.set_SendDate(day)
    request.set_PageSize(extra.get("page_size", 10))
    request.set_CurrentPage(extra.get("page", 1))
    return core.typed(request)


def finish(pigeon, message_id: int, *, delivered: bool, err_code: str, at=None) -> None:
    pigeon.db.write_sync(delivery.finish, message_id, delivered=delivered, err_code=err_code,
                         err_msg=None, zone=pigeon.calendar.zone, now=at or pigeon.now())


def test_the_answer_has_exactly_the_documented_json_types(pigeon, sdk, core_sdk, sender):
    notify(sdk, sender, out_id="order-9")

    answer = raw_details(core_sdk, A, today(pigeon))

    assert answer["Code"] == "OK"
    assert answer["TotalCount"] == "1"  # a string, unlike the list actions' numbers
    [item] = answer["SmsSendDetailDTOs"]["SmsSendDetailDTO"]
    assert item["SendStatus"] == 1  # a number
    assert set(item) == {"PhoneNum", "SendStatus", "ErrCode", "TemplateCode", "Content",
                         "SendDate", "ReceiveDate", "OutId"}
    assert all(isinstance(item[k], str) for k in set(item) - {"SendStatus"})
    assert item["PhoneNum"] == A and item["TemplateCode"] == sender.notice
    assert item["Content"] == "【云雀科技】您的订单A1已发货，请注意查收。"
    assert item["OutId"] == "order-9"
    assert item["ErrCode"] == "" and item["ReceiveDate"] == ""  # still waiting
    local = pigeon.now().astimezone(pigeon.calendar.zone)
    assert item["SendDate"][:10] == local.strftime("%Y-%m-%d")


@pytest.mark.parametrize("client", ["tea-v3", "tea-v1"])
def test_the_tea_models_read_the_answer(pigeon, server, tenant, sender, client):
    sdk = tea_client(server.endpoint, tenant, v1=client == "tea-v1")
    notify(sdk, sender)

    body = details(sdk, f"+86{A}", today(pigeon))  # any accepted form of the number

    assert body.code == "OK" and body.total_count == "1"
    [item] = body.sms_send_detail_dtos.sms_send_detail_dto
    assert (item.phone_num, item.send_status) == (A, 1)


def test_final_statuses_show_their_code_and_receipt_time(pigeon, sdk, core_sdk, sender):
    for order in ("D", "F"):
        notify(sdk, sender, order=order)
    delivered, failed = rows(pigeon, messages, sender.account_id)
    receipt_at = pigeon.now() + timedelta(seconds=3)
    finish(pigeon, delivered["id"], delivered=True, err_code="DELIVERED", at=receipt_at)
    finish(pigeon, failed["id"], delivered=False, err_code="MK:0001", at=receipt_at)

    items = raw_details(core_sdk, A, today(pigeon))["SmsSendDetailDTOs"]["SmsSendDetailDTO"]

    by_status = {item["SendStatus"]: item for item in items}
    assert by_status[3]["ErrCode"] == "DELIVERED" and by_status[2]["ErrCode"] == "MK:0001"
    expected = pigeon.calendar.local_datetime_text(receipt_at)
    assert by_status[3]["ReceiveDate"] == by_status[2]["ReceiveDate"] == expected


def test_a_number_refused_for_its_limit_shows_as_failed(pigeon, server, tenant, sdk, sender):
    pigeon.db.write_sync(number_lists.remove, tenant.account_id, "whitelist", A)
    with time_machine.travel(tomorrow_at(pigeon, 10), tick=True):
        otp = models.SendSmsRequest(phone_numbers=f"{A},{B}", sign_name=sender.sign,
                                    template_code=sender.otp, template_param='{"code":"1234"}')
        assert sdk.send_sms_with_options(otp, RT).body.code == "OK"
        assert sdk.send_sms_with_options(otp, RT).body.code == "OK"  # A is over, B is not
        items = details(sdk, A, today(pigeon)).sms_send_detail_dtos.sms_send_detail_dto

    assert [(i.send_status, i.err_code) for i in items] == [(2, "MOBILE_SEND_LIMIT"), (1, "")]
    assert items[0].receive_date  # refused at once: its final status has a time


def test_pages_are_newest_first_and_count_every_match(pigeon, sdk, sender):
    start = tomorrow_at(pigeon, 10)
    with time_machine.travel(start, tick=True) as traveller:
        for n in range(5):
            traveller.move_to(start + timedelta(minutes=n))
            notify(sdk, sender, order=f"N{n}")
        notify(sdk, sender, numbers=B)  # another number: not counted
        day = today(pigeon)
        pages = [details(sdk, A, day, page_size=2, page=page) for page in (1, 2, 3, 4)]

    assert [p.total_count for p in pages] == ["5"] * 4
    orders = [[i.content.split("订单")[1][:2] for i in p.sms_send_detail_dtos.sms_send_detail_dto]
              for p in pages]
    assert orders == [["N4", "N3"], ["N2", "N1"], ["N0"], []]


def test_biz_id_narrows_to_one_call(pigeon, sdk, sender):
    first = notify(sdk, sender, numbers=f"{A},{B}", order="X1")
    notify(sdk, sender, order="X2")

    body = details(sdk, A, today(pigeon), biz_id=first)

    assert body.total_count == "1"
    assert "X1" in body.sms_send_detail_dtos.sms_send_detail_dto[0].content
    assert details(sdk, A, today(pigeon), biz_id="123^0").total_count == "0"


def test_a_day_is_the_platform_day_not_the_utc_day(pigeon, sdk, sender):
    # 00:30 in Shanghai is 16:30 UTC on the day before: the message belongs to the local day.
    after_midnight = tomorrow_at(pigeon, 0, 30)
    with time_machine.travel(after_midnight, tick=True):
        notify(sdk, sender)
        local_day = today(pigeon)
        previous_day = (after_midnight - timedelta(days=1)).strftime("%Y%m%d")
        assert details(sdk, A, local_day).total_count == "1"
        assert details(sdk, A, previous_day).total_count == "0"
    with time_machine.travel(after_midnight - timedelta(minutes=31), tick=True):  # 23:59
        notify(sdk, sender)
    with time_machine.travel(after_midnight + timedelta(minutes=1), tick=True):
        assert details(sdk, A, local_day).total_count == "1"
        assert details(sdk, A, previous_day).total_count == "1"


@pytest.mark.parametrize("send_date, why", [
    ("2024-01-01", "yyyyMMdd"),
    ("20240230", "not a calendar date"),
    ("abc", "yyyyMMdd"),
])
def test_a_malformed_send_date_is_refused(sdk, sender, send_date, why):
    body = details(sdk, A, send_date)
    assert body.code == "isv.INVALID_PARAMETERS" and why in body.message


def test_only_the_last_30_days_can_be_queried(pigeon, sdk, sender):
    today_date = pigeon.calendar.local_date(pigeon.now())
    oldest = (today_date - timedelta(days=29)).strftime("%Y%m%d")
    too_old = (today_date - timedelta(days=30)).strftime("%Y%m%d")
    tomorrow = (today_date + timedelta(days=1)).strftime("%Y%m%d")

    assert details(sdk, A, oldest).code == "OK"
    for day in (too_old, tomorrow):
        body = details(sdk, A, day)
        assert body.code == "isv.INVALID_PARAMETERS", day
        assert "last 30 days" in body.message and oldest in body.message


def test_an_invalid_number_is_refused(pigeon, sdk, sender):
    assert details(sdk, "12345", today(pigeon)).code == "isv.MOBILE_NUMBER_ILLEGAL"


def test_another_tenant_sees_nothing(pigeon, server, sdk, sender, other_tenant):
    biz_id = notify(sdk, sender)
    stranger = tea_client(server.endpoint, other_tenant)

    for biz in (None, biz_id):
        body = details(stranger, A, today(pigeon), biz_id=biz)
        assert body.code == "OK" and body.total_count == "0"
        assert body.sms_send_detail_dtos.sms_send_detail_dto == []


def test_the_status_moves_from_waiting_to_delivered(pigeon, tenant, sender):
    # The carrier simulator delivers to every number of an allocated segment.
    live = LiveServer(pigeon, workers=True).start()
    try:
        sdk = tea_client(live.endpoint, tenant)
        notify(sdk, sender)

        def final():
            [item] = details(sdk, A, today(pigeon)).sms_send_detail_dtos.sms_send_detail_dto
            return item if item.send_status != 1 else None

        item = wait_until(final, interval=0.2, what="a final SendStatus")
    finally:
        live.stop()
    assert (item.send_status, item.err_code) == (3, "DELIVERED")
    assert item.receive_date >= item.send_date


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(action=st.sampled_from(["QuerySendDetails", "QuerySendStatistics"]),
       params=st.fixed_dictionaries({}, optional={
           name: st.one_of(st.text(max_size=12), st.sampled_from(
               ["", "0", "1", "2", "7", "-1", "51", "99999999999999999999", "20240101",
                "99991231", "00010101", "19000101", "13800138000", "+8613800138000", "1^0"]))
           for name in ("PhoneNumber", "SendDate", "PageSize", "CurrentPage", "BizId",
                        "IsGlobe", "StartDate", "EndDate", "PageIndex", "TemplateType",
                        "SignName")}))
def test_no_parameters_make_the_records_actions_fail(server, tenant, action, params):
    response = httpx.post(f"{server.url}/", params=signer.v1_params(tenant, action, params),
                          timeout=10)
    assert response.status_code < 500, response.text
    assert response.json()["Code"] != "InternalError"
