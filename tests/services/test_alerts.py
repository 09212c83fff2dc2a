"""Alerts end to end below the API: rules evaluated at an explicit ``now`` (time travel, never
sleeping), recorded once per incident, and told through real local stand-ins — an SMTP
server, a DingTalk robot that checks signatures as DingTalk does, and a JSON webhook receiver.
SMS alerts are queued here as platform messages; tests/api/test_alert_sms.py follows them
through the dispatcher to the simulator's handsets and to an SMSC."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from pigeon.app import Pigeon
from pigeon.core.alert_rules import balance_finding
from pigeon.core.errors import PigeonError
from pigeon.services import (
    accounts,
    alert_config,
    alert_evaluation,
    alert_sms,
    billing,
    connectors,
    otp_protection,
)
from pigeon.services.alert_evaluation import PlatformLimits
from pigeon.store.tables import (
    alert_notifications,
    alerts,
    balances,
    messages,
    report_events,
)
from tests.support.alerts import Passes
from tests.support.smtp import SmtpServer

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)


@pytest.fixture
def smtp():
    server = SmtpServer(user="pigeon", password="mail-password").start()
    yield server
    server.stop()


@pytest.fixture
def passes(pigeon, smtp):
    made = Passes(pigeon, smtp)
    yield made
    made.close()


@pytest.fixture
def account_id(pigeon) -> int:
    return int(pigeon.db.write_sync(accounts.create_account, "Lark Technology",
                                    NOW)["AccountId"])


def write(pigeon, fn, *args, **kwargs):
    return pigeon.db.write_sync(fn, *args, **kwargs)


def add_rule(pigeon, account_id, kind, quiet=timedelta(hours=1), channels=None, **params):
    return write(pigeon, alert_config.add_rule, account_id, kind,
                 {k: str(v) for k, v in params.items()}, quiet, channels, NOW)


def add_messages(pigeon, account_id, phones, at, *, template_type=0, status="queued",
                 source_ip=None, country_code=86):
    rows = [{"biz_id": f"{i:018d}^0", "account_id": account_id, "phone": phone,
             "country_code": country_code, "carrier": "mobile", "signature_id": 1,
             "sign_name": "云雀", "template_id": 1, "template_code": "SMS_1",
             "template_type": template_type, "content": "【云雀】您的验证码为1234",
             "segments": 1, "encoding": "mainland", "status": status, "attempts": 0,
             "price": 45, "charged": True, "created_at": at, "source_ip": source_ip}
            for i, phone in enumerate(phones)]
    pigeon.db.write_sync(lambda conn: conn.execute(insert(messages), rows))


def alert_rows(pigeon, account_id=None):
    def read(conn):
        query = select(alerts).order_by(alerts.c.id)
        query = query.where(alerts.c.account_id.is_(None) if account_id is None
                            else alerts.c.account_id == account_id)
        return [dict(r) for r in conn.execute(query).mappings()]

    return pigeon.db.read_sync(read)


def listed(pigeon, account_id):
    return pigeon.db.read_sync(alert_evaluation.list_alerts, account_id, 50, UTC)


# -- email ------------------------------------------------------------------------------------


def test_a_low_balance_is_emailed_to_the_contacts_through_smtp(pigeon, passes, smtp,
                                                               account_id):
    write(pigeon, alert_config.add_contact, account_id, "Li Lei", None, "lilei@lark.test", NOW)
    write(pigeon, alert_config.add_contact, account_id, "Han Meimei", "13800138000",
          "hmm@lark.test", NOW)
    write(pigeon, alert_config.add_channel, pigeon.box, account_id, "email", "ops mail", NOW)
    write(pigeon, billing.topup, account_id, 50_000, NOW)  # 50 CNY
    add_rule(pigeon, account_id, "balance", below="100")

    result = passes(NOW)

    assert len(result.fired) == 1 and result.sent == 1
    [mail] = smtp.mails
    assert sorted(mail.rcpt_tos) == ["hmm@lark.test", "lilei@lark.test"]
    assert mail.mail_from == "alerts@pigeon.test" and smtp.logins == ["pigeon"]
    assert mail.subject == f"[Pigeon] Balance low — Lark Technology ({account_id})"
    assert "The balance is 50.000 CNY, below the threshold of 100.000 CNY." in mail.body
    [alert] = listed(pigeon, account_id)
    assert alert["kind"] == "balance" and alert["figures"]["balance"] == "50.000"
    assert alert["notifications"] == [{
        "channel_id": alert["notifications"][0]["channel_id"], "channel": "email",
        "event": "fired", "target": "lilei@lark.test, hmm@lark.test", "state": "sent", "attempts": 1,
        "last_error": None, "sent_at": NOW.isoformat(), "next_attempt_at": None}]


def test_a_mail_server_that_is_down_is_retried_then_given_up(pigeon, account_id):
    down = SmtpServer().start()
    down.stop()  # its port now refuses connections
    made = Passes(pigeon, down)
    try:
        write(pigeon, alert_config.add_contact, account_id, "Li Lei", None, "l@lark.test", NOW)
        write(pigeon, alert_config.add_channel, pigeon.box, account_id, "email", None, NOW)
        add_rule(pigeon, account_id, "balance", below="1")
        assert made(NOW).retrying == 1
        [told] = listed(pigeon, account_id)[0]["notifications"]
        assert told["state"] == "pending" and "cannot reach 127.0.0.1" in told["last_error"]
        assert told["next_attempt_at"] == (NOW + MINUTE).isoformat()
        assert made(NOW + 30 * timedelta(seconds=1)).retrying == 0  # not due yet
        assert made(NOW + MINUTE).retrying == 1
        result = made(NOW + 6 * MINUTE)
        assert result.failed == 1
        [told] = listed(pigeon, account_id)[0]["notifications"]
        assert told["state"] == "failed" and told["attempts"] == 3
        assert made(NOW + timedelta(hours=2)).failed == 0  # kept, not tried again
    finally:
        made.close()


# -- DingTalk ---------------------------------------------------------------------------------


def test_dingtalk_gets_a_signed_markdown_message(pigeon, passes, robot, account_id):
    write(pigeon, alert_config.add_contact, account_id, "Li Lei", "13800138000", None, NOW)
    channel = write(pigeon, alert_config.add_channel, pigeon.box, account_id, "dingtalk",
                    "alert group", NOW, url=robot.url, secret=robot.secret, contact_ids=[1])
    assert channel["target"].endswith("/robot/send?access_token=…") and channel["signed"]
    add_rule(pigeon, account_id, "balance", below="1")

    assert passes(NOW).sent == 1

    assert robot.refused == []
    [message] = robot.messages
    assert message["msgtype"] == "markdown"
    assert message["markdown"]["title"].startswith("[Pigeon] Balance low")
    assert message["markdown"]["text"].startswith("### [Pigeon] Balance low")
    assert "@13800138000" in message["markdown"]["text"]
    assert message["at"] == {"atMobiles": ["13800138000"], "isAtAll": False}
    [alert] = listed(pigeon, account_id)
    assert alert["notifications"][0]["state"] == "sent"
    assert robot.secret not in json.dumps(alert) and robot.token not in json.dumps(alert)


def test_a_wrong_signing_secret_is_recorded_as_dingtalks_refusal(pigeon, passes, robot,
                                                                 account_id):
    write(pigeon, alert_config.add_channel, pigeon.box, account_id, "dingtalk", None, NOW,
          url=robot.url, secret="SECnot-the-robots")
    add_rule(pigeon, account_id, "balance", below="1")

    assert passes(NOW).retrying == 1

    assert robot.messages == [] and robot.refused[0][0] == 310000
    [told] = listed(pigeon, account_id)[0]["notifications"]
    assert told["state"] == "pending"
    assert told["last_error"].startswith("DingTalk answered errcode 310000: sign not match")


# -- webhooks and SMS -------------------------------------------------------------------------


def test_a_webhook_gets_the_alert_as_signed_json(pigeon, passes, receiver, account_id):
    write(pigeon, alert_config.add_channel, pigeon.box, account_id, "webhook", None, NOW,
          url=receiver.url, secret="hook-secret")
    add_rule(pigeon, account_id, "balance", below="1")

    assert passes(NOW).sent == 1

    [request] = receiver.received
    body = request.json
    assert body["kind"] == "balance" and body["account_id"] == str(account_id)
    assert body["figures"] == {"balance": "0.000", "threshold": "1.000"}
    timestamp = request.headers["X-Pigeon-Timestamp"]
    expected = hmac.new(b"hook-secret", f"{timestamp}.".encode() + request.body,
                        hashlib.sha256).hexdigest()
    assert request.headers["X-Pigeon-Signature"] == f"sha256={expected}"


def test_sms_alerts_are_queued_as_messages_of_the_platform_account(pigeon, passes,
                                                                   account_id):
    write(pigeon, alert_config.add_contact, account_id, "Li Lei", "+8613800138000", None, NOW)
    write(pigeon, alert_config.add_channel, pigeon.box, account_id, "sms", None, NOW)
    add_rule(pigeon, account_id, "balance", below="1")

    assert passes(NOW).sent == 1

    [message] = pigeon.db.read_sync(lambda conn: [dict(r) for r in conn.execute(
        select(messages).where(messages.c.phone == "13800138000")).mappings()])
    assert message["account_id"] == alert_sms.PLATFORM_ACCOUNT_ID != account_id
    assert (message["status"], message["sign_name"], message["template_code"]) == \
        ("queued", "Pigeon", "PIGEON_ALERT")
    assert message["content"].startswith("【Pigeon】Balance low — Lark Technology")
    assert (message["price"], message["charged"], message["template_type"]) == (0, False, 1)
    [alert] = listed(pigeon, account_id)
    [told] = alert["notifications"]
    assert told["target"] == f"13800138000 (BizId {message['biz_id']})"
    # The tenant paid nothing for it, and the platform account has no rules of its own.
    assert pigeon.db.read_sync(billing.balance, account_id) == 0


def test_an_alert_with_no_channel_is_still_recorded(pigeon, passes, account_id):
    add_rule(pigeon, account_id, "balance", below="1")
    passes(NOW)
    [alert] = listed(pigeon, account_id)
    assert alert["notifications"] == [] and alert["open"]


# -- incidents and time ------------------------------------------------------------------------


def set_balance(pigeon, account_id, milli):
    pigeon.db.write_sync(lambda conn: conn.execute(
        update(balances).where(balances.c.account_id == account_id).values(amount=milli)))


def test_one_incident_is_one_alert_and_a_relapse_within_the_quiet_period_is_quiet(
        pigeon, passes, receiver, account_id):
    write(pigeon, alert_config.add_channel, pigeon.box, account_id, "webhook", None, NOW,
          url=receiver.url)
    add_rule(pigeon, account_id, "balance", quiet=timedelta(hours=1), below="10")
    write(pigeon, billing.topup, account_id, 5_000, NOW)  # 5 CNY

    assert len(passes(NOW).fired) == 1
    assert passes(NOW + MINUTE).fired == []  # still low: the same incident
    set_balance(pigeon, account_id, 20_000)
    assert len(passes(NOW + 2 * MINUTE).resolved) == 1  # told: it is over
    set_balance(pigeon, account_id, 5_000)
    assert passes(NOW + 30 * MINUTE).fired == []  # a relapse inside the hour: reopened
    [alert] = alert_rows(pigeon, account_id)
    assert alert["resolved_at"] is None and alert["last_seen_at"] == NOW + 30 * MINUTE
    assert events(receiver) == [("fired", None), ("resolved", "2027-03-01T02:02:00+00:00")]

    set_balance(pigeon, account_id, 20_000)
    passes(NOW + 40 * MINUTE)  # resolved again: one incident is one resolve, not told twice
    set_balance(pigeon, account_id, 5_000)
    assert len(passes(NOW + 61 * MINUTE).fired) == 1  # a new incident after the quiet hour
    assert [event for event, _at in events(receiver)] == ["fired", "resolved", "fired"]
    assert [a["fired_at"] for a in alert_rows(pigeon, account_id)] == [NOW, NOW + 61 * MINUTE]


def events(receiver) -> list[tuple[str, str | None]]:
    return [(r.json["event"], r.json["resolved_at"]) for r in receiver.received]


def test_volume_per_hour_counts_a_rolling_hour(pigeon, passes, account_id):
    add_rule(pigeon, account_id, "volume", above=5, per="hour")
    add_messages(pigeon, account_id, [f"1380013{i:04d}" for i in range(6)], NOW - 50 * MINUTE,
                 template_type=1)
    assert len(passes(NOW).fired) == 1
    assert alert_rows(pigeon, account_id)[0]["figures"]["messages"] == 6
    assert len(passes(NOW + 11 * MINUTE).resolved) == 1  # they left the hour


def test_a_spike_against_the_accounts_baseline(pigeon, passes, account_id):
    add_rule(pigeon, account_id, "spike", window="5m", baseline="1h", factor=3, min=20)
    for k in range(12):  # a steady 10 per 5 minutes for the hour before
        add_messages(pigeon, account_id, [f"1390000{k:02d}{i:02d}" for i in range(10)],
                     NOW - 5 * MINUTE - k * 5 * MINUTE - MINUTE, template_type=1)
    add_messages(pigeon, account_id, [f"1380013{i:04d}" for i in range(25)], NOW - MINUTE,
                 template_type=1)
    assert passes(NOW).fired == []  # 25 < 3 × 10
    add_messages(pigeon, account_id, [f"1380014{i:04d}" for i in range(6)], NOW - MINUTE,
                 template_type=1)
    assert len(passes(NOW + timedelta(seconds=1)).fired) == 1  # 31 ≥ 30


def test_a_success_rate_drop(pigeon, passes, account_id):
    add_rule(pigeon, account_id, "success_rate", below=90, window="1h", min=10)
    add_messages(pigeon, account_id, [f"1380013{i:04d}" for i in range(8)], NOW - MINUTE,
                 status="delivered", template_type=1)
    add_messages(pigeon, account_id, [f"1380014{i:04d}" for i in range(2)], NOW - MINUTE,
                 status="failed", template_type=1)
    [alert_id] = passes(NOW).fired
    assert alert_rows(pigeon, account_id)[0]["figures"]["rate"] == 80.0


def test_package_quota_low(pigeon, passes, account_id):
    write(pigeon, billing.add_package, account_id, "general", 50, NOW + timedelta(days=9), NOW)
    add_rule(pigeon, account_id, "package", below=100)
    assert len(passes(NOW).fired) == 1


# -- SMS pumping --------------------------------------------------------------------------------


def test_one_caller_ip_fanning_out_throttles_otp(pigeon, passes, account_id):
    rule = add_rule(pigeon, account_id, "otp_pumping", window="10m", ip_numbers=30,
                    range_numbers=1000, unverified_numbers=1000, protect="on", throttle=3)
    phones = [f"13{i % 9 + 1}0{i:07d}" for i in range(40)]  # scattered ranges
    add_messages(pigeon, account_id, phones, NOW - 11 * MINUTE, source_ip="198.51.100.7")
    add_messages(pigeon, account_id, phones[:29], NOW - MINUTE, source_ip="192.0.2.1")
    assert passes(NOW).fired == []  # one IP is out of the window, the other under 30
    add_messages(pigeon, account_id, phones[29:], NOW - MINUTE, source_ip="192.0.2.1")

    result = passes(NOW + timedelta(seconds=1))

    [alert] = alert_rows(pigeon, account_id)
    assert alert["subject"] == "ip:192.0.2.1" and alert["figures"]["numbers"] == 40
    [protection] = pigeon.db.read_sync(otp_protection.listing, account_id, NOW)
    assert result.protections == [protection["id"]] == [alert["protection_id"]]
    assert protection["kind"] == "throttle" and protection["per_minute"] == 3
    assert rule["params"]["protect"] == "on"


def test_numbers_that_never_come_back_are_found_after_their_follow_up(pigeon, passes,
                                                                      account_id):
    add_rule(pigeon, account_id, "otp_pumping", window="10m", range_numbers=1000,
             unverified_numbers=20, unverified_ratio=0.9, follow_up="30m")
    phones = [f"13{i % 9 + 1}0{i:07d}" for i in range(30)]
    add_messages(pigeon, account_id, phones, NOW - 35 * MINUTE)
    add_messages(pigeon, account_id, phones[:2], NOW - 25 * MINUTE, template_type=1)
    passes(NOW)
    [alert] = alert_rows(pigeon, account_id)
    assert alert["subject"] == "unverified"
    assert alert["figures"]["numbers"] == 30 and alert["figures"]["unverified"] == 28


def test_a_protection_refuses_otp_at_acceptance_until_lifted(pigeon, account_id):
    from pigeon.core.alert_rules import ProtectionPlan
    from pigeon.core.numbers import parse_number

    write(pigeon, otp_protection.switch_on, account_id,
          ProtectionPlan("range", "1380013", None, NOW + timedelta(hours=1)), None, "test", NOW)
    blocked = [parse_number("13800131234")]
    with pytest.raises(PigeonError) as caught:
        write(pigeon, otp_protection.check, account_id, 0, blocked, NOW)
    assert caught.value.code == "isv.BUSINESS_LIMIT_CONTROL"
    write(pigeon, otp_protection.check, account_id, 1, blocked, NOW)  # notifications pass
    write(pigeon, otp_protection.check, account_id, 0, blocked, NOW + 2 * timedelta(hours=1))
    [lifted] = write(pigeon, otp_protection.lift, account_id, None, "tenant", NOW)
    assert lifted["lifted_by"] == "tenant" and not lifted["active"]
    write(pigeon, otp_protection.check, account_id, 0, blocked, NOW)


# -- platform -----------------------------------------------------------------------------------


def test_platform_alerts_go_to_the_operators_channels(pigeon, receiver, account_id):
    made = Passes(pigeon, limits=PlatformLimits(timedelta(minutes=10), 3, 5))
    write(pigeon, alert_config.add_channel, pigeon.box, None, "webhook", "ops", NOW,
          url=receiver.url)
    add_messages(pigeon, account_id, ["13800130001", "13800130002", "13800130003"],
                 NOW - 11 * MINUTE, template_type=1)  # queued for 11 minutes
    pigeon.db.write_sync(lambda conn: conn.execute(insert(report_events), [
        {"account_id": account_id, "type": "SmsReport", "payload": {}, "state": "failed",
         "attempts": 4, "created_at": NOW} for _ in range(5)]))

    try:
        result = made(NOW)
    finally:
        made.close()

    subjects = {a["subject"] for a in alert_rows(pigeon)}
    assert {"backlog", f"account:{account_id}"} <= subjects
    assert result.sent == len(receiver.received) >= 2
    assert {r.json["kind"] for r in receiver.received} >= {"queue_backlog", "report_failures"}
    assert all(r.json["account_id"] is None for r in receiver.received)
    assert alert_rows(pigeon, account_id) == []  # the tenant sees none of it
    platform = pigeon.db.read_sync(alert_evaluation.platform_alerts, 50, UTC)
    assert {a["kind"] for a in platform} >= {"queue_backlog", "report_failures"}


def test_a_connector_down_for_the_grace_period_is_told_once(pigeon, receiver):
    made = Passes(pigeon, connector_grace=timedelta(minutes=2))
    try:
        write(pigeon, alert_config.add_channel, pigeon.box, None, "webhook", "ops", NOW,
              url=receiver.url)

        def publish(now, up):
            write(pigeon, connectors.publish_states, "node-1",
                  {"simulator": {"kind": "simulator", "up": up, "running": True}}, now)

        publish(NOW, False)
        assert made(NOW).fired == []
        publish(NOW + 2 * MINUTE, False)
        [fired] = made(NOW + 2 * MINUTE).fired
        publish(NOW + 3 * MINUTE, False)
        assert made(NOW + 3 * MINUTE).fired == []
        [request] = receiver.received
        assert request.json["kind"] == "connector_down"
        assert request.json["subject"] == "connector:simulator"
        publish(NOW + 4 * MINUTE, True)
        assert made(NOW + 4 * MINUTE).resolved == [fired]
    finally:
        made.close()


def test_removing_a_channel_fails_its_pending_notifications(pigeon, passes, account_id,
                                                            receiver):
    channel = write(pigeon, alert_config.add_channel, pigeon.box, account_id, "webhook", None,
                    NOW, url=receiver.url)
    add_rule(pigeon, account_id, "balance", below="1")
    pigeon.db.write_sync(alert_evaluation.record, alert_evaluation.Source(
        account_id, 1, "balance", timedelta(hours=1)),
        [balance_finding(0, 1000)], NOW)
    write(pigeon, alert_config.remove_channel, account_id, channel["id"])
    result = passes.run(passes.evaluator.notify(NOW))
    assert result.failed == 1 and receiver.received == []

    def states(conn):
        return list(conn.scalars(select(alert_notifications.c.last_error)))

    assert pigeon.db.read_sync(states) == ["the channel was removed"]


# -- resolved -----------------------------------------------------------------------------------


def test_a_resolved_incident_is_told_once_to_the_channels_told_when_it_fired(
        pigeon, passes, robot, receiver, account_id):
    write(pigeon, alert_config.add_contact, account_id, "Li Lei", "13800138000", None, NOW)
    write(pigeon, alert_config.add_channel, pigeon.box, account_id, "dingtalk", "group", NOW,
          url=robot.url, secret=robot.secret, contact_ids=[1])
    add_rule(pigeon, account_id, "balance", below="10")
    write(pigeon, billing.topup, account_id, 5_000, NOW)
    [fired] = passes(NOW).fired
    # A channel added later was never told the alert: it is not told it is over either.
    write(pigeon, alert_config.add_channel, pigeon.box, account_id, "webhook", None, NOW,
          url=receiver.url)

    set_balance(pigeon, account_id, 20_000)
    result = passes(NOW + 40 * MINUTE)

    assert result.resolved == [fired] and result.sent == 1 and receiver.received == []
    first, resolved = robot.messages
    assert first["markdown"]["title"].startswith("[Pigeon] Balance low")
    assert resolved["markdown"]["title"].startswith("[Pigeon] Resolved: Balance low — Lark")
    text = resolved["markdown"]["text"]
    assert text.startswith("### ✅ [Pigeon] Resolved: Balance low")
    assert "resolved at 2027-03-01 10:40:00 (Asia/Shanghai), 40m 00s after the alert " \
           "fired at 2027-03-01 10:00:00" in text
    assert "When it fired: The balance is 5.000 CNY" in text and "@13800138000" in text
    [alert] = listed(pigeon, account_id)
    assert [(n["event"], n["state"]) for n in alert["notifications"]] == \
        [("fired", "sent"), ("resolved", "sent")]
    assert passes(NOW + 41 * MINUTE).sent == 0  # told once


def test_a_resolution_is_told_once_the_window_has_stayed_clear(pigeon, passes, receiver,
                                                               account_id):
    write(pigeon, alert_config.add_channel, pigeon.box, account_id, "webhook", None, NOW,
          url=receiver.url)
    add_rule(pigeon, account_id, "otp_pumping", quiet=timedelta(0), window="10m")
    burst = [f"1380013{n:04d}" for n in range(20)]
    add_messages(pigeon, account_id, burst, NOW - MINUTE)
    [fired] = passes(NOW).fired

    # The burst has left the 10-minute window: resolved, but not told before it stays clear
    # for the window …
    assert passes(NOW + 10 * MINUTE).resolved == [fired]
    assert passes(NOW + 15 * MINUTE).sent == 0
    # … and it comes back before that: the same incident, reopened, no resolution told.
    add_messages(pigeon, account_id, burst, NOW + 15 * MINUTE)
    assert passes(NOW + 16 * MINUTE).fired == []
    assert [a["resolved_at"] for a in alert_rows(pigeon, account_id)] == [None]
    assert passes(NOW + 21 * MINUTE).sent == 0
    # Gone for good: resolved at 10:26, told at 10:36.
    assert passes(NOW + 26 * MINUTE).resolved == [fired]
    assert passes(NOW + 35 * MINUTE).sent == 0
    assert passes(NOW + 36 * MINUTE).sent == 1
    assert events(receiver) == [("fired", None), ("resolved", "2027-03-01T02:26:00+00:00")]
    assert receiver.received[1].json["subject"] == "range:1380013"


def test_the_connector_down_grace_period_survives_a_restart(pigeon, settings, receiver):
    """Two Pigeons on one database: the first evaluator sees the connector go down and stops
    (a restart, or another node taking over); the second tells once the grace period that
    began under the first is over, not a grace period after it started."""
    write(pigeon, alert_config.add_channel, pigeon.box, None, "webhook", "ops", NOW,
          url=receiver.url)

    def publish(now, up):
        write(pigeon, connectors.publish_states, "node-1",
              {"simulator": {"kind": "simulator", "up": up, "running": True}}, now)

    grace = timedelta(minutes=2)
    first = Passes(pigeon, connector_grace=grace)
    try:
        publish(NOW, False)
        assert first(NOW).fired == []
        publish(NOW + MINUTE, False)
        assert first(NOW + MINUTE).fired == []
    finally:
        first.close()

    other = Pigeon(settings)
    second = Passes(other, connector_grace=grace)
    try:
        publish(NOW + 2 * MINUTE, False)
        [fired] = second(NOW + 2 * MINUTE).fired
        [request] = receiver.received
        assert request.json["kind"] == "connector_down"
        assert request.json["figures"]["since"] == NOW.isoformat()
        # Back up: resolved, told once it has stayed up for the grace period.
        publish(NOW + 3 * MINUTE, True)
        assert second(NOW + 3 * MINUTE).resolved == [fired]
        assert len(receiver.received) == 1
        publish(NOW + 5 * MINUTE, True)
        second(NOW + 5 * MINUTE)
        assert [r.json["event"] for r in receiver.received] == ["fired", "resolved"]
        # Down again much later: the grace period starts over.
        publish(NOW + 3 * HOUR, False)
        assert second(NOW + 3 * HOUR).fired == []
    finally:
        second.close()
        other.close()


def test_a_down_since_not_confirmed_for_long_is_forgotten(pigeon):
    since = {"smsc-a": NOW}
    write(pigeon, alert_evaluation.remember_down, since, NOW)
    grace = timedelta(minutes=2)
    assert pigeon.db.read_sync(alert_evaluation.remembered_down, NOW + 10 * MINUTE, grace) \
        == since
    assert pigeon.db.read_sync(alert_evaluation.remembered_down, NOW + 16 * MINUTE, grace) \
        == {}
    write(pigeon, alert_evaluation.remember_down, {}, NOW + MINUTE)  # up again
    assert pigeon.db.read_sync(alert_evaluation.remembered_down, NOW + MINUTE, grace) == {}
