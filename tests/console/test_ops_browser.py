"""The operator console (/ops) in a real browser: an operator tops up a tenant, sets a price,
adds a route, and replies from a virtual handset to a message the tenant sent with the SDK."""

from __future__ import annotations

import json

import pytest

from pigeon.services import billing, handsets, reports
from pigeon.services import routes as routing
from tests.console.conftest import sign_in
from tests.console.test_browser import expect_text
from tests.support.sdk import CoreClient
from tests.support.sending import ready_to_send

pytestmark = pytest.mark.slow

PHONE = "13912345678"


def test_an_operator_bills_prices_routes_and_answers_from_a_handset(site, new_page):
    user, operator = site.tenant_user(), site.operator_user()
    core = CoreClient(site.live.endpoint, user.tenant)
    sender = ready_to_send(site.pigeon, core, user.account_id, balance_cny=0)
    pigeon = site.pigeon

    ops = new_page(site)
    sign_in(ops, operator)
    assert ops.url.endswith("/ops/")

    # Top up the tenant from its page.
    ops.click("text=Tenants & billing")
    ops.click(f"tr[data-account='{user.account_id}'] a >> nth=0")
    ops.fill("[data-test=topup] [name=amount]", "10")
    ops.fill("[data-test=topup] [name=note]", "invoice 2024-17")
    ops.click("[data-test=topup] button")
    expect_text(ops, "p.notice", "Balance topped up")
    expect_text(ops, "[data-test=balance]", r"^CN¥10\.00$")

    # A platform price for notifications.
    ops.click("text=Prices")
    ops.fill("[name=price_notification]", "0.05")
    ops.click("text=Save prices")
    expect_text(ops, "p.notice", "Prices saved")
    expect_text(ops, "tr[data-type=notification] [data-test=price]", r"^CN¥0\.05$")

    # Notifications go to the simulator by a rule of their own.
    ops.click("text=Connectors & routes")
    expect_text(ops, "tr[data-connector=simulator] [data-live=state]", "up")  # live refresh
    ops.select_option("[data-test=add-route] [name=template_type]", "notification")
    ops.select_option("[data-test=add-route] [name=connector]", "simulator")
    ops.click("text=Add route")
    expect_text(ops, "p.notice", "Route added")
    assert [(r["template_type"], r["connector"]) for r in pigeon.db.read_sync(routing.listing)] \
        == [("notification", "simulator")]

    # The tenant sends with the SDK; the handset's inbox shows it as it arrives.
    ops.goto(f"/ops/handsets/{PHONE}")
    expect_text(ops, "[data-test=conversation] li", "No message yet")
    answer = core.common("SendSms", {"PhoneNumbers": PHONE, "SignName": sender.sign,
                                     "TemplateCode": sender.notice,
                                     "TemplateParam": json.dumps({"order": "A1024"})})
    assert answer["Code"] == "OK", answer
    expect_text(ops, "[data-test=conversation] li.in .text", "【云雀科技】您的订单A1024已发货")
    assert pigeon.db.read_sync(billing.balance, user.account_id) == 10_000 - 50  # the new price

    # Reply to the sender it came from: the tenant gets an SmsUp.
    ops.reload()
    to = ops.input_value("[data-test=reply] [name=to]")
    assert to.startswith(pigeon.settings.access_code)
    ops.fill("[data-test=reply] [name=text]", "收到，谢谢")
    ops.click("text=Send reply (MO)")
    expect_text(ops, "p.notice", "tenant receives it as an SmsUp")
    expect_text(ops, "[data-test=conversation] li.out .text", "收到，谢谢")
    [event] = pigeon.db.read_sync(reports.queued, user.account_id, "SmsUp")
    assert (event["payload"]["phone_number"], event["payload"]["content"],
            event["payload"]["sign_name"]) == (PHONE, "收到，谢谢", sender.sign)

    # Whatever a message says is shown as text, also when it arrives while the page is open.
    pigeon.db.write_sync(handsets.deliver, PHONE, "10690000",
                         '<img src=x data-x="1"><b>中奖</b>', pigeon.now())
    expect_text(ops, "[data-test=conversation] li.in >> nth=-1", '<img src=x data-x="1">')
    assert ops.locator("[data-test=conversation] img, [data-test=conversation] b").count() == 0

    ops.click("text=Virtual handsets")
    expect_text(ops, f"tr[data-phone='{PHONE}']", "<b>中奖</b>")  # the last message, as text
