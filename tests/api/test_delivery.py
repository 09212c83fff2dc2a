"""From SendSms to the handset and back, through the built-in carrier simulator, with the
official SDK: delivery, receipts and their reports, refunds of failures, carrier registration,
and replies."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_util.models import RuntimeOptions
from sqlalchemy import select

from pigeon.app import Pigeon
from pigeon.services import billing, handsets, reports, signatures, simulator
from pigeon.store.tables import ledger, messages
from tests.support.sdk import CoreClient, tea_client
from tests.support.sending import ready_to_send
from tests.support.server import LiveServer
from tests.support.waiting import wait_until

RT = RuntimeOptions()
PHONE = "13700137000"


@pytest.fixture
def start(settings):
    """Start a Pigeon with its workers (dispatcher, simulator) and a fast simulated network."""
    started = []

    def start_with(**overrides):
        pigeon = Pigeon(replace(settings, simulator_delay=timedelta(milliseconds=50),
                                **overrides))
        live = LiveServer(pigeon, workers=True).start()
        started.append((pigeon, live))
        return pigeon, live

    yield start_with
    for pigeon, live in started:
        live.stop()
        pigeon.close()


def final_messages(pigeon, biz_id: str, count: int = 1) -> list[dict]:
    def check():
        rows = pigeon.db.read_sync(lambda conn: [dict(r) for r in conn.execute(
            select(messages).where(messages.c.biz_id == biz_id)
            .order_by(messages.c.id)).mappings()])
        if len(rows) == count and all(r["status"] in ("delivered", "failed") for r in rows):
            return rows
        return None

    check.__doc__ = f"{count} final message(s) of BizId {biz_id}"
    return wait_until(check)


def send(sdk, phones: str, sign: str, template: str, param: str, **extra) -> str:
    answer = sdk.send_sms_with_options(models.SendSmsRequest(
        phone_numbers=phones, sign_name=sign, template_code=template, template_param=param,
        **extra), RT).body
    assert answer.code == "OK", answer.message
    return answer.biz_id


def test_a_message_reaches_the_handset_and_its_report_is_queued(start, tenant):
    pigeon, live = start()
    core, sdk = CoreClient(live.endpoint, tenant), tea_client(live.endpoint, tenant)
    sender = ready_to_send(pigeon, core, tenant.account_id)

    biz_id = send(sdk, PHONE, sender.sign, sender.notice, '{"order":"20270301"}',
                  out_id="order-1")
    [message] = final_messages(pigeon, biz_id)

    assert (message["status"], message["err_code"], message["connector"]) == \
        ("delivered", "DELIVERED", "simulator")
    assert message["carrier_message_id"] and message["created_at"] <= message["sent_at"] \
        <= message["done_at"]
    [received] = pigeon.db.read_sync(handsets.inbox, PHONE)
    assert received["text"] == "【云雀科技】您的订单20270301已发货，请注意查收。"
    assert received["sender"] == pigeon.settings.access_code + message["extend_code"]
    [report] = pigeon.db.read_sync(reports.queued, tenant.account_id, "SmsReport")
    assert report["payload"] | {"send_time": "", "report_time": ""} == {
        "phone_number": PHONE, "send_time": "", "report_time": "", "success": True,
        "err_code": "DELIVERED", "err_msg": "用户接收成功", "sms_size": "1", "biz_id": biz_id,
        "out_id": "order-1", "message_id": str(message["id"]), "sign_name": "云雀科技",
        "template_code": sender.notice}


def test_magic_numbers_fail_with_their_codes_and_are_refunded(start, tenant):
    pigeon, live = start()
    core, sdk = CoreClient(live.endpoint, tenant), tea_client(live.endpoint, tenant)
    sender = ready_to_send(pigeon, core, tenant.account_id)
    before = pigeon.db.read_sync(billing.balance, tenant.account_id)

    phones = ["13800138001", "18600138002", "18900138003", "13800138004", "13800138007"]
    biz_id = send(sdk, ",".join(phones), sender.sign, sender.notice, '{"order":"1"}')
    # Each was charged when accepted (the balance itself may already show the first refunds:
    # the dispatcher can be that quick).
    charges = pigeon.db.read_sync(lambda conn: conn.execute(
        select(ledger.c.amount).where(ledger.c.kind == "charge",
                                      ledger.c.account_id == tenant.account_id)).scalars().all())
    assert charges == [-45] * 5
    rows = final_messages(pigeon, biz_id, count=5)

    assert {r["phone"]: (r["status"], r["err_code"]) for r in rows} == {
        "13800138001": ("failed", "MK:0001"),
        "18600138002": ("failed", "MOBILE_NOT_ON_SERVICE"),
        "18900138003": ("failed", "MOBILE_IN_BLACK"),
        "13800138004": ("failed", "UNDELIV"),
        "13800138007": ("failed", "INVALID_NUMBER"),  # refused at submission
    }
    assert not any(r["charged"] for r in rows)
    assert pigeon.db.read_sync(billing.balance, tenant.account_id) == before
    refunds = pigeon.db.read_sync(lambda conn: conn.execute(
        select(ledger.c.message_id, ledger.c.amount)
        .where(ledger.c.kind == "refund", ledger.c.account_id == tenant.account_id)).all())
    assert sorted(refunds) == sorted((r["id"], 45) for r in rows)
    for phone in phones:
        assert pigeon.db.read_sync(handsets.inbox, phone) == []
    events = pigeon.db.read_sync(reports.queued, tenant.account_id, "SmsReport")
    assert sorted((e["payload"]["phone_number"], e["payload"]["success"],
                   e["payload"]["err_code"]) for e in events) == \
        sorted((r["phone"], False, r["err_code"]) for r in rows)


def test_a_signature_not_yet_registered_with_the_carrier_gets_port_not_registered(
        start, tenant):
    pigeon, live = start(registration_delay=timedelta(hours=1))
    core, sdk = CoreClient(live.endpoint, tenant), tea_client(live.endpoint, tenant)
    sender = ready_to_send(pigeon, core, tenant.account_id)
    before = pigeon.db.read_sync(billing.balance, tenant.account_id)

    biz_id = send(sdk, PHONE, sender.sign, sender.notice, '{"order":"1"}')
    [message] = final_messages(pigeon, biz_id)
    assert (message["status"], message["err_code"]) == ("failed", "PORT_NOT_REGISTERED")
    assert pigeon.db.read_sync(billing.balance, tenant.account_id) == before
    assert pigeon.db.read_sync(handsets.inbox, PHONE) == []

    # China Mobile completes the registration; China Unicom has not yet.
    pigeon.db.write_sync(signatures.set_registration, None, sender.sign, "mobile",
                         "registered", None, pigeon.now())
    [mobile, unicom] = final_messages(pigeon, send(sdk, f"{PHONE},18612345678", sender.sign,
                                                   sender.notice, '{"order":"2"}'), count=2)
    assert (mobile["phone"], mobile["status"]) == (PHONE, "delivered")
    assert (unicom["phone"], unicom["err_code"]) == ("18612345678", "PORT_NOT_REGISTERED")


def test_a_handset_reply_becomes_an_sms_up_for_the_signature_owner(start, tenant):
    pigeon, live = start()
    core, sdk = CoreClient(live.endpoint, tenant), tea_client(live.endpoint, tenant)
    sender = ready_to_send(pigeon, core, tenant.account_id)
    final_messages(pigeon, send(sdk, PHONE, sender.sign, sender.notice, '{"order":"1"}',
                                sms_up_extend_code="77"))
    [received] = pigeon.db.read_sync(handsets.inbox, PHONE)
    dest_code = simulator.dest_code_of(received["sender"], pigeon.settings.access_code)
    assert dest_code.endswith("77")

    answer = pigeon.db.write_sync(simulator.reply, PHONE, "收到，谢谢", dest_code,
                                  pigeon.settings.timezone, pigeon.now())

    assert answer["Matched"] and answer["AccountId"] == tenant.account_id
    [event] = pigeon.db.read_sync(reports.queued, tenant.account_id, "SmsUp")
    payload = event["payload"]
    assert (payload["phone_number"], payload["content"], payload["dest_code"],
            payload["sign_name"]) == (PHONE, "收到，谢谢", dest_code, "云雀科技")
    assert payload["sequence_id"] == str(answer["MoId"])


def test_a_reply_to_a_code_nobody_owns_is_kept_unmatched(pigeon):
    answer = pigeon.db.write_sync(simulator.reply, "+8613700137000", "hello", "00000000",
                                  pigeon.settings.timezone, pigeon.now())
    assert (answer["Matched"], answer["AccountId"], answer["PhoneNumber"]) == \
        (False, None, PHONE)
