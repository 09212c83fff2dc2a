"""SendBatchSms with the official SDKs: one template, a signature and variables per number
(spec/dysmsapi.md §2.2).  The Tea SDK sends the JSON arrays in a form body, the core SDK in
the query string."""

from __future__ import annotations

import json

import pytest
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_util.models import RuntimeOptions
from aliyunsdkdysmsapi.request.v20170525.SendBatchSmsRequest import SendBatchSmsRequest

from pigeon.store.tables import messages
from tests.support.sdk import CoreClient, tea_client
from tests.support.sending import ready_to_send, rows

RT = RuntimeOptions()
A, B, C = "13800138000", "13900139000", "13700137000"


@pytest.fixture
def sender(pigeon, server, tenant, core_sdk):
    return ready_to_send(pigeon, core_sdk, tenant.account_id)


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
    body = batch(sdk, sender.promo, [A, B], [sender.sign, sender.sign])
    assert body.code == "OK", body.message
    assert len(rows(pigeon, messages, sender.account_id)) == 2


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
