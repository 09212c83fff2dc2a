"""SendBatchSms with the official SDKs: one template, a signature and variables per number
(spec/dysmsapi.md §2.2).  The Tea SDK sends the JSON arrays in a form body, the core SDK in
the query string."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_util.models import RuntimeOptions
from aliyunsdkdysmsapi.request.v20170525.SendBatchSmsRequest import SendBatchSmsRequest

from pigeon.services import billing
from pigeon.store.tables import balances, ledger, messages, packages
from tests.support.sdk import CoreClient, tea_client
from tests.support.sending import ready_to_send, rows, tomorrow_at

RT = RuntimeOptions()
A, B, C = "13800138000", "13900139000", "13700137000"


@pytest.fixture
def sender(pigeon, server, tenant, core_sdk):
    return ready_to_send(pigeon, core_sdk, tenant.account_id)


def balance(pigeon, account_id: int) -> int:
    return rows(pigeon, balances, account_id, order=balances.c.account_id)[0]["amount"]


def batch(sdk, template: str, numbers, signs, params=None, **extra):
    def text(value):
        return value if value is None or isinstance(value, str) else json.dumps(
            value, ensure_ascii=False)

    request = models.SendBatchSmsRequest(
        phone_number_json=text(numbers), sign_name_json=text(signs), template_code=template,
        template_param_json=text(params), **extra)
    return sdk.send_batch_sms_with_options(request, RT).body


@pytest.mark.parametrize("client", ["tea-v3", "tea-v1", "core"])
def test_each_number_gets_its_own_signature_and_variables(pigeon, server, tenant, sender,
                                                          client):
    numbers, signs = [A, f"+86{B}"], [sender.sign, sender.otp_sign]
    params = [{"code": "1111"}, {"code": "2222"}]
    if client == "core":
        request = SendBatchSmsRequest()
        request.set_PhoneNumberJson(json.dumps(numbers))
        request.set_SignNameJson(json.dumps(signs, ensure_ascii=False))
        request.set_TemplateCode(sender.otp)
        request.set_TemplateParamJson(json.dumps(params))
        answer = CoreClient(server.endpoint, tenant).typed(request)
        code, biz_id = answer["Code"], answer["BizId"]
    else:
        body = batch(tea_client(server.endpoint, tenant, v1=client == "tea-v1"), sender.otp,
                     numbers, signs, params, out_id="batch-7")
        code, biz_id = body.code, body.biz_id
    assert code == "OK"

    stored = rows(pigeon, messages, sender.account_id)
    assert {m["biz_id"] for m in stored} == {biz_id}
    assert [(m["phone"], m["sign_name"], m["content"]) for m in stored] == [
        (A, "云雀科技", "【云雀科技】您的验证码为1111，5分钟内有效，请勿泄露于他人。"),
        (B, "云雀", "【云雀】您的验证码为2222，5分钟内有效，请勿泄露于他人。"),
    ]
    if client != "core":
        assert {m["out_id"] for m in stored} == {"batch-7"}


def test_a_template_without_variables_needs_no_params(pigeon, sdk, sender):
    # A promotional template: at 10:00, clear of the quiet hours (20:00–08:00 platform time).
    with time_machine.travel(tomorrow_at(pigeon, 10), tick=True):
        body = batch(sdk, sender.promo, [A, B], [sender.sign, sender.sign])
    assert body.code == "OK", body.message
    assert [m["params"] for m in rows(pigeon, messages, sender.account_id)] == [None, None]


@pytest.mark.parametrize("signs, params", [
    (["云雀科技"], [{"order": "1"}, {"order": "2"}]),
    (["云雀科技", "云雀科技"], [{"order": "1"}]),
    (["云雀科技", "云雀科技", "云雀科技"], [{"order": "1"}, {"order": "2"}]),
])
def test_arrays_of_different_lengths_are_refused(pigeon, sdk, sender, signs, params):
    body = batch(sdk, sender.notice, [A, B], signs, params)
    assert body.code == "isv.INVALID_PARAMETERS", body.message
    assert "PhoneNumberJson" in body.message
    assert rows(pigeon, messages, sender.account_id) == []


def test_more_than_100_numbers_are_refused(pigeon, sdk, sender):
    numbers = [f"138{n:08d}" for n in range(101)]
    body = batch(sdk, sender.notice, numbers, [sender.sign] * 101, [{"order": "1"}] * 101)
    assert body.code == "isv.MOBILE_COUNT_OVER_LIMIT", body.message
    assert rows(pigeon, messages, sender.account_id) == []


@pytest.mark.parametrize("numbers, params, code", [
    ("13800138000", [{"order": "1"}], "isv.INVALID_JSON_PARAM"),  # not a JSON array
    ([A], ["order"], "isv.INVALID_JSON_PARAM"),  # an item that is not an object
    ([A], [{"order": 1}], "isv.INVALID_JSON_PARAM"),  # a value that is not a string
    ([A], [{}], "isv.TEMPLATE_MISSING_PARAMETERS"),
    (["12345"], [{"order": "1"}], "isv.MOBILE_NUMBER_ILLEGAL"),
])
def test_bad_items_are_refused_with_their_code(pigeon, sdk, sender, numbers, params, code):
    signs = [sender.sign] * (len(numbers) if isinstance(numbers, list) else 1)
    body = batch(sdk, sender.notice, numbers, signs, params)
    assert body.code == code, body.message
    assert rows(pigeon, messages, sender.account_id) == []


def test_one_unapproved_signature_refuses_the_whole_batch(pigeon, sdk, sender):
    body = batch(sdk, sender.notice, [A, B], [sender.sign, "无此签名"],
                 [{"order": "1"}, {"order": "2"}])
    assert body.code == "isv.SMS_SIGNATURE_ILLEGAL", body.message
    assert rows(pigeon, messages, sender.account_id) == []


# -- per-number limits and charges inside one call ----------------------------------------------


def test_a_number_twice_in_one_call_counts_its_first_message(pigeon, sdk, sender):
    with time_machine.travel(tomorrow_at(pigeon, 10), tick=True):
        body = batch(sdk, sender.otp, [A, B, A], [sender.sign] * 3,
                     [{"code": "1111"}, {"code": "2222"}, {"code": "3333"}])
    assert body.code == "OK", body.message

    stored = rows(pigeon, messages, sender.account_id)
    assert [(m["phone"], m["status"], m["err_code"], m["err_msg"]) for m in stored] == [
        (A, "queued", None, None), (B, "queued", None, None),
        (A, "failed", "MOBILE_SEND_LIMIT", "触发分钟级流控Permits:1")]
    charged = [e["message_id"] for e in rows(pigeon, ledger, sender.account_id)
               if e["kind"] == "charge"]
    assert charged == [stored[0]["id"], stored[1]["id"]]


def test_every_number_over_its_limit_fails_not_only_the_first(pigeon, sdk, sender):
    with time_machine.travel(tomorrow_at(pigeon, 10), tick=True):
        for number in (A, B):
            assert batch(sdk, sender.otp, [number], [sender.sign],
                         [{"code": "1111"}]).code == "OK"
        body = batch(sdk, sender.otp, [A, B, C], [sender.sign] * 3, [{"code": "2222"}] * 3)
    assert body.code == "OK", body.message

    stored = [m for m in rows(pigeon, messages, sender.account_id) if m["biz_id"] == body.biz_id]
    assert [(m["phone"], m["status"], m["err_code"]) for m in stored] == [
        (A, "failed", "MOBILE_SEND_LIMIT"), (B, "failed", "MOBILE_SEND_LIMIT"),
        (C, "queued", None)]


def test_a_call_is_charged_for_every_message(pigeon, sdk, sender):
    before = balance(pigeon, sender.account_id)
    body = batch(sdk, sender.notice, [A, B, C], [sender.sign] * 3, [{"order": "1"}] * 3)
    assert body.code == "OK", body.message
    assert balance(pigeon, sender.account_id) == before - 3 * 45
    stored = rows(pigeon, messages, sender.account_id)
    assert [(e["message_id"], e["package_id"], e["units"], e["amount"], e["created_at"])
            for e in rows(pigeon, ledger, sender.account_id) if e["kind"] == "charge"] == [
        (m["id"], None, -1, -45, m["created_at"]) for m in stored]


def test_one_package_pays_several_messages_of_a_call(pigeon, sdk, sender):
    now = pigeon.now()
    package = pigeon.db.write_sync(billing.add_package, sender.account_id, "general", 5,
                                   now + timedelta(days=30), now)
    before = balance(pigeon, sender.account_id)

    body = batch(sdk, sender.notice, [A, B], [sender.sign] * 2, [{"order": "1"}] * 2)
    assert body.code == "OK", body.message
    [stored] = rows(pigeon, packages, sender.account_id)
    assert (stored["id"], stored["remaining"]) == (package["id"], 3)
    assert balance(pigeon, sender.account_id) == before


def test_an_empty_signature_name_is_a_missing_one(pigeon, sdk, sender):
    with pytest.raises(ClientException) as raised:
        batch(sdk, sender.notice, [A, B], [sender.sign, ""], [{"order": "1"}, {"order": "2"}])
    assert (raised.value.code, raised.value.data["Message"]) == (
        "MissingSignName", "SignName is mandatory for this action.")
    assert rows(pigeon, messages, sender.account_id) == []
