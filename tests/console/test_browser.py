"""The console in a real browser (Playwright driving the system's Chromium): sign-in, the
compliance workflow, the template rules as you type, the delivery test, an operator's
rejection, and tenant isolation."""

from __future__ import annotations

import re

import pytest

from pigeon.services import signatures
from tests.console.conftest import sign_in
from tests.support import workflow
from tests.support.images import png_bytes
from tests.support.sdk import CoreClient
from tests.support.sending import ready_to_send

pytestmark = pytest.mark.slow

PNG = {"name": "card.png", "mimeType": "image/png", "buffer": png_bytes()}


def expect_text(page, selector: str, pattern: str) -> str:
    """Wait until ``selector`` holds text matching ``pattern``; return the text."""
    from playwright.sync_api import expect

    locator = page.locator(selector).first
    expect(locator).to_have_text(re.compile(pattern))
    return locator.inner_text()


RANGES = ("BussinessLicenseExpDate", "LegalPersonIdCardEffTime", "AdminIDCardExpDate")


def submit_qualification(page, site=None) -> None:
    """Fill in and submit the qualification form — validities with the date pickers, the
    licence's as long-term — with the administrator's verification code read from the
    simulator's handset the form shows; ends on the qualification's page."""
    page.goto("/console/qualifications/new")
    skipped = ("UseBySelf", "WhetherShare", "CompanyType", "LegalPersonIDCardType",
               "AdminIDCardType", "AdminIDCardFrontFace", "AdminIDCardPic", *RANGES)
    for name, value in workflow.QUALIFICATION.items():
        if name not in skipped:
            page.fill(f"[name={name}]", value)
    for name in RANGES:
        first, last = workflow.QUALIFICATION[name].split("~")
        page.fill(f"[name='{name}.from']", first)
        if last == "2099-12-31":
            page.check(f"[name='{name}.long']")
        else:
            page.fill(f"[name='{name}.to']", last)
    page.set_input_files("[name=AdminIDCardFrontFace]", PNG)
    page.set_input_files("[name=AdminIDCardPic]", PNG)
    page.click("[data-phone-code]")
    handset = expect_text(page, "[data-phone-code-handset] [data-handset-text]", r"\d{6}")
    page.fill("[name=CertifyCode]", re.search(r"\d{6}", handset).group())
    page.click("form.form button[type=submit].primary")
    page.wait_for_url(re.compile(r".*/console/qualifications/\d+\?notice=qualification$"))


def choose_attribute(page, variable: str, attribute: str) -> None:
    """The template form's field for ``variable`` (it appears as the content is typed)."""
    page.select_option(f"[name='attr.{variable}']", attribute)


