"""The seed document's whole journey through the browser, once in Simplified Chinese and once
in English, as a tenant and an operator would walk it: qualification (its verification code read
from the handset the form shows), signature and template, each approved by the operator in
/ops; money from the operator; the overview following along; a delivery test to a bound number
and to a failing one, with their statuses and records; the "send via API" tab; Sending Records
with filters and export; a CSV batch; the statistics; the settings pages and every operator page.

Every page is checked as it is reached (tests/support/page_checks.py): in the browser's
language, nothing left untranslated, no raw field name or enumeration, no wider than the
viewport, no WCAG 2 AA violation that axe-core finds.
"""

from __future__ import annotations

import re
import time

import pytest

from pigeon.services import alert_config
from tests.console.conftest import sign_in
from tests.console.test_browser import PNG, choose_attribute, expect_text, submit_qualification
from tests.support import page_checks, workflow
from tests.support.waiting import DEADLINE

pytestmark = pytest.mark.slow

TEST_NUMBER = "13700137000"
FAILING_NUMBER = "13800138001"  # the simulator's "number does not exist" (MK:0001)
BATCH = (("13700137021", "B201"), ("15800158022", "B202"))
SIGNATURE = "云雀科技"
TEMPLATE = "发货通知"
CONTENT = "您的订单${order}已发货，请注意查收。"
DATA = (SIGNATURE, TEMPLATE, "您的订单", "已发货，请注意查收。", "用于会员通知", "发货通知",
        "名单.csv", "云雀科技资质", workflow.COMPANY, "张三", "李四", "Lark Technology",
        "【Pigeon】您的验证码为", "，5分钟内有效。", "李雷", "lilei@example.com")
"""What this test types (and the platform's verification code text): data, in any language."""

WORDS = {
    "zh-CN": {"approved": "审核通过", "under review": "审核中", "done": "^已完成$",
              "delivered": "发送成功", "failed": "发送失败", "topped": "余额已充值",
              "bound": "测试号码已绑定", "finished": "^已完成$", "no problem": "未发现问题",
              "length": r"个字符 · 1 条计费短信"},
    "en-US": {"approved": "Approved", "under review": "Under review", "done": "^done$",
              "delivered": "Delivered", "failed": "Failed", "topped": "Balance topped up",
              "bound": "Test number bound", "finished": "^Done$", "no problem": "No problem found",
              "length": r"characters · 1 segment"},
}


def check(page, tag: str) -> None:
    page.wait_for_load_state("load")
    page_checks.check(page, tag, DATA)


def approve(ops, kind: str, tag: str) -> None:
    """The operator approves the oldest pending item of ``kind`` from the review queue."""
    ops.goto("/ops/")
    check(ops, tag)
    ops.click(f"tr[data-kind={kind}] a >> nth=0")
    check(ops, tag)
    ops.click("button[value=approve]")
    ops.wait_for_url(re.compile(r".*/ops/\?notice=approved$"))


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


@pytest.fixture
def localized(browser):
    """``open(site, tag)``: a page of a fresh context in language ``tag``, with axe-core."""
    contexts = []
    axe = page_checks.axe_script()

    def open_page(site, tag: str):
        context = browser.new_context(base_url=site.url, locale=tag,
                                      viewport={"width": 1280, "height": 800})
        context.set_default_timeout(10_000)
        context.add_init_script(path=str(axe))
        contexts.append(context)
        return context.new_page()

    yield open_page
    for context in contexts:
        context.close()


