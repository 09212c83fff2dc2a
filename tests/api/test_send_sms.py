"""SendSms with the official SDKs: what is accepted, what is refused and with which code, the
per-number limits, caps, quiet hours and what each message costs (spec/dysmsapi.md §2.1, §7)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
import time_machine
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_util.models import RuntimeOptions
from aliyunsdkdysmsapi.request.v20170525.SendSmsRequest import SendSmsRequest

from pigeon.services import accounts, billing, number_lists, sending, sending_settings
from pigeon.store.tables import (
    balances,
    ledger,
    messages,
    packages,
    report_events,
    signatures,
)
from tests.conftest import make_tenant
from tests.support import workflow
from tests.support.sdk import CoreClient, tea_client
from tests.support.sending import ready_to_send, rows, tomorrow_at

RT = RuntimeOptions()
A, B, C = "13800138000", "13900139000", "13700137000"


@pytest.fixture
def sender(pigeon, server, tenant, core_sdk):
    return ready_to_send(pigeon, core_sdk, tenant.account_id)


def send(sdk, numbers: str, sign: str, template: str, params: dict | str | None = None,
         **extra):
    if isinstance(params, dict):
        params = json.dumps(params, ensure_ascii=False)
    request = models.SendSmsRequest(phone_numbers=numbers, sign_name=sign,
                                    template_code=template, template_param=params, **extra)
    return sdk.send_sms_with_options(request, RT).body


def otp(sdk, sender, numbers: str = A, code: str = "123456"):
    return send(sdk, numbers, sender.sign, sender.otp, {"code": code})


def balance(pigeon, account_id: int) -> int:
    found = rows(pigeon, balances, account_id, order=balances.c.account_id)
    return found[0]["amount"] if found else 0


# -- accepted ---------------------------------------------------------------------------------


def test_it_accepts_one_number_and_answers_a_biz_id(pigeon, sdk, sender):
    body = send(sdk, A, sender.sign, sender.notice, {"order": "A1001"}, out_id="order-1")

    assert body.code == "OK", body.message
    assert re.fullmatch(r"\d{18}\^0", body.biz_id)
    [message] = rows(pigeon, messages, sender.account_id)
    assert message["biz_id"] == body.biz_id
    assert message["phone"] == A and message["status"] == "queued"
    assert message["content"] == "【云雀科技】您的订单A1001已发货，请注意查收。"
    assert message["out_id"] == "order-1" and message["segments"] == 1


def test_the_biz_id_is_the_time_in_microseconds_then_three_random_digits(pigeon, sdk, sender,
                                                                         monkeypatch):
    monkeypatch.setattr(sending, "random", SimpleNamespace(randrange=lambda n: n - 1))
    body = otp(sdk, sender)

    [message] = rows(pigeon, messages, sender.account_id)
    micros = int(message["created_at"].timestamp() * 1_000_000) % 10**15
    assert body.biz_id == f"{micros:015d}999^0"


def test_the_stored_message_keeps_what_the_call_gave(pigeon, sdk, sender):
    [general] = [s for s in rows(pigeon, signatures, sender.account_id)
                 if s["name"] == sender.sign]
    extended = send(sdk, A, sender.sign, sender.notice, {"order": "A1", "unused": "x"},
                    sms_up_extend_code="1234567")
    plain = send(sdk, B, sender.sign, sender.notice, {"order": "B2"})
    assert extended.code == plain.code == "OK", (extended.message, plain.message)

    first, second = rows(pigeon, messages, sender.account_id)
    assert general["extension_code"]
    assert (first["extend_code"], second["extend_code"]) == (
        general["extension_code"] + "1234567", general["extension_code"])
    assert (first["params"], second["params"]) == ({"order": "A1"}, {"order": "B2"})
    for message in (first, second):
        assert (message["signature_id"], message["sign_name"]) == (general["id"], sender.sign)
        assert (message["template_code"], message["template_type"]) == (sender.notice, 1)
        assert (message["country_code"], message["carrier"], message["encoding"]) == (
            86, "mobile", "mainland")
        assert (message["status"], message["err_code"], message["err_msg"]) == (
            "queued", None, None)
        assert (message["attempts"], message["price"], message["charged"]) == (0, 45, True)
        assert message["done_at"] is None


@pytest.mark.parametrize("client", ["tea-v3", "tea-v1", "core"])
def test_every_official_client_sends(pigeon, server, tenant, sender, client):
    if client == "core":
        request = SendSmsRequest()
        request.set_PhoneNumbers(A)
        request.set_SignName(sender.sign)
        request.set_TemplateCode(sender.otp)
        request.set_TemplateParam('{"code":"4321"}')
        answer = CoreClient(server.endpoint, tenant).typed(request)
        code, biz_id = answer["Code"], answer["BizId"]
    else:
        body = otp(tea_client(server.endpoint, tenant, v1=client == "tea-v1"), sender,
                   code="4321")
        code, biz_id = body.code, body.biz_id
    assert code == "OK"
    assert [m["biz_id"] for m in rows(pigeon, messages, sender.account_id)] == [biz_id]


def test_one_call_to_several_numbers_in_any_form_shares_one_biz_id(pigeon, sdk, sender):
    body = send(sdk, f"+86{A},0086{B},86{C}, 15000150000", sender.sign, sender.notice,
                {"order": "A1"})

    assert body.code == "OK", body.message
    stored = rows(pigeon, messages, sender.account_id)
    assert [m["phone"] for m in stored] == [A, B, C, "15000150000"]
    assert {m["biz_id"] for m in stored} == {body.biz_id}


# -- refused ----------------------------------------------------------------------------------


@pytest.mark.parametrize("numbers", ["1380013800", "23800138000", "13800138000,abc", "+86 138"])
def test_an_invalid_number_is_refused_and_nothing_is_sent(pigeon, sdk, sender, numbers):
    body = send(sdk, numbers, sender.sign, sender.notice, {"order": "A1"})
    assert body.code == "isv.MOBILE_NUMBER_ILLEGAL", body.message
    assert body.biz_id is None
    assert rows(pigeon, messages, sender.account_id) == []


def test_more_than_1000_numbers_are_refused(pigeon, sdk, sender):
    numbers = ",".join(f"138{n:08d}" for n in range(1001))
    body = send(sdk, numbers, sender.sign, sender.notice, {"order": "A1"})
    assert body.code == "isv.MOBILE_COUNT_OVER_LIMIT", body.message
    assert "1001" in body.message
    assert rows(pigeon, messages, sender.account_id) == []


@pytest.mark.parametrize("params", [None, {}, {"other": "x"}])
def test_a_missing_variable_is_refused(sdk, sender, params):
    body = send(sdk, A, sender.sign, sender.notice, params)
    assert body.code == "isv.TEMPLATE_MISSING_PARAMETERS", body.message


def test_a_missing_template_param_names_every_variable(core_sdk, sdk, sender):
    created = workflow.create_template(core_sdk, sender.sign, TemplateName="签收通知",
                                       TemplateType="1",
                                       TemplateContent="您的订单${order}已由${name}签收。",
                                       TemplateRule='{"order":"other_number2","name":"name"}')
    assert created["Code"] == "OK", created
    body = send(sdk, A, sender.sign, created["TemplateCode"])
    assert (body.code, body.message) == (
        "isv.TEMPLATE_MISSING_PARAMETERS",
        f"Template {created['TemplateCode']} needs TemplateParam with order, name.")


def test_a_value_its_variable_rule_forbids_is_refused(pigeon, sdk, sender):
    body = send(sdk, A, sender.sign, sender.otp, {"code": "12ab"})
    assert (body.code, body.message) == (
        "isv.TEMPLATE_PARAMS_ILLEGAL",
        "The value '12ab' does not fit the variable attribute numberCaptcha: a verification code "
        "of 4 to 6 digits.")
    assert rows(pigeon, messages, sender.account_id) == []


@pytest.mark.parametrize("params", ['{"order":', "[1,2]", '"A1"', {"order": 1001},
                                    {"order": None}, {"order": ["A1"]}])
def test_template_param_must_be_a_json_object_of_strings(sdk, sender, params):
    body = send(sdk, A, sender.sign, sender.notice, params)
    assert body.code == "isv.INVALID_JSON_PARAM", body.message


def test_an_unapproved_template_is_refused(core_sdk, sdk, sender):
    rejected = workflow.create_template(core_sdk, sender.sign, TemplateName="促销通知",
                                        TemplateType="1",
                                        TemplateContent="限时优惠，订单${order}可享八折。",
                                        TemplateRule='{"order":"other_number2"}')
    assert rejected["Code"] == "OK", rejected
    assert core_sdk.common("GetSmsTemplate",
                           {"TemplateCode": rejected["TemplateCode"]})["TemplateStatus"] == "2"

    body = send(sdk, A, sender.sign, rejected["TemplateCode"], {"order": "A1"})
    assert (body.code, body.message) == ("isv.SMS_TEMPLATE_ILLEGAL",
                                         f"Template {rejected['TemplateCode']} is not approved.")


def test_an_unapproved_signature_is_refused(core_sdk, sdk, sender):
    qualification = core_sdk.common("QuerySmsQualificationRecord", {})["Data"]["List"][0]
    created = workflow.create_signature(core_sdk, str(qualification["GroupId"]), "飞鸟科技")
    assert created["Code"] == "OK", created
    assert core_sdk.common("GetSmsSign", {"SignName": "飞鸟科技"})["SignStatus"] == 2

    body = send(sdk, A, "飞鸟科技", sender.notice, {"order": "A1"})
    assert (body.code, body.message) == ("isv.SMS_SIGNATURE_ILLEGAL",
                                         "Signature '飞鸟科技' is not approved.")


def test_another_tenants_template_and_signature_are_as_unknown_as_none(
        pigeon, server, sender, core_sdk):
    stranger = make_tenant(pigeon, "Other Company")
    stranger_sdk = tea_client(server.endpoint, stranger)
    theirs = ready_to_send(pigeon, CoreClient(server.endpoint, stranger), stranger.account_id,
                           admin_phone="13900139009")
    qualification = core_sdk.common("QuerySmsQualificationRecord", {})["Data"]["List"][0]
    assert workflow.create_signature(core_sdk, str(qualification["GroupId"]),
                                     "杭州云雀")["Code"] == "OK"

    for template in (sender.notice, "SMS_000000001"):
        body = send(stranger_sdk, A, theirs.sign, template, {"order": "A1"})
        assert body.code == "isv.SMS_TEMPLATE_ILLEGAL", (template, body.message)
    for sign in ("杭州云雀", "无此签名"):
        body = send(stranger_sdk, A, sign, theirs.notice, {"order": "A1"})
        assert body.code == "isv.SMS_SIGNATURE_ILLEGAL", (sign, body.message)
    assert rows(pigeon, messages, sender.account_id) == []


def test_an_otp_only_signature_cannot_send_a_notification(sdk, sender):
    body = send(sdk, A, sender.otp_sign, sender.notice, {"order": "A1"})
    assert (body.code, body.message) == (
        "isv.SMS_SIGNATURE_SCENE_ILLEGAL",
        f"Signature '云雀' may only send verification-code templates; {sender.notice} is not "
        "one.")
    assert otp(sdk, sender).code == "OK"  # the general signature may


def test_international_templates_and_mainland_numbers_do_not_mix(pigeon, core_sdk, sdk, sender):
    created = workflow.create_template(core_sdk, sender.sign, TemplateName="海外验证码",
                                       TemplateType="3", IntlType="2",
                                       TemplateContent="Your code is ${code}.",
                                       TemplateRule='{"code":"numberCaptcha"}')
    assert created["Code"] == "OK", created
    abroad = created["TemplateCode"]

    body = send(sdk, A, sender.sign, abroad, {"code": "1234"})
    assert (body.code, body.message) == (
        "isv.DOMESTIC_NUMBER_NOT_SUPPORTED",
        f"Template {abroad} is international; {A} is a mainland number.")
    body = send(sdk, "85261234567", sender.sign, sender.notice, {"order": "A1"})
    assert (body.code, body.message) == (
        "isv.SMS_TEMPLATE_ILLEGAL",
        f"Template {sender.notice} is for mainland numbers; 85261234567 needs an international "
        "template (TemplateType 3).")
    assert rows(pigeon, messages, sender.account_id) == []

    # An English signature is bracketed [so] abroad, 【so】 at home.
    qualification = core_sdk.common("QuerySmsQualificationRecord", {})["Data"]["List"][0]
    assert workflow.create_signature(core_sdk, str(qualification["GroupId"]),
                                     "Lark")["Code"] == "OK"
    pigeon.db.write_sync(lambda conn: conn.execute(  # rejected at once: approve it by hand
        signatures.update().where(signatures.c.name == "Lark").values(status=1)))
    assert send(sdk, "85261234567", sender.sign, abroad, {"code": "1234"}).code == "OK"
    assert send(sdk, "85261234568", "Lark", abroad, {"code": "1234"}).code == "OK"
    assert send(sdk, A, "Lark", sender.notice, {"order": "A1"}).code == "OK"
    assert [(m["phone"], m["country_code"], m["content"], m["segments"], m["encoding"])
            for m in rows(pigeon, messages, sender.account_id)] == [
        ("85261234567", 852, "【云雀科技】Your code is 1234.", 1, "ucs2"),
        ("85261234568", 852, "[Lark]Your code is 1234.", 1, "gsm7"),
        (A, 86, "【Lark】您的订单A1已发货，请注意查收。", 1, "mainland")]


def test_a_suspended_account_is_out_of_service(pigeon, sdk, sender):
    pigeon.db.write_sync(accounts.set_account_status, sender.account_id, "suspended")
    body = otp(sdk, sender)
    assert (body.code, body.message) == (
        "isv.OUT_OF_SERVICE", "The service is suspended for this account; sending is refused.")
    pigeon.db.write_sync(accounts.set_account_status, sender.account_id, "active")
    assert otp(sdk, sender).code == "OK"


# -- per-number limits --------------------------------------------------------------------------


def test_otp_to_one_number_is_limited_per_minute_hour_and_day(pigeon, sdk, sender):
    start = tomorrow_at(pigeon, 10, 0, 30)
    with time_machine.travel(start, tick=True) as traveller:
        assert otp(sdk, sender).code == "OK"
        again = otp(sdk, sender)
        assert (again.code, again.message) == ("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
        assert otp(sdk, sender, B).code == "OK"  # another number has its own count

        for minute in range(1, 5):  # 10:01 … 10:04: five in the 10 o'clock hour
            traveller.move_to(start + timedelta(minutes=minute))
            assert otp(sdk, sender).code == "OK", minute
        traveller.move_to(start + timedelta(minutes=5))
        hour = otp(sdk, sender)
        assert (hour.code, hour.message) == ("isv.BUSINESS_LIMIT_CONTROL", "触发小时级流控Permits:5")

        for minute in range(5):  # 11:00 … 11:04: ten in 24 hours
            traveller.move_to(start + timedelta(hours=1, minutes=minute))
            assert otp(sdk, sender).code == "OK", minute
        traveller.move_to(start + timedelta(hours=2))
        day = otp(sdk, sender)
        assert (day.code, day.message) == ("isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:10")

        # The day is a rolling 24 hours: the first message stops counting 24 hours later.
        traveller.move_to(start + timedelta(hours=24, seconds=1))
        assert otp(sdk, sender).code == "OK"

    refused = [m for m in rows(pigeon, messages, sender.account_id) if m["phone"] == A]
    assert len(refused) == 11  # a refused one-number call stores nothing


def test_every_otp_template_of_a_signature_shares_the_count(pigeon, core_sdk, sdk, sender):
    created = workflow.create_template(core_sdk, sender.sign, TemplateName="支付验证码",
                                       TemplateContent="您的支付验证码为${code}，请勿泄露。")
    assert created["Code"] == "OK", created
    with time_machine.travel(tomorrow_at(pigeon, 10), tick=True):
        assert otp(sdk, sender, A).code == "OK"
        again = send(sdk, A, sender.sign, created["TemplateCode"], {"code": "9876"})
    assert (again.code, again.message) == ("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")


def test_notifications_do_not_count_towards_the_otp_limits(pigeon, sdk, sender):
    with time_machine.travel(tomorrow_at(pigeon, 10), tick=True):
        assert send(sdk, A, sender.sign, sender.notice, {"order": "A1"}).code == "OK"
        assert otp(sdk, sender, A).code == "OK"  # same signature, number and minute


def test_a_tenant_may_tighten_the_limits(pigeon, sdk, sender):
    pigeon.db.write_sync(sending_settings.set_limits, sender.account_id, other_per_day=2)
    for _ in range(2):
        assert send(sdk, A, sender.sign, sender.notice, {"order": "A1"}).code == "OK"
    body = send(sdk, A, sender.sign, sender.notice, {"order": "A1"})
    assert (body.code, body.message) == ("isv.BUSINESS_LIMIT_CONTROL", "触发天级流控Permits:2")
    # Notification limits count per template: another template to the same number still goes.
    assert send(sdk, A, sender.sign, sender.long_notice, {"name": "张三"}).code == "OK"


def test_in_a_call_to_several_numbers_only_the_number_over_its_limit_fails(pigeon, sdk, sender):
    with time_machine.travel(tomorrow_at(pigeon, 10), tick=True):
        assert otp(sdk, sender, A).code == "OK"
        spent = balance(pigeon, sender.account_id)

        body = otp(sdk, sender, f"{A},{B}")

    assert body.code == "OK" and body.biz_id
    batch = {m["phone"]: m for m in rows(pigeon, messages, sender.account_id)
             if m["biz_id"] == body.biz_id}
    assert batch[A]["status"] == "failed" and batch[A]["err_code"] == "MOBILE_SEND_LIMIT"
    assert batch[A]["err_msg"] == "触发分钟级流控Permits:1"
    assert batch[A]["charged"] is False and batch[A]["done_at"] == batch[A]["created_at"]
    assert batch[B]["status"] == "queued" and batch[B]["charged"] is True
    assert (batch[B]["err_code"], batch[B]["err_msg"], batch[B]["done_at"]) == (None, None, None)
    # The failed number's report is queued at once; the queued one's comes from its carrier.
    local = batch[A]["done_at"].astimezone(pigeon.calendar.zone).strftime("%Y-%m-%d %H:%M:%S")
    [report] = [r for r in rows(pigeon, report_events, sender.account_id)
                if r["type"] == "SmsReport"]
    assert (report["type"], report["created_at"]) == ("SmsReport", batch[A]["done_at"])
    assert {k: report["payload"][k] for k in ("phone_number", "send_time", "report_time",
                                              "err_code", "err_msg", "biz_id", "message_id")} == {
        "phone_number": A, "send_time": local, "report_time": local,
        "err_code": "MOBILE_SEND_LIMIT", "err_msg": "触发分钟级流控Permits:1",
        "biz_id": body.biz_id, "message_id": str(batch[A]["id"])}
    charged = {e["message_id"] for e in rows(pigeon, ledger, sender.account_id)
               if e["kind"] == "charge"}
    assert batch[A]["id"] not in charged and batch[B]["id"] in charged
    assert balance(pigeon, sender.account_id) == spent - 45


def test_a_whitelisted_number_bypasses_the_per_number_limits(pigeon, sdk, sender):
    pigeon.db.write_sync(number_lists.add, sender.account_id, "whitelist", f"+86{A}",
                         pigeon.now())
    with time_machine.travel(tomorrow_at(pigeon, 10), tick=True):
        for _ in range(3):
            assert otp(sdk, sender, A).code == "OK"
        assert otp(sdk, sender, B).code == "OK"
        assert otp(sdk, sender, B).code == "isv.BUSINESS_LIMIT_CONTROL"


def test_only_the_accounts_own_whitelist_and_prices_apply(pigeon, sdk, sender):
    stranger = make_tenant(pigeon, "Other Company")
    pigeon.db.write_sync(number_lists.add, stranger.account_id, "whitelist", A, pigeon.now())
    pigeon.db.write_sync(number_lists.add, sender.account_id, "test", A, pigeon.now())
    pigeon.db.write_sync(billing.set_price, 0, 10, stranger.account_id)
    with time_machine.travel(tomorrow_at(pigeon, 10), tick=True):
        assert otp(sdk, sender, A).code == "OK"
        assert otp(sdk, sender, A).code == "isv.BUSINESS_LIMIT_CONTROL"
    assert [m["price"] for m in rows(pigeon, messages, sender.account_id)] == [45]


# -- account caps and quiet hours ---------------------------------------------------------------


def test_the_account_day_cap_refuses_the_call_that_would_pass_it(pigeon, sdk, sender):
    pigeon.db.write_sync(sending_settings.set_limits, sender.account_id, day_limit=3)
    assert send(sdk, f"{A},{B}", sender.sign, sender.notice, {"order": "A1"}).code == "OK"

    over = send(sdk, f"{C},15000150000", sender.sign, sender.notice, {"order": "A1"})
    assert over.code == "isv.DAY_LIMIT_CONTROL", over.message  # refused whole, never in part
    assert send(sdk, C, sender.sign, sender.notice, {"order": "A1"}).code == "OK"
    assert send(sdk, "15000150000", sender.sign, sender.notice,
                {"order": "A1"}).code == "isv.DAY_LIMIT_CONTROL"


def test_messages_sent_before_a_cap_was_set_count_towards_it(pigeon, sdk, sender):
    # The caps read counters of the day and the month (not a count of every message of the
    # month, which grows with the account): made from the messages when first needed.
    numbers = [str(15100000000 + n) for n in range(8)]
    for number in numbers[:3]:
        assert send(sdk, number, sender.sign, sender.notice, {"order": "A1"}).code == "OK"
    pigeon.db.write_sync(sending_settings.set_limits, sender.account_id, day_limit=5)
    assert send(sdk, f"{numbers[3]},{numbers[4]}", sender.sign, sender.notice,
                {"order": "A1"}).code == "OK"
    assert send(sdk, numbers[5], sender.sign, sender.notice,
                {"order": "A1"}).code == "isv.DAY_LIMIT_CONTROL"

    pigeon.db.write_sync(sending_settings.put, sender.account_id, day_limit=None,
                         month_limit=6)
    assert send(sdk, numbers[5], sender.sign, sender.notice, {"order": "A1"}).code == "OK"
    assert send(sdk, numbers[6], sender.sign, sender.notice,
                {"order": "A1"}).code == "isv.MONTH_LIMIT_CONTROL"


def test_promotional_messages_wait_out_the_quiet_hours_but_notifications_do_not(
        pigeon, sdk, sender):
    with time_machine.travel(tomorrow_at(pigeon, 21, 0, 0), tick=True):
        promo = send(sdk, A, sender.sign, sender.promo)
        notice = send(sdk, A, sender.sign, sender.notice, {"order": "A1"})
    assert promo.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert "08:00" in promo.message and "Permits" not in promo.message
    assert notice.code == "OK"

    with time_machine.travel(tomorrow_at(pigeon, 8, 0, 0), tick=True):
        assert send(sdk, A, sender.sign, sender.promo).code == "OK"


# -- what it costs --------------------------------------------------------------------------------


def test_without_balance_or_package_nothing_is_sent(pigeon, server, tenant, core_sdk, sdk):
    sender = ready_to_send(pigeon, core_sdk, tenant.account_id, balance_cny=0)
    body = otp(sdk, sender)
    assert body.code == "isv.AMOUNT_NOT_ENOUGH", body.message
    assert rows(pigeon, messages, sender.account_id) == []


def test_without_a_balance_even_the_smallest_price_is_refused(pigeon, server, tenant,
                                                               core_sdk, sdk):
    sender = ready_to_send(pigeon, core_sdk, tenant.account_id, balance_cny=0)
    pigeon.db.write_sync(billing.set_price, 0, 1, sender.account_id)
    body = otp(sdk, sender)
    assert body.code == "isv.AMOUNT_NOT_ENOUGH", body.message
    assert rows(pigeon, messages, sender.account_id) == []
    assert rows(pigeon, balances, sender.account_id, order=balances.c.account_id) == []


def test_a_package_is_used_before_the_balance(pigeon, sdk, sender):
    now = pigeon.now()
    package = pigeon.db.write_sync(billing.add_package, sender.account_id, "general", 1,
                                   now + timedelta(days=30), now)
    before = balance(pigeon, sender.account_id)

    assert send(sdk, f"{A},{B}", sender.sign, sender.notice, {"order": "A1"}).code == "OK"

    first, second = rows(pigeon, messages, sender.account_id)
    charges = {e["message_id"]: e for e in rows(pigeon, ledger, sender.account_id)
               if e["kind"] == "charge"}
    assert (charges[first["id"]]["package_id"], charges[first["id"]]["units"],
            charges[first["id"]]["amount"]) == (package["id"], -1, 0)
    assert (charges[second["id"]]["package_id"], charges[second["id"]]["units"],
            charges[second["id"]]["amount"]) == (None, -1, -45)
    [stored] = rows(pigeon, packages, sender.account_id)
    assert stored["remaining"] == 0
    assert balance(pigeon, sender.account_id) == before - 45


def test_a_71_character_message_is_billed_as_two_segments(pigeon, sdk, sender):
    before = balance(pigeon, sender.account_id)
    assert send(sdk, A, sender.sign, sender.long_notice, {"name": "欧阳"*4 + "先生"}).code == "OK"
    assert send(sdk, B, sender.sign, sender.long_notice, {"name": "欧阳"*4 + "先"}).code == "OK"

    ten, nine = rows(pigeon, messages, sender.account_id)
    assert (len(ten["content"]), ten["segments"]) == (71, 2)
    assert (len(nine["content"]), nine["segments"]) == (70, 1)
    assert balance(pigeon, sender.account_id) == before - 3 * 45


def test_an_account_price_overrides_the_platform_price(pigeon, sdk, sender):
    pigeon.db.write_sync(billing.set_price, 1, 40)
    assert send(sdk, A, sender.sign, sender.notice, {"order": "A1"}).code == "OK"
    pigeon.db.write_sync(billing.set_price, 1, 30, sender.account_id)
    assert send(sdk, B, sender.sign, sender.notice, {"order": "A1"}).code == "OK"

    amounts = [e["amount"] for e in rows(pigeon, ledger, sender.account_id)
               if e["kind"] == "charge"]
    assert amounts == [-40, -30]


# -- replays -------------------------------------------------------------------------------------
# SendSms records its nonce in the transaction that accepts the message (one write for both);
# a nonce is used once all the same, whatever became of the request.

def _post(server, params: dict) -> dict:
    import httpx

    from tests.support import signer

    with httpx.Client(base_url=server.url, timeout=10) as http:
        return http.post("/", content=signer.form(params), headers={
            "content-type": "application/x-www-form-urlencoded"}).json()


def test_a_replayed_send_is_refused_and_sends_nothing_more(pigeon, server, tenant, sender):
    from tests.support import signer

    params = signer.v1_params(tenant, "SendSms", {
        "PhoneNumbers": A, "SignName": sender.sign, "TemplateCode": sender.notice,
        "TemplateParam": '{"order":"1"}'})
    assert _post(server, params)["Code"] == "OK"
    assert _post(server, params)["Code"] == "SignatureNonceUsed"
    assert [m['phone'] for m in rows(pigeon, messages, tenant.account_id)] == [A]


def test_a_refused_send_replayed_once_it_would_pass_is_still_refused(pigeon, server, tenant,
                                                                       sender):
    from tests.support import signer

    # Refused inside the accepting transaction: no money yet.
    pigeon.db.write_sync(lambda conn: conn.execute(
        balances.update().where(balances.c.account_id == tenant.account_id).values(amount=0)))
    params = signer.v1_params(tenant, "SendSms", {
        "PhoneNumbers": A, "SignName": sender.sign, "TemplateCode": sender.notice,
        "TemplateParam": '{"order":"1"}'})
    assert _post(server, params)["Code"] == "isv.AMOUNT_NOT_ENOUGH"
    pigeon.db.write_sync(billing.topup, tenant.account_id, 10_000, pigeon.now())
    assert _post(server, params)["Code"] == "SignatureNonceUsed"

    # Refused before any write (a malformed parameter): the nonce is used all the same.
    bad = signer.v1_params(tenant, "SendSms", {
        "PhoneNumbers": A, "SignName": sender.sign, "TemplateCode": sender.notice,
        "TemplateParam": "{not json"})
    assert _post(server, bad)["Code"] == "isv.INVALID_JSON_PARAM"
    assert _post(server, bad)["Code"] == "SignatureNonceUsed"

    # Refused by the checks made before the write (sending.prepare; on SQLite outside the
    # write): the nonce is used all the same.
    unknown = signer.v1_params(tenant, "SendSms", {
        "PhoneNumbers": A, "SignName": sender.sign, "TemplateCode": "SMS_000000",
        "TemplateParam": '{"order":"1"}'})
    assert _post(server, unknown)["Code"] == "isv.SMS_TEMPLATE_ILLEGAL"
    assert _post(server, unknown)["Code"] == "SignatureNonceUsed"
    assert rows(pigeon, messages, tenant.account_id) == []
