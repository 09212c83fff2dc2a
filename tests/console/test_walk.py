"""The seed document's whole workflow through the browser, as one tenant and one operator
would walk it: qualification, signature and template, each approved by the operator in /ops;
money from the operator; a delivery test to a bound number, seen on the virtual handset and in
Sending Records; a CSV batch; and the Business Statistics that add it all up."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.console.conftest import sign_in
from tests.console.test_browser import PNG, expect_text, submit_qualification
from tests.support.waiting import DEADLINE

pytestmark = pytest.mark.slow

TEST_NUMBER = "13700137000"
BATCH = (("13700137021", "B201"), ("15800158022", "B202"))


def approve(ops, kind: str) -> None:
    """The operator approves the oldest pending item of ``kind`` from the review queue."""
    ops.click("text=Review queue")
    ops.click(f"tr[data-kind={kind}] a >> nth=0")
    ops.click("button[value=approve]")
    expect_text(ops, "p.notice", "Approved")


def eventually(page, path: str, selector: str, pattern: str, seconds: float = DEADLINE) -> None:
    """Reload ``path`` until ``selector`` matches ``pattern`` (work a background worker does
    on its own time, such as carrier registration)."""
    deadline = time.monotonic() + seconds
    while True:
        page.goto(path)
        text = page.locator(selector).first.inner_text()
        if re.search(pattern, text):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} on {path} still says {text!r}")
        page.wait_for_timeout(250)


def test_the_seed_workflow_from_sign_in_to_statistics(site_factory, new_page):
    site = site_factory(review_mode="manual")
    user, operator = site.tenant_user(), site.operator_user()
    tenant, ops = new_page(site), new_page(site)
    sign_in(tenant, user)
    sign_in(ops, operator)
    assert ops.url.endswith("/ops/")

    # Qualification → approved by the operator.
    submit_qualification(tenant, site)
    expect_text(tenant, "[data-test=qualification-state]", "Under review")
    approve(ops, "qualification")
    tenant.reload()
    expect_text(tenant, "[data-test=qualification-state]", "Approved")

    # Signature → approved → registered with the three carriers by the registrar.
    tenant.goto("/console/signatures")
    tenant.fill("[name=name]", "云雀科技")
    tenant.fill("[name=remark]", "用于会员通知")
    tenant.set_input_files("[name=proof]", PNG)
    tenant.click("text=Submit for review")
    expect_text(tenant, "tr[data-sign=云雀科技] [data-test=sign-status]", "Under review")
    approve(ops, "signature")

    # Template → approved.
    tenant.goto("/console/templates/new")
    tenant.fill("[name=name]", "发货通知")
    tenant.select_option("[name=type]", "1")
    tenant.fill("[name=content]", "您的订单${order}已发货，请注意查收。")
    tenant.fill("[name=rule]", '{"order":"other_number2"}')
    expect_text(tenant, "[data-template-problems]", "No problem found")
    tenant.click("text=Submit for review")
    tenant.wait_for_url(re.compile(r".*/console/templates/SMS_\d+\?notice=template$"))
    template_code = re.search(r"SMS_\d+", tenant.url).group()
    expect_text(tenant, "[data-test=template-status]", "Under review")
    approve(ops, "template")

    for step in ("qualification", "signature", "template", "registration"):
        eventually(tenant, "/console/", f"[data-step={step}] .badge", "^done$")

    # The operator tops the tenant up.
    ops.click("text=Tenants & billing")
    ops.click(f"tr[data-account='{user.account_id}'] a >> nth=0")
    ops.fill("[data-test=topup] [name=amount]", "100")
    ops.click("[data-test=topup] button")
    expect_text(ops, "p.notice", "Balance topped up")

    # Quick Start: bind a test number, send a test message, watch it arrive.
    tenant.goto("/console/quickstart")
    tenant.fill("[name=number]", TEST_NUMBER)
    tenant.get_by_role("button", name="Bind", exact=True).click()
    expect_text(tenant, "p.notice", "Test number bound")
    tenant.select_option("[name=sign_name]", "云雀科技")
    tenant.select_option("[name=template_code]", template_code)
    tenant.fill("[name=params]", json.dumps({"order": "A1024"}))
    tenant.click("text=Send test message")
    expect_text(tenant, "[data-test=sent]", r"BizId \d+\^0")
    expect_text(tenant, f".phone[data-phone='{TEST_NUMBER}'] .text",
                "【云雀科技】您的订单A1024已发货")

    # The operator sees the same message on the virtual handset.
    ops.goto(f"/ops/handsets/{TEST_NUMBER}")
    expect_text(ops, "[data-test=conversation] li.in .text", "【云雀科技】您的订单A1024已发货")

    # Sending Records shows it delivered.
    tenant.goto(f"/console/records?phone={TEST_NUMBER}")
    expect_text(tenant, "[data-test=records] tbody tr", "Delivered")

    # A CSV batch of two numbers, sent now, delivered.
    tenant.goto("/console/batch")
    tenant.select_option("[name=sign_name]", "云雀科技")
    tenant.select_option("[name=template_code]", template_code)
    csv = "PhoneNumber,order\n" + "".join(f"{phone},{order}\n" for phone, order in BATCH)
    tenant.set_input_files("[name=file]", {"name": "名单.csv", "mimeType": "text/csv",
                                           "buffer": csv.encode("utf-8")})
    tenant.click("text=Upload and preview")
    expect_text(tenant, "[data-test=valid]", "^2$")
    tenant.click("[data-test=send-now]")
    expect_text(tenant, "[data-test=status]", "^Done$")
    expect_text(tenant, "[data-progress=delivered]", "^2$")

    # Business Statistics: three messages, all delivered, drawn as SVG.
    tenant.click("text=Business Statistics")
    expect_text(tenant, "[data-test=total-messages]", "^3$")
    expect_text(tenant, "[data-test=total-segments]", "^3$")
    expect_text(tenant, "[data-test=success-rate]", r"^100\.0 %$")
    assert tenant.locator("svg rect").count() > 0
    assert "云雀科技" in tenant.locator("main").inner_text()
