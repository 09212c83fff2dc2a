"""SmsConversionIntl through the official SDK: a tenant reports that the user of a message
completed its verification; another tenant's message answers like one that does not exist; and
the SMS-pumping rule counts "numbers that never verify" from the reported conversions, per
number range, for a tenant that reports them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_util.models import RuntimeOptions
from sqlalchemy import insert, select

from pigeon.services import alert_config, alert_evaluation
from pigeon.store.tables import message_conversions, messages
from tests.support.alerts import Passes
from tests.support.sdk import tea_client
from tests.support.sending import ready_to_send

RT = RuntimeOptions()
CONVERTED_AT = datetime(2027, 3, 1, 2, 0, 30, tzinfo=UTC)


def add_message(pigeon, account_id: int, biz_id: str, phone: str) -> int:
    row = {"biz_id": biz_id, "account_id": account_id, "phone": phone, "country_code": 86,
           "carrier": "mobile", "signature_id": 1, "sign_name": "云雀", "template_id": 1,
           "template_code": "SMS_1", "template_type": 0, "content": "【云雀】您的验证码为1234",
           "segments": 1, "encoding": "mainland", "status": "delivered", "attempts": 1,
           "price": 45, "charged": True, "created_at": pigeon.now()}
    return pigeon.db.write_sync(lambda conn: conn.execute(insert(messages).values(**row))
                                .inserted_primary_key[0])


def conversions(pigeon) -> list[dict]:
    return pigeon.db.read_sync(lambda conn: [dict(r) for r in conn.execute(
        select(message_conversions).order_by(message_conversions.c.message_id)).mappings()])


def convert(sdk, message_id: str, delivered: bool = True, at: datetime | None = CONVERTED_AT):
    request = models.SmsConversionIntlRequest(
        message_id=message_id, delivered=delivered,
        conversion_time=int(at.timestamp() * 1000) if at else None)
    return sdk.sms_conversion_intl_with_options(request, RT).body


def test_a_tenant_reports_the_conversion_of_its_message(pigeon, sdk, tenant):
    message_id = add_message(pigeon, tenant.account_id, "900619746936498440^0", "13800138000")

    body = convert(sdk, "900619746936498440^0")

    assert (body.code, body.message) == ("OK", "OK") and body.request_id
    [row] = conversions(pigeon)
    assert (row["message_id"], row["account_id"], row["phone"], row["delivered"]) == \
        (message_id, tenant.account_id, "13800138000", True)
    assert row["conversion_time"] == CONVERTED_AT
    # A later report for the same message replaces the first; a report's message_id works too.
    assert convert(sdk, str(message_id), delivered=False, at=None).code == "OK"
    [row] = conversions(pigeon)
    assert (row["delivered"], row["conversion_time"]) == (False, None)


def test_another_tenants_message_is_answered_as_one_that_does_not_exist(
        pigeon, server, sdk, tenant, other_tenant):
    theirs = add_message(pigeon, other_tenant.account_id, "900619746936498441^0", "13900139000")

    by_biz_id = convert(sdk, "900619746936498441^0")
    by_id = convert(sdk, str(theirs))
    missing = convert(sdk, "900619746936498442^0")

    assert by_biz_id.code == by_id.code == missing.code == "isv.INVALID_PARAMETERS"
    assert by_biz_id.message == missing.message.replace("498442", "498441")
    assert "13900139000" not in by_biz_id.message + by_id.message
    assert conversions(pigeon) == []
    # Theirs, reported by them, is recorded.
    assert convert(tea_client(server.endpoint, other_tenant), str(theirs)).code == "OK"
    assert [r["account_id"] for r in conversions(pigeon)] == [other_tenant.account_id]


def test_a_bad_conversion_time_is_refused(pigeon, sdk, tenant):
    add_message(pigeon, tenant.account_id, "900619746936498443^0", "13800138000")
    request = models.SmsConversionIntlRequest(message_id="900619746936498443^0", delivered=True,
                                              conversion_time=-5)
    with pytest.raises(Exception) as refused:
        sdk.sms_conversion_intl_with_options(request, RT)
    assert "InvalidConversionTime" in str(refused.value)
    assert conversions(pigeon) == []


# -- the SMS-pumping rule ---------------------------------------------------------------------

ATTACKED = "1380013"
ATTACK = [f"{ATTACKED}{n:04d}" for n in range(30)]
USERS = [f"1390013{n:04d}" for n in range(25)]


def test_numbers_that_never_verify_are_judged_per_range_from_reported_conversions(
        pigeon, server, sdk, tenant, core_sdk):
    sender = ready_to_send(pigeon, core_sdk, tenant.account_id, balance_cny=100)
    now = pigeon.now()
    pigeon.db.write_sync(alert_config.add_rule, tenant.account_id, "otp_pumping", {
        "window": "10m", "range_numbers": "1000", "unverified_numbers": "20",
        "unverified_ratio": "0.9", "follow_up": "30m", "protect": "on"},
        timedelta(hours=1), None, now)

    def otp(numbers: list[str]) -> str:
        body = sdk.send_sms_with_options(models.SendSmsRequest(
            phone_numbers=",".join(numbers), sign_name=sender.sign, template_code=sender.otp,
            template_param=json.dumps({"code": "482913"})), RT).body
        assert body.code == "OK", body.message
        return body.biz_id

    otp(ATTACK)  # pumped numbers: nobody ever types the code in
    for user in USERS:  # real users, one call each, who verify
        assert convert(sdk, otp([user]), at=None).code == "OK"

    passes = Passes(pigeon)
    try:
        assert passes(now + timedelta(minutes=29)).fired == []  # follow-up not over yet
        result = passes(now + timedelta(minutes=31))
    finally:
        passes.close()

    [alert] = pigeon.db.read_sync(alert_evaluation.list_alerts, tenant.account_id)
    assert alert["subject"] == f"unverified:range:{ATTACKED}"  # not the users' range
    assert alert["figures"] == {"pattern": "unverified", "source": "conversions",
                                "range": ATTACKED, "numbers": 30, "unverified": 30,
                                "threshold": 20, "ratio": 1.0, "follow_up": "30m"}
    assert result.protections == [alert["protection_id"]]
    # The protection blocks OTP to that range; the users' range keeps flowing.
    blocked = sdk.send_sms_with_options(models.SendSmsRequest(
        phone_numbers=f"{ATTACKED}9999", sign_name=sender.sign, template_code=sender.otp,
        template_param=json.dumps({"code": "482913"})), RT).body
    assert blocked.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert otp(["13900139999"])
