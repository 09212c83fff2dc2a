"""`pigeon alerts …` as operators and scripts use it: contacts, channels, rules, one
evaluation, the alerts list, protections and platform alerts."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from pigeon.app import Pigeon
from pigeon.config import Settings
from pigeon.core.alert_rules import ProtectionPlan
from pigeon.services import otp_protection
from tests.conftest import TEST_SECRET_KEY
from tests.support.cli import cli_runner


@pytest.fixture
def cli(tmp_path, database_url):
    return cli_runner(tmp_path / "data", database_url)


def _json(result):
    return json.loads(result.stdout)


def test_a_tenant_sets_up_alerts_and_sees_what_fired(cli, receiver):
    account = _json(cli("account", "create", "Lark Technology", "--json"))["AccountId"]
    # A new account starts with the recommended alerts (tests/test_cli_database.py): this
    # test builds its own from nothing.
    for recommended in _json(cli("alerts", "rules", "list", account, "--json")):
        cli("alerts", "rules", "remove", account, str(recommended["id"]))
    contact = _json(cli("alerts", "contacts", "add", account, "Li Lei", "--phone",
                        "13800138000", "--email", "lilei@lark.test", "--json"))
    assert contact["phone"] == "13800138000" and contact["email"] == "lilei@lark.test"
    assert [c["name"] for c in _json(cli("alerts", "contacts", "list", account, "--json"))] \
        == ["Li Lei"]
    channel = _json(cli("alerts", "channels", "add", account, "webhook", "--url", receiver.url,
                        "--secret", "s3cret", "--name", "ops hook", "--json"))
    assert channel["signed"] is True and "s3cret" not in json.dumps(channel)
    sms = _json(cli("alerts", "channels", "add", account, "sms", "--contact",
                    str(contact["id"]), "--json"))
    rule = _json(cli("alerts", "rules", "add", account, "balance", "--param", "below=10",
                     "--quiet", "30m", "--channel", str(channel["id"]), "--json"))
    assert rule["params"] == {"below": "10.000"} and rule["quiet"] == "30m"
    assert rule["channels"] == [channel["id"]]
    listed = _json(cli("alerts", "rules", "list", account, "--json"))
    assert [r["kind"] for r in listed] == ["balance"]

    passed = _json(cli("alerts", "evaluate", "--json"))
    assert len(passed["fired"]) == 1 and passed["sent"] == 1

    [alert] = _json(cli("alerts", "list", account, "--json"))
    assert alert["kind"] == "balance" and alert["open"] is True
    assert alert["notifications"][0]["state"] == "sent"
    assert alert["notifications"][0]["channel"] == "webhook"
    assert receiver.received[0].json["alert_id"] == alert["id"]
    assert "balance" in cli("alerts", "list", account).stdout

    cli("alerts", "channels", "remove", account, str(sms["id"]))
    cli("alerts", "rules", "remove", account, str(rule["id"]))
    assert _json(cli("alerts", "rules", "list", account, "--json")) == []
    cli("alerts", "contacts", "remove", account, str(contact["id"]))


def test_channel_test_sends_one_notification_and_says_how_it_went(cli, robot):
    account = _json(cli("account", "create", "Lark Technology", "--json"))["AccountId"]
    good = _json(cli("alerts", "channels", "add", account, "dingtalk", "--url", robot.url,
                     "--secret", robot.secret, "--json"))
    told = _json(cli("alerts", "channels", "test", account, str(good["id"]), "--json"))
    assert told["state"] == "sent"
    assert robot.messages[0]["markdown"]["title"].startswith("[Pigeon] [test] Test notification")
    bad = _json(cli("alerts", "channels", "add", account, "dingtalk", "--url", robot.url,
                    "--secret", "SECwrong", "--json"))
    failed = cli("alerts", "channels", "test", account, str(bad["id"]), "--json", code=1)
    assert "errcode 310000" in _json(failed)["last_error"]


def test_protections_are_listed_and_lifted(cli, tmp_path, database_url):
    account = _json(cli("account", "create", "Lark Technology", "--json"))["AccountId"]
    pigeon = Pigeon(Settings(data_dir=tmp_path / "data", database_url=database_url,
                             secret_key=TEST_SECRET_KEY))
    try:
        now = pigeon.now()
        pigeon.db.write_sync(otp_protection.switch_on, int(account),
                             ProtectionPlan("range", "1380013", None, now + timedelta(days=1)),
                             None, "burst", now)
    finally:
        pigeon.close()
    [active] = _json(cli("alerts", "protection", "list", account, "--json"))
    assert active["kind"] == "range" and active["scope"] == "1380013" and active["active"]
    cli("alerts", "protection", "lift", account, code=1)  # neither an id nor --all
    [lifted] = _json(cli("alerts", "protection", "lift", account, str(active["id"]), "--json"))
    assert lifted["lifted_by"].startswith("operator:")
    assert _json(cli("alerts", "protection", "list", account, "--json")) == []
    assert len(_json(cli("alerts", "protection", "list", account, "--all", "--json"))) == 1


def test_operators_have_platform_contacts_and_channels(cli, receiver):
    contact = _json(cli("alerts", "contacts", "add", "platform", "Ops", "--email",
                        "ops@pigeon.test", "--json"))
    channel = _json(cli("alerts", "channels", "add", "platform", "webhook", "--url",
                        receiver.url, "--json"))
    assert [c["id"] for c in _json(cli("alerts", "contacts", "list", "platform", "--json"))] \
        == [contact["id"]]
    assert [c["id"] for c in _json(cli("alerts", "channels", "list", "platform", "--json"))] \
        == [channel["id"]]
    told = _json(cli("alerts", "channels", "test", "platform", str(channel["id"]), "--json"))
    assert told["state"] == "sent" and receiver.received[0].json["account_id"] is None
    platform = _json(cli("alerts", "platform", "--json"))
    assert [a["kind"] for a in platform] == ["test"]


@pytest.mark.parametrize("args, message", [
    (("rules", "add", "{account}", "balance"), "A balance rule needs below="),
    (("rules", "add", "{account}", "volume", "--param", "above"), "--param takes NAME=VALUE"),
    (("rules", "add", "{account}", "otp_pumping", "--param", "window=soon"),
     "expected a duration"),
    (("channels", "add", "{account}", "dingtalk"), "needs --url"),
    (("channels", "add", "{account}", "pager", "--url", "http://x"), "A channel kind is one of"),
    (("contacts", "add", "{account}", "Nobody"), "needs a phone number"),
    (("contacts", "add", "tenant", "X", "--email", "a@b.c"), "an account id or `platform`"),
])
def test_mistakes_are_one_coded_line(cli, args, message):
    account = _json(cli("account", "create", "Lark Technology", "--json"))["AccountId"]
    result = cli("alerts", *(a.format(account=account) for a in args), code=1)
    assert result.stderr.startswith("error: isv.INVALID_PARAMETERS: ")
    assert message in result.stderr
