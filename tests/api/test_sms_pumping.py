"""A simulated SMS-pumping attack through the official SDK: thousands of OTP sends across one
number range fire the abuse alert, the DingTalk group gets it, the protection stops the attack
while the tenant's normal traffic keeps flowing, and lifting it lets the range through again."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_util.models import RuntimeOptions

from pigeon.services import alert_config, alert_evaluation, otp_protection
from pigeon.store.tables import messages
from tests.support.alerts import Passes
from tests.support.sending import ready_to_send, rows

RT = RuntimeOptions()
RANGE = "1380013"
ATTACK = [f"{RANGE}{n:04d}" for n in range(2000)]
PER_CALL = 500


@pytest.fixture
def sender(pigeon, server, tenant, core_sdk):
    return ready_to_send(pigeon, core_sdk, tenant.account_id, balance_cny=300)


@pytest.fixture
def passes(pigeon):
    made = Passes(pigeon)
    yield made
    made.close()


def send(sdk, numbers: str, sign: str, template: str, params: dict):
    request = models.SendSmsRequest(phone_numbers=numbers, sign_name=sign,
                                    template_code=template,
                                    template_param=json.dumps(params, ensure_ascii=False))
    return sdk.send_sms_with_options(request, RT).body


def otp(sdk, sender, numbers: str):
    return send(sdk, numbers, sender.sign, sender.otp, {"code": "482913"})


def test_a_pumping_attack_is_alerted_stopped_and_lifted(pigeon, sdk, sender, robot, passes):
    account_id = sender.account_id
    now = pigeon.now
    pigeon.db.write_sync(alert_config.add_contact, account_id, "On call", "13700137000", None,
                         now())
    pigeon.db.write_sync(alert_config.add_channel, pigeon.box, account_id, "dingtalk",
                         "alerts group", now(), url=robot.url, secret=robot.secret,
                         contact_ids=[1])
    rule = pigeon.db.write_sync(alert_config.add_rule, account_id, "otp_pumping",
                                {"window": "10m", "range_numbers": "100", "protect": "on",
                                 "protect_for": "1d"}, timedelta(hours=1), None, now())

    # Normal traffic: a few OTPs in other ranges, a notification.
    for number in ("13900139000", "15000150000", "18600186000"):
        assert otp(sdk, sender, number).code == "OK"
    assert passes(now()).fired == []

    # The attack: 2000 OTP sends across one range, through the official SDK.
    for start in range(0, len(ATTACK), PER_CALL):
        body = otp(sdk, sender, ",".join(ATTACK[start:start + PER_CALL]))
        assert body.code == "OK", body.message

    result = passes(now())

    [alert] = pigeon.db.read_sync(alert_evaluation.list_alerts, account_id)
    assert alert["rule_id"] == rule["id"] and alert["subject"] == f"range:{RANGE}"
    assert alert["figures"]["numbers"] == 2000 and alert["figures"]["threshold"] == 100
    assert result.protections == [alert["protection_id"]]
    # The DingTalk group was told, with a signed markdown message.
    assert robot.refused == []
    [message] = robot.messages
    assert message["msgtype"] == "markdown"
    text = message["markdown"]["text"]
    assert "OTP burst to one number range" in text and f"range {RANGE}" in text
    assert f"OTP to range {RANGE} blocked" in text and "@13700137000" in text
    assert alert["notifications"][0]["state"] == "sent"

    # The attack is stopped: OTP to the range is refused with the documented code …
    refused = otp(sdk, sender, f"{RANGE}9999")
    assert refused.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert f"range {RANGE}" in refused.message and "SMS-pumping protection" in refused.message
    mixed = otp(sdk, sender, f"13900139001,{RANGE}9998")
    assert mixed.code == "isv.BUSINESS_LIMIT_CONTROL"
    # … while the tenant's normal traffic keeps flowing.
    assert otp(sdk, sender, "13900139002").code == "OK"
    notice = send(sdk, f"{RANGE}0001", sender.sign, sender.notice, {"order": "A1001"})
    assert notice.code == "OK", notice.message
    # A second pass: the incident is ongoing, nobody is told twice.
    assert passes(now()).fired == [] and len(robot.messages) == 1

    # The tenant lifts the protection: the range flows again.
    [lifted] = pigeon.db.write_sync(otp_protection.lift, account_id, alert["protection_id"],
                                    "tenant", now())
    assert lifted["lifted_at"] is not None
    assert otp(sdk, sender, f"{RANGE}9999").code == "OK"

    stored = rows(pigeon, messages, account_id)
    assert sum(m["phone"].startswith(RANGE) and m["template_type"] == 0 for m in stored) == 2001
    assert {m["source_ip"] for m in stored} == {"127.0.0.1"}  # the caller, recorded