def test_sign_in_refuses_a_bad_password_and_every_form_needs_its_csrf_token(site, new_page):
    user = site.tenant_user()
    page = new_page(site)
    page.goto("/console/")
    assert "/console/signin" in page.url  # not signed in: sent to the sign-in page
    sign_in(page, user.__class__(user.email, "not the password", user.account_id),
            expect_ok=False)
    expect_text(page, "p.error", "Wrong email or password")
    assert "/console/signin" in page.url

    sign_in(page, user)
    expect_text(page, "h1", "Overview")
    cookie = next(c for c in page.context.cookies() if c["name"] == "pigeon_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    # The same session, posting without the form's token or with a wrong one: refused.
    for data in ({}, {"csrf": "forged"}):
        answer = page.request.post("/console/accesskeys", form=data)
        assert answer.status == 403
    page.goto("/console/accesskeys")
    assert page.locator("table code").count() == 1  # only the fixture's key: none was made
    page.click("text=Create AccessKey")  # the real form carries the token
    secret = expect_text(page, "[data-test=secret]", r"^\w{30}$")
    page.reload()
    assert secret not in page.content()  # shown once

    page.click("text=Sign out")
    page.wait_for_url(re.compile(r".*/console/signin$"))
    page.goto("/console/templates")
    assert "/console/signin" in page.url


def test_a_tenant_walks_qualification_signature_and_template_through_the_console(
        site, new_page):
    user = site.tenant_user()
    page = new_page(site)
    sign_in(page, user)
    expect_text(page, "[data-step=qualification] .badge", "not started")

    submit_qualification(page, site)
    expect_text(page, "[data-test=qualification-state]", "Approved")

    # Signature: approved at once (review mode rules), registered with the three carriers.
    page.goto("/console/signatures")
    page.fill("[name=name]", "云雀科技")
    page.fill("[name=remark]", "用于会员通知")
    page.click("text=Submit for review")
    page.wait_for_url(re.compile(r".*/console/signatures\?notice=signature$"))
    row = page.locator("tr[data-sign=云雀科技]")
    assert row.locator("[data-test=sign-status]").inner_text() == "Approved"
    assert row.inner_text().count("Registered") == 3

    # Template, with its variable highlighted in the list.
    page.goto("/console/templates/new")
    page.fill("[name=name]", "登录验证码")
    page.select_option("[name=type]", "0")
    page.fill("[name=content]", "您的验证码为${code}，5分钟内有效，请勿泄露于他人。")
    choose_attribute(page, "code", "numberCaptcha")
    expect_text(page, "[data-template-problems]", "No problem found")
    expect_text(page, "[data-template-length]", r"^\d+ characters · 1 segment$")
    page.click("text=Submit for review")
    page.wait_for_url(re.compile(r".*/console/templates/SMS_\d+\?notice=template$"))
    expect_text(page, "[data-test=template-status]", "Approved")
    page.goto("/console/templates")
    assert page.locator("td.content mark.var").inner_text() == "${code}"

    page.goto("/console/")
    for step in ("qualification", "signature", "template", "registration"):
        expect_text(page, f"[data-step={step}] .badge", "^done$")
    expect_text(page, "[data-test=under-review]", r"0 / 0")


def test_the_template_form_shows_a_rule_violation_as_you_type(site, new_page):
    user = site.tenant_user()
    page = new_page(site)
    sign_in(page, user)
    page.goto("/console/templates/new")
    page.select_option("[name=type]", "1")
    page.locator("[name=content]").press_sequentially("【云雀】您的订单${order}已发货", delay=5)
    choose_attribute(page, "order", "other_number2")
    expect_text(page, "[data-template-problems]", "Remove 【 and 】")
    assert page.locator("[data-template-preview] mark.var").inner_text() == "${order}"
    # Fixing the text clears the problem, without submitting anything.
    page.fill("[name=content]", "您的订单${order}已发货，请注意查收。")
    expect_text(page, "[data-template-problems]", "No problem found")
    assert page.url.endswith("/console/templates/new")


def test_the_delivery_test_sends_to_a_bound_number_and_the_handset_shows_it(site, new_page):
    user = site.tenant_user()
    sender = ready_to_send(site.pigeon, CoreClient(site.live.endpoint, user.tenant),
                           user.account_id)
    page = new_page(site)
    sign_in(page, user)
    page.goto("/console/quickstart")
    page.fill("[name=number]", "13700137000")
    page.get_by_role("button", name="Bind", exact=True).click()
    expect_text(page, "p.notice", "Test number bound")
    assert page.locator(".phone[data-phone='13700137000']").count() == 1

    page.select_option("[name=sign_name]", sender.sign)
    page.select_option("[name=template_code]", sender.notice)
    # One field per variable of the chosen template; the others are hidden and not sent.
    assert page.locator(f"[name='var.{sender.notice}.order']").is_visible()
    assert not page.locator(f"[name='var.{sender.otp}.code']").is_visible()
    page.fill(f"[name='var.{sender.notice}.order']", "A1024")
    page.click("text=Send test message")
    expect_text(page, "[data-test=sent]", r"BizId \d+\^0")
    # The form keeps what was sent, and the message's status follows its receipt.
    assert page.input_value(f"[name='var.{sender.notice}.order']") == "A1024"
    expect_text(page, "[data-test=test-messages] [data-test=test-status]", "Delivered")
    # The simulator delivers after 50 ms; the panel refreshes by itself.
    expect_text(page, ".phone[data-phone='13700137000'] .text",
                "【云雀科技】您的订单A1024已发货")

    # The record is in Sending Records and the CSV export.
    page.click("[data-test=test-messages] a")
    expect_text(page, "[data-test=records] tbody tr", "Delivered")
    with page.expect_download() as download:
        page.click("[data-test=export]")
    exported = open(download.value.path(), encoding="utf-8-sig").read()
    assert "【云雀科技】您的订单A1024已发货" in exported and ",3," in exported


def test_an_operator_rejects_a_signature_with_a_reason_and_the_tenant_sees_it(
        site_factory, new_page):
    site = site_factory(review_mode="manual")
    user, operator = site.tenant_user(), site.operator_user()
    core = CoreClient(site.live.endpoint, user.tenant)
    answer = workflow.submit_qualification(core, site.pigeon)
    assert answer["Code"] == "OK", answer

    ops = new_page(site)
    sign_in(ops, operator)
    ops.click("tr[data-kind=qualification] a")
    ops.click("button[value=approve]")
    expect_text(ops, "p.notice", "Approved")

    tenant = new_page(site)
    sign_in(tenant, user)
    tenant.goto("/console/signatures")
    tenant.fill("[name=name]", "云雀科技")
    tenant.set_input_files("[name=proof]", PNG)
    tenant.click("text=Submit for review")
    expect_text(tenant, "tr[data-sign=云雀科技] [data-test=sign-status]", "Under review")

    ops.goto("/ops/")
    ops.click("tr[data-kind=signature] a")
    image = ops.locator(".proofs img")
    proof_url = image.get_attribute("src")
    proof = ops.request.get(proof_url)
    assert proof.status == 200 and proof.headers["content-type"] == "image/png"
    assert proof.body() == png_bytes()
    assert tenant.request.get(proof_url).status == 404  # proof files are for operators only
    ops.click("button[value=reject]")  # no reason: refused
    expect_text(ops, "p.error", "needs a reason")
    ops.fill("[name=reason]", "名称与企业名称不符，请提供授权委托书")
    ops.click("button[value=reject]")
    expect_text(ops, "p.notice", "Rejected")

    tenant.goto("/console/signatures")
    row = tenant.locator("tr[data-sign=云雀科技]")
    assert row.locator("[data-test=sign-status]").inner_text() == "Rejected"
    assert row.locator("[data-test=sign-reason]").inner_text() == \
        "名称与企业名称不符，请提供授权委托书"


def test_another_tenants_signature_id_answers_404(site, new_page):
    mine, theirs = site.tenant_user(), site.tenant_user("dev@other.example", "Other Company")
    ready_to_send(site.pigeon, CoreClient(site.live.endpoint, theirs.tenant), theirs.account_id,
                  balance_cny=0, admin_phone="13900139000")
    their_id, their_name = site.pigeon.db.read_sync(_first_signature, theirs.account_id)
    page = new_page(site)
    sign_in(page, mine)
    answer = page.goto(f"/console/signatures/{their_id}")
    assert answer.status == 404
    assert their_name not in page.content()
    answer = page.goto("/ops/")
    assert answer.status == 404

    other = new_page(site)
    sign_in(other, theirs)
    answer = other.goto(f"/console/signatures/{their_id}")
    assert answer.status == 200 and f"【{their_name}】" in other.content()


def _first_signature(conn, account_id: int) -> tuple[int, str]:
    _total, rows = signatures.page(conn, account_id, 1, 1)
    return rows[0]["id"], rows[0]["name"]
