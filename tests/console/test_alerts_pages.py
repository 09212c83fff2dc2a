"""The console's alert pages over HTTP, on SQLite and PostgreSQL: a tenant's Contacts (contacts
and channels, secrets never shown back, a test that really goes out), Alerts & protection
(rules with per-kind parameters, the history with who was told, lifting a protection), the
operators' Platform alerts — and no tenant ever reaching another's rows."""

from __future__ import annotations

import html
from datetime import timedelta

import httpx
import pytest

from pigeon.console.rendering import OPERATOR_BASE
from pigeon.core.alert_rules import ProtectionPlan
from pigeon.services import alert_config, alert_evaluation, otp_protection
from tests.conftest import make_tenant
from tests.console.test_http import add_user, csrf_of, sign_in
from tests.support.alerts import Passes


@pytest.fixture
def client(server, pigeon, tenant):
    add_user(pigeon, tenant.account_id, "dev@lark.example")
    with httpx.Client(base_url=server.url, timeout=30) as c:
        sign_in(c, "dev@lark.example")
        yield c


def post(client, path, data=None):
    return client.post(path, data={"csrf": csrf_of(client), **(data or {})})


def test_contacts_and_channels_are_added_and_secrets_never_shown_back(pigeon, tenant, client,
                                                                     robot):
    page = client.get("/console/contacts")
    assert page.status_code == 200 and "No contact yet" in page.text and "No channel yet" in page.text

    added = post(client, "/console/contacts/add", {"name": "李雷 <b>on call</b>",
                                                   "phone": "+8613800138000",
                                                   "email": "lilei@lark.example"})
    assert added.status_code == 303
    [contact] = pigeon.db.read_sync(alert_config.contacts, tenant.account_id)
    assert contact["phone"] == "13800138000"
    channel = post(client, "/console/contacts/channels", {
        "kind": "dingtalk", "name": "告警群", "url": robot.url, "secret": robot.secret,
        "contacts": str(contact["id"])})
    assert channel.status_code == 303

    page = client.get("/console/contacts?notice=channel-added")
    assert "李雷 &lt;b&gt;on call&lt;/b&gt;" in page.text and "<b>on call" not in page.text
    assert "告警群" in page.text and "/robot/send?access_token=…" in page.text
    assert robot.token not in page.text and robot.secret not in page.text

    # A test goes out now, through the signed robot, and the page says to whom.
    tested = post(client, f"/console/contacts/channels/{channel_id(pigeon, tenant)}/test")
    assert tested.status_code == 200 and "was sent to" in tested.text
    assert robot.token not in tested.text
    [message] = robot.messages
    assert message["markdown"]["title"].startswith("[Pigeon] [test] Test notification")


def channel_id(pigeon, tenant) -> int:
    [channel] = pigeon.db.read_sync(alert_config.channels, tenant.account_id)
    return channel["id"]


def test_bad_channels_and_contacts_get_clear_errors_not_500s(pigeon, tenant, client):
    no_way = post(client, "/console/contacts/add", {"name": "Nobody"})
    assert no_way.status_code == 400 and "needs a phone number" in no_way.text
    bad_url = post(client, "/console/contacts/channels", {"kind": "webhook",
                                                          "url": "ftp://x", "secret": "s3cret"})
    assert bad_url.status_code == 400 and "http:// or https://" in html.unescape(bad_url.text)
    assert "s3cret" not in bad_url.text  # a secret is not sent back into the form
    assert post(client, "/console/contacts/channels", {"kind": "pager"}).status_code == 400
    # A failing test says why.
    post(client, "/console/contacts/channels", {"kind": "email"})
    failed = post(client, f"/console/contacts/channels/{channel_id(pigeon, tenant)}/test")
    assert failed.status_code == 400
    assert "no contact of this channel has an email address" in failed.text


def test_another_tenants_contacts_channels_and_rules_are_not_found(pigeon, tenant, client,
                                                                   receiver):
    other = make_tenant(pigeon, "Other Company")
    now = pigeon.now()
    theirs = pigeon.db.write_sync(alert_config.add_contact, other.account_id, "Them",
                                  "13900139000", None, now)
    channel = pigeon.db.write_sync(alert_config.add_channel, pigeon.box, other.account_id,
                                   "webhook", None, now, url=receiver.url)
    rule = pigeon.db.write_sync(alert_config.add_rule, other.account_id, "balance",
                                {"below": "1"}, timedelta(hours=1), None, now)
    protection = pigeon.db.write_sync(otp_protection.switch_on, other.account_id,
                                      ProtectionPlan("range", "1380013", None, None), None,
                                      "test", now)
    for path, data in ((f"/console/contacts/{theirs['id']}/remove", {}),
                       (f"/console/contacts/channels/{channel['id']}/remove", {}),
                       (f"/console/contacts/channels/{channel['id']}/test", {}),
                       (f"/console/alerts/rules/{rule['id']}/remove", {}),
                       (f"/console/alerts/rules/{rule['id']}/enabled", {"enabled": "off"}),
                       ("/console/alerts/protections/lift",
                        {"protection": str(protection["id"])})):
        assert post(client, path, data).status_code == 404, path
    assert receiver.received == []
    assert pigeon.db.read_sync(alert_config.contacts, other.account_id) == [theirs]
    assert [r["enabled"] for r in pigeon.db.read_sync(alert_config.rules, other.account_id)] \
        == [True]
    assert pigeon.db.read_sync(otp_protection.listing, other.account_id, now)[0]["active"]
    page = client.get("/console/contacts").text + client.get("/console/alerts").text
    assert "13900139000" not in page and "Them" not in page