@pytest.mark.parametrize("tag", ["zh-CN", "en-US"])
def test_the_seed_journey_in_the_users_language(site_factory, localized, tag):
    words = WORDS[tag]
    site = site_factory(review_mode="manual")
    user, operator = site.tenant_user(), site.operator_user()
    # What `pigeon account create` switches on for every new tenant.
    site.pigeon.db.write_sync(alert_config.add_recommended, user.account_id,
                              site.pigeon.settings.alert_quiet_period, site.pigeon.now())
    tenant, ops = localized(site, tag), localized(site, tag)
    tenant.goto("/console/signin")
    check(tenant, tag)
    sign_in(tenant, user)
    sign_in(ops, operator)
    check(tenant, tag)
    assert tenant.locator("[data-next].now").get_attribute("data-next") == "qualification"

    # Qualification: dates picked, the code read from the handset shown beside the form.
    tenant.goto("/console/qualifications/new")
    check(tenant, tag)
    submit_qualification(tenant)
    expect_text(tenant, "[data-test=qualification-state]", words["under review"])
    check(tenant, tag)
    page_text = tenant.locator("main").inner_text()
    assert workflow.QUALIFICATION["AdminIDCardNo"] not in page_text  # masked
    assert "1101**********002X" in page_text
    assert tenant.locator("[data-test=pictures] img").count() == 2  # pictures, not file keys
    assert tenant.evaluate("() => [...document.images].every((i) => i.naturalWidth > 0)")
    approve(ops, "qualification", tag)
    tenant.reload()
    expect_text(tenant, "[data-test=qualification-state]", words["approved"])
    tenant.goto("/console/qualifications")
    check(tenant, tag)

    # Signature → approved → registered with the carriers by the registrar.
    tenant.goto("/console/signatures")
    check(tenant, tag)
    tenant.fill("[name=name]", SIGNATURE)
    tenant.fill("[name=remark]", "用于会员通知")
    tenant.set_input_files("[name=proof]", PNG)
    tenant.click("form[action$='/console/signatures'] button[type=submit]")
    expect_text(tenant, f"tr[data-sign={SIGNATURE}] [data-test=sign-status]",
                words["under review"])
    check(tenant, tag)
    approve(ops, "signature", tag)
    tenant.goto("/console/signatures")
    tenant.click(f"tr[data-sign={SIGNATURE}] a")
    check(tenant, tag)
    tenant.goto("/console/")
    assert tenant.locator("[data-next].now").get_attribute("data-next") == "template"

    # Template: one field per variable, its attribute from a list; the length as typed.
    tenant.goto("/console/templates/new")
    tenant.fill("[name=name]", TEMPLATE)
    tenant.select_option("[name=type]", "1")
    tenant.fill("[name=content]", CONTENT)
    choose_attribute(tenant, "order", "other_number2")
    expect_text(tenant, "[data-template-problems]", words["no problem"])
    expect_text(tenant, "[data-template-length]", words["length"])
    check(tenant, tag)
    tenant.click("form[data-template-form] button[type=submit]")
    tenant.wait_for_url(re.compile(r".*/console/templates/SMS_\d+\?notice=template$"))
    template_code = re.search(r"SMS_\d+", tenant.url).group()
    check(tenant, tag)
    approve(ops, "template", tag)
    tenant.goto(f"/console/templates/{template_code}")
    expect_text(tenant, "[data-test=variables]", r"\$\{order\}")
    check(tenant, tag)
    tenant.goto("/console/templates")
    check(tenant, tag)

    for step in ("qualification", "signature", "template", "registration", "earliest"):
        eventually(tenant, "/console/", f"[data-step={step}] .badge", words["done"])
    check(tenant, tag)
    assert tenant.locator("[data-next].now").get_attribute("data-next") == "money"

    # The operator tops the tenant up.
    ops.goto("/ops/tenants")
    check(ops, tag)
    ops.click(f"tr[data-account='{user.account_id}'] a >> nth=0")
    check(ops, tag)
    ops.fill("[data-test=topup] [name=amount]", "100")
    ops.click("[data-test=topup] button")
    expect_text(ops, "p.notice", words["topped"])

    # Quick Start: a delivered message and a failed one, each with its status and record.
    tenant.goto("/console/quickstart")
    check(tenant, tag)
    for number in (TEST_NUMBER, FAILING_NUMBER):
        tenant.fill("form[action$='/quickstart/numbers'] [name=number]", number)
        tenant.click("form[action$='/quickstart/numbers'] button")
        expect_text(tenant, "p.notice", words["bound"])
    for number in (TEST_NUMBER, FAILING_NUMBER):
        tenant.select_option("[data-send-form] [name=number]", number)
        tenant.select_option("[name=sign_name]", SIGNATURE)
        tenant.select_option("[name=template_code]", template_code)
        tenant.fill(f"[name='var.{template_code}.order']", "A1024")
        tenant.click("[data-send-form] button[type=submit]")
        expect_text(tenant, "[data-test=sent]", r"\d+\^0")
        # The form keeps what was sent.
        assert tenant.input_value(f"[name='var.{template_code}.order']") == "A1024"
    expect_text(tenant, f".phone[data-phone='{TEST_NUMBER}'] .text",
                f"【{SIGNATURE}】您的订单A1024已发货")
    failed = tenant.locator("[data-test=test-messages] tbody tr", has_text=FAILING_NUMBER)
    expect_text(tenant, "[data-test=test-messages] tbody tr >> nth=0 >> [data-test=test-status]",
                words["failed"])
    assert failed.locator("[data-test=test-error]").inner_text() == "MK:0001"
    check(tenant, tag)
    # The "send via API" tab: ready code with this endpoint and the tenant's key.
    tenant.click("#tab-api")
    expect_text(tenant, "[data-sample=python]", re.escape(user.tenant.key_id))
    assert site.url.split("//")[1] in tenant.locator("[data-sample=python]").inner_text()
    for language in ("java", "node", "curl"):
        tenant.click(f"#tab-sample-{language}")
        assert user.tenant.key_id in tenant.locator(f"[data-sample={language}]").inner_text()
    check(tenant, tag)
    tenant.click("#tab-console")
    failed.locator("a").click()
    expect_text(tenant, "[data-test=records] tbody tr", "MK:0001")
    check(tenant, tag)

    # The operator sees the same message on the virtual handset.
    ops.goto("/ops/handsets")
    check(ops, tag)
    ops.goto(f"/ops/handsets/{TEST_NUMBER}")
    expect_text(ops, "[data-test=conversation] li.in .text", f"【{SIGNATURE}】您的订单A1024已发货")
    check(ops, tag)

    # Sending Records: every message of the last days, filtered by status, exported.
    tenant.goto("/console/records")
    expect_text(tenant, "[data-test=record-count]", "2")
    tenant.select_option("[name=status]", "delivered")
    tenant.click("[data-test=record-filters] button[type=submit]")
    expect_text(tenant, "[data-test=records] tbody tr", words["delivered"])
    assert tenant.locator("[data-test=records] tbody tr").count() == 1
    check(tenant, tag)
    with tenant.expect_download() as download:
        tenant.click("[data-test=export]")
    exported = open(download.value.path(), encoding="utf-8-sig").read()
    assert f"{TEST_NUMBER},3," in exported and FAILING_NUMBER not in exported

    # A CSV batch of two numbers, sent now, delivered.
    tenant.goto("/console/batch")
    check(tenant, tag)
    tenant.select_option("[name=sign_name]", SIGNATURE)
    tenant.select_option("[name=template_code]", template_code)
    csv = "PhoneNumber,order\n" + "".join(f"{phone},{order}\n" for phone, order in BATCH)
    tenant.set_input_files("[name=file]", {"name": "名单.csv", "mimeType": "text/csv",
                                           "buffer": csv.encode("utf-8")})
    tenant.click("[data-batch-upload] button[type=submit]")
    expect_text(tenant, "[data-test=valid]", "^2$")
    check(tenant, tag)
    tenant.click("[data-test=send-now]")
    expect_text(tenant, "[data-test=status]", words["finished"])
    expect_text(tenant, "[data-progress=delivered]", "^2$")
    check(tenant, tag)

    # Business Statistics: four messages, three delivered, drawn as SVG.
    tenant.goto("/console/statistics")
    expect_text(tenant, "[data-test=total-messages]", "^4$")
    expect_text(tenant, "[data-test=success-rate]", r"^75\.0%$")
    assert tenant.locator("svg rect").count() > 0
    check(tenant, tag)

    # The overview: the week's chart, the next steps so far.
    tenant.goto("/console/")
    assert tenant.locator("[data-test=week] svg.chart").count() == 1
    assert tenant.locator("[data-next=test].done").count() == 1
    check(tenant, tag)

    # Settings: keys, report delivery (SmsReport pushed), contacts, the recommended alerts.
    for path in ("/console/accesskeys", "/console/reports", "/console/contacts",
                 "/console/alerts", "/console/security", "/console/frequency",
                 "/console/short-urls", "/console/audit"):
        tenant.goto(path)
        check(tenant, tag)
    tenant.goto("/console/reports")
    tenant.select_option("[data-report-type=SmsReport] [name=mode]", "http")
    tenant.fill("[data-report-type=SmsReport] [name=url]", "https://example.com/sms/report")
    tenant.click("[data-report-type=SmsReport] form.report-form button")
    tenant.wait_for_url(re.compile(r".*notice=reports$"))
    check(tenant, tag)
    tenant.goto("/console/contacts")
    tenant.fill("[data-test=add-contact] [name=name]", "李雷")
    tenant.fill("[data-test=add-contact] [name=phone]", "13900139000")
    tenant.fill("[data-test=add-contact] [name=email]", "lilei@example.com")
    tenant.click("[data-test=add-contact] button")
    tenant.wait_for_url(re.compile(r".*notice=contact-added$"))
    check(tenant, tag)
    tenant.goto("/console/alerts")
    assert tenant.locator("[data-test=rules] [role=switch][aria-checked=true]").count() == 4
    tenant.click("[data-kind=volume] [role=switch]")
    tenant.wait_for_url(re.compile(r".*notice=rule-disabled$"))
    assert tenant.locator("[data-kind=volume] [role=switch]").get_attribute(
        "aria-checked") == "false"
    check(tenant, tag)
    tenant.goto("/console/")
    assert tenant.locator("[data-next].now").count() == 0  # every step done
    check(tenant, tag)

    # Every operator page.
    for path in ("/ops/", "/ops/registration", "/ops/tenants", "/ops/prices",
                 "/ops/connectors", "/ops/handsets", "/ops/alerts", "/ops/audit"):
        ops.goto(path)
        check(ops, tag)


def test_a_narrow_screen_fits_too(site, localized):
    """The pages fit a phone's width as well (the tables scroll inside their card)."""
    user = site.tenant_user()
    page = localized(site, "zh-CN")
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, user)
    for path in ("/console/", "/console/qualifications/new", "/console/templates/new",
                 "/console/quickstart", "/console/records", "/console/alerts"):
        page.goto(path)
        assert page_checks.overflow(page) <= 0, path


def test_the_language_switch_is_remembered_over_the_browsers_language(site, localized):
    user = site.tenant_user()
    page = localized(site, "en-US")
    sign_in(page, user)
    assert page.evaluate("() => document.documentElement.lang") == "en-US"
    page.click("[data-test=languages] a[lang=zh-CN]")
    page.wait_for_url(re.compile(r".*/console/$"))
    assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
    page.goto("/console/records")
    assert page.evaluate("() => document.documentElement.lang") == "zh-CN"
