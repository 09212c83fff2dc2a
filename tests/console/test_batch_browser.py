"""Batch Sending in a real browser: upload a CSV of three numbers, read the preview, send now,
watch the progress reach done and the messages arrive on the simulator's handsets."""

from __future__ import annotations

import re

import pytest

from pigeon.services import handsets
from tests.console.conftest import sign_in
from tests.console.test_browser import expect_text
from tests.support.sdk import CoreClient
from tests.support.sending import ready_to_send

pytestmark = pytest.mark.slow

NUMBERS = ("13700137010", "13700137011", "13700137012")


def test_a_csv_of_three_numbers_is_previewed_sent_and_delivered(site, new_page):
    user = site.tenant_user()
    sender = ready_to_send(site.pigeon, CoreClient(site.live.endpoint, user.tenant),
                           user.account_id)
    page = new_page(site)
    sign_in(page, user)
    page.goto("/console/batch")
    expect_text(page, "h1", "Batch Sending")
    page.select_option("[name=sign_name]", sender.sign)
    page.select_option("[name=template_code]", sender.notice)
    # The sample link and the column hint follow the chosen template.
    expect_text(page, "[data-sample-columns]", "^PhoneNumber,order$")
    assert page.get_attribute("[data-sample-link]", "href").endswith(
        f"template={sender.notice}")
    csv = "PhoneNumber,order\n" + "".join(f"{n},A10{i}\n" for i, n in enumerate(NUMBERS))
    page.set_input_files("[name=file]", {"name": "客户名单.csv", "mimeType": "text/csv",
                                         "buffer": csv.encode("gbk")})
    page.click("text=Upload and preview")

    expect_text(page, "[data-test=status]", "Draft")
    assert page.locator("[data-test=preview] tbody tr").count() == 3
    expect_text(page, "[data-test=preview] tbody tr", "【云雀科技】您的订单A100已发货")
    expect_text(page, "[data-test=valid]", "^3$")
    expect_text(page, "[data-test=segments]", "^3$")
    expect_text(page, "[data-test=cost]", r"^CN¥0\.135$")
    expect_text(page, "[data-test=estimate]", r"up to CN¥0\.135 if no resource package")

    page.click("[data-test=send-now]")
    expect_text(page, "p.notice", "Sending has started")
    # console.js polls the progress: the batch finishes, then the receipts come in.
    expect_text(page, "[data-test=status]", "^Done$")
    expect_text(page, "[data-progress=sent]", "^3$")
    expect_text(page, "[data-progress=percent]", "^100$")
    expect_text(page, "[data-progress=delivered]", "^3$")
    assert page.locator("[data-while-running]").count() == 0 or \
        page.locator("[data-while-running]").is_hidden()

    for index, number in enumerate(NUMBERS):
        inbox = site.pigeon.db.read_sync(handsets.inbox, number)
        assert [m["text"] for m in inbox] == [f"【云雀科技】您的订单A10{index}已发货，请注意查收。"]

    page.goto("/console/batch")
    row = page.locator("[data-test=batches] tbody tr").first
    expect_text(page, "[data-test=batches] tbody tr", "客户名单.csv")
    assert re.search(r"Done", row.inner_text())
