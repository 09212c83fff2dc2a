"""A small sending history for the Business Statistics tests, sent through the official SDK."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

import time_machine
from alibabacloud_dysmsapi20170525 import models
from alibabacloud_tea_util.models import RuntimeOptions

from pigeon.services import delivery
from pigeon.store.tables import messages
from tests.support.sending import Sender, ready_to_send, rows, tomorrow_at

RT = RuntimeOptions()
A, B, C = "13800138000", "13900139000", "13700137000"
BALANCE_CNY = 100


@dataclass(frozen=True)
class History:
    sender: Sender
    day1: date  # platform days
    day2: date


def send(sdk, numbers: str, sign: str, template: str, params: dict | None = None) -> None:
    body = sdk.send_sms_with_options(models.SendSmsRequest(
        phone_numbers=numbers, sign_name=sign, template_code=template,
        template_param=None if params is None else json.dumps(params, ensure_ascii=False)),
        RT).body
    assert body.code == "OK", body.message


def sent_history(pigeon, core_sdk, sdk, account_id: int) -> History:
    """Day one, 10:00: a notification to A and B (1 segment each; A delivered, B failed and
    refunded), a 2-segment notification to A, an OTP to C under the OTP signature.  Day two,
    09:00: a promotion to A.  5 messages, 6 segments; the dispatcher is not running, so the
    rest wait for their receipts."""
    sender = ready_to_send(pigeon, core_sdk, account_id, balance_cny=BALANCE_CNY)
    first = tomorrow_at(pigeon, 10)
    with time_machine.travel(first, tick=True):
        send(sdk, f"{A},{B}", sender.sign, sender.notice, {"order": "A1"})
        send(sdk, A, sender.sign, sender.long_notice, {"name": "欧阳" * 4 + "先生"})
        send(sdk, C, sender.otp_sign, sender.otp, {"code": "1234"})
    second = first + timedelta(days=1, hours=-1)
    with time_machine.travel(second, tick=True):
        send(sdk, A, sender.sign, sender.promo)
    stored = rows(pigeon, messages, account_id)
    for message, delivered in ((stored[0], True), (stored[1], False)):
        pigeon.db.write_sync(delivery.finish, message["id"], delivered=delivered,
                             err_code="DELIVERED" if delivered else "MK:0005", err_msg=None,
                             zone=pigeon.calendar.zone, now=first + timedelta(seconds=5))
    zone = pigeon.calendar.zone
    return History(sender=sender, day1=first.astimezone(zone).date(),
                   day2=second.astimezone(zone).date())


def query_send_statistics(sdk, first: date, last: date, is_globe: int = 1) -> dict:
    """QuerySendStatistics through the Tea SDK: ``{day: (total, delivered, failed, waiting)}``."""
    body = sdk.query_send_statistics_with_options(models.QuerySendStatisticsRequest(
        is_globe=is_globe, start_date=first.strftime("%Y%m%d"),
        end_date=last.strftime("%Y%m%d"), page_index=1, page_size=50), RT).body
    assert body.code == "OK", body.message
    return {row.send_date: (row.total_count, row.responded_success_count,
                            row.responded_fail_count, row.no_responded_count)
            for row in body.data.target_list}
