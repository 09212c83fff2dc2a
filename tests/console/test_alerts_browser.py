"""The alert pages in a real browser: the forms ask only for what the chosen kind needs, a
channel test really goes out, a rule is added, and a protection is lifted with its button."""

from __future__ import annotations

import re

import pytest

from pigeon.core.alert_rules import ProtectionPlan
from pigeon.services import alert_config, otp_protection
from tests.console.conftest import sign_in
from tests.console.test_browser import expect_text

pytestmark = pytest.mark.slow


def test_a_tenant_sets_up_alerts_and_lifts_a_protection(site, new_page, receiver):
    user = site.tenant_user()
    page = new_page(site)
    sign_in(page, user)

    page.goto("/console/contacts")
    expect_text(page, "p.empty", "No contact yet")
    page.fill("[data-test=add-contact] input[name=name]", "李雷")
    page.fill("[data-test=add-contact] input[name=phone]", "13800138000")
    page.click("[data-test=add-contact] button")
    expect_text(page, "[data-test=contacts]", "李雷")

    form = page.locator("[data-test=add-channel]")
    form.locator("select[name=kind]").select_option("email")
    assert not form.locator("input[name=url]").is_visible()  # email tells contacts
    form.locator("select[name=kind]").select_option("webhook")
    form.locator("input[name=url]").fill(receiver.url + "?token=hook-token-1")
    form.locator("input[name=secret]").fill("hook-secret")
    form.locator("button[type=submit]").click()
    expect_text(page, "[data-test=channels]", r"token=…")
    assert "hook-token-1" not in page.content() and "hook-secret" not in page.content()

    page.click("[data-test=channels] button:has-text('Send a test')")
    expect_text(page, "p.notice", "was sent to")
    [request] = receiver.received
    assert request.json["test"] is True and "X-Pigeon-Signature" in request.headers

    page.goto("/console/alerts")
    kind = page.locator("[data-test=add-rule] select[name=kind]")
    kind.select_option("balance")
    assert page.locator("input[name='balance.below']").is_visible()
    assert not page.locator("input[name='spike.window']").is_visible()
    page.fill("input[name='balance.below']", "100")
    page.click("[data-test=add-rule] button[type=submit]")
    expect_text(page, "p.notice", "Rule added")
    expect_text(page, "[data-test=rules]", r"Alert below: 100\.000")

    protection = site.pigeon.db.write_sync(
        otp_protection.switch_on, user.account_id, ProtectionPlan("range", "1380013", None, None),
        None, "2000 numbers in range 1380013 got OTP messages", site.pigeon.now())
    page.reload()
    expect_text(page, "[data-test=active-protections] .value", "^1$")
    page.click(f"[data-protection='{protection['id']}'] button:has-text('Lift')")
    expect_text(page, "p.notice", "Protection lifted")
    expect_text(page, "[data-test=active-protections] .value", "^0$")
    assert page.url.endswith("/console/alerts?notice=lifted")
    assert re.search(r"lifted .* by console:dev@lark\.example", page.content())
    assert site.pigeon.db.read_sync(alert_config.rules, user.account_id)[0]["kind"] == "balance"