def test_rules_are_added_with_per_kind_parameters_switched_and_removed(pigeon, tenant,
                                                                       client):
    page = client.get("/console/alerts")
    assert page.status_code == 200 and "No alert yet" in page.text
    assert 'name="otp_pumping.range_numbers"' in page.text and 'placeholder="20"' in page.text

    added = post(client, "/console/alerts/rules", {
        "kind": "otp_pumping", "otp_pumping.range_numbers": "100", "otp_pumping.protect": "on",
        "balance.below": "999", "quiet": "2h"})
    assert added.status_code == 303
    [rule] = pigeon.db.read_sync(alert_config.rules, tenant.account_id)
    assert (rule["kind"], rule["quiet"]) == ("otp_pumping", "2h")
    assert rule["params"]["range_numbers"] == "100" and rule["params"]["protect"] == "on"
    assert rule["params"]["window"] == "10m"  # the default

    missing = post(client, "/console/alerts/rules", {"kind": "balance"})
    assert missing.status_code == 400 and "A balance rule needs below=" in missing.text
    bad = post(client, "/console/alerts/rules", {"kind": "spike", "spike.window": "soon"})
    assert bad.status_code == 400 and "expected a duration" in bad.text
    assert 'value="soon"' in bad.text  # what was typed stays in the form

    assert post(client, f"/console/alerts/rules/{rule['id']}/enabled",
                {"enabled": "off"}).status_code == 303
    assert pigeon.db.read_sync(alert_config.rules, tenant.account_id)[0]["enabled"] is False
    assert 'role="switch" aria-checked="false"' in client.get("/console/alerts").text
    assert post(client, f"/console/alerts/rules/{rule['id']}/remove").status_code == 303
    assert pigeon.db.read_sync(alert_config.rules, tenant.account_id) == []


def test_the_history_shows_figures_who_was_told_and_protections_can_be_lifted(
        pigeon, tenant, client, receiver):
    now = pigeon.now()
    pigeon.db.write_sync(alert_config.add_channel, pigeon.box, tenant.account_id, "webhook",
                         "hook", now, url=receiver.url)
    pigeon.db.write_sync(alert_config.add_rule, tenant.account_id, "balance", {"below": "10"},
                         timedelta(hours=1), None, now)
    passes = Passes(pigeon)
    try:
        passes(now)
    finally:
        passes.close()
    blocked = pigeon.db.write_sync(otp_protection.switch_on, tenant.account_id,
                                   ProtectionPlan("range", "1380013", None, None), None,
                                   "2000 numbers in range 1380013", now)

    overview = client.get("/console/").text
    assert 'data-test="open-alerts">1<' in overview and "1 protection in force" in overview

    page = client.get("/console/alerts").text
    assert "Balance low" in page and "The balance is 0.000 CNY" in page
    assert "<dt>threshold</dt><dd>10.000</dd>" in page
    assert 'webhook</span> → <span class="url" translate="no">http://127.0.0.1' in page
    assert ">sent<" in page
    assert "OTP to number range 1380013 blocked" in page and "until lifted" in page

    lifted = post(client, "/console/alerts/protections/lift", {"protection": str(blocked["id"])})
    assert lifted.status_code == 303 and lifted.headers["location"].endswith("notice=lifted")
    [shown] = pigeon.db.read_sync(otp_protection.listing, tenant.account_id, pigeon.now(),
                                  include_inactive=True)
    assert not shown["active"] and shown["lifted_by"] == "console:dev@lark.example"
    assert "No protection is active" in client.get("/console/alerts").text
    assert "protection(s) in force" not in client.get("/console/").text
    # Lifting it again: nothing active by that id.
    assert post(client, "/console/alerts/protections/lift",
                {"protection": str(blocked["id"])}).status_code == 404


def test_operators_see_platform_alerts_and_keep_their_own_channels(pigeon, server, tenant,
                                                                   client, receiver):
    add_user(pigeon, None, "ops@pigeon.example")
    with httpx.Client(base_url=server.url, timeout=30) as ops:
        sign_in(ops, "ops@pigeon.example")
        page = ops.get(f"{OPERATOR_BASE}/alerts")
        assert page.status_code == 200 and "No platform alert yet" in page.text
        token = csrf_of(ops, f"{OPERATOR_BASE}/alerts")
        assert ops.post(f"{OPERATOR_BASE}/alerts/contacts/add", data={
            "csrf": token, "name": "值班", "email": "oncall@pigeon.example"}).status_code == 303
        assert ops.post(f"{OPERATOR_BASE}/alerts/channels", data={
            "csrf": token, "kind": "webhook", "url": receiver.url + "?token=abc123"}
        ).status_code == 303
        [channel] = pigeon.db.read_sync(alert_config.channels, None)
        tested = ops.post(f"{OPERATOR_BASE}/alerts/channels/{channel['id']}/test",
                          data={"csrf": token})
        assert tested.status_code == 200 and "was sent to" in tested.text
        [request] = receiver.received
        assert request.json["account_id"] is None and request.json["test"] is True
        page = ops.get(f"{OPERATOR_BASE}/alerts").text
        assert "值班" in page and "abc123" not in page and "token=…" in page
        assert "Test notification" in page  # the test is in the platform history
    # The tenant sees none of it, and cannot reach the page.
    assert client.get(f"{OPERATOR_BASE}/alerts").status_code == 404
    assert pigeon.db.read_sync(alert_config.channels, tenant.account_id) == []
    assert pigeon.db.read_sync(alert_evaluation.list_alerts, tenant.account_id) == []
