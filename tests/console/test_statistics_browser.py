"""Business Statistics in a real browser: after a few messages sent through the official SDK,
the page shows the daily chart (SVG bars) and totals that match QuerySendStatistics."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.console.conftest import sign_in
from tests.support.sdk import CoreClient, tea_client
from tests.support.sending import ready_to_send
from tests.support.statistics import A, B, C, query_send_statistics, send

pytestmark = pytest.mark.slow


def test_business_statistics_draws_the_days_chart_and_matching_totals(site, new_page):
    user = site.tenant_user()
    core = CoreClient(site.live.endpoint, user.tenant)
    sdk = tea_client(site.live.endpoint, user.tenant)
    sender = ready_to_send(site.pigeon, core, user.account_id)
    send(sdk, f"{A},{B}", sender.sign, sender.notice, {"order": "A1"})
    send(sdk, A, sender.sign, sender.long_notice, {"name": "欧阳" * 4 + "先生"})  # 2 segments
    send(sdk, C, sender.otp_sign, sender.otp, {"code": "1234"})
    today = site.pigeon.calendar.local_date(site.pigeon.now())
    from_api = query_send_statistics(sdk, today, today)
    segments = sum(row[0] for row in from_api.values())
    assert segments == 5

    page = new_page(site)
    sign_in(page, user)
    page.get_by_role("navigation", name="Console pages").get_by_role(
        "link", name="Business Statistics").click()
    page.wait_for_url("**/console/statistics")

    chart = page.get_by_role("img", name="Segments per day")
    assert chart.evaluate("node => node.tagName") == "svg"
    bars = page.locator("svg.chart rect.bar")
    assert bars.count() >= 1  # today's bar: its parts as receipts have come in so far
    assert page.locator("svg.chart g.day").count() == 30
    today_bar = page.locator(f"svg.chart g.day[data-day='{today.isoformat()}'] rect.bar")
    heights = today_bar.evaluate_all("rects => rects.map(r => r.getBBox().height)")
    assert sum(heights) > 0
    assert page.locator("[data-test=total-segments]").inner_text() == str(segments)
    assert page.locator("[data-test=total-messages]").inner_text() == "4"
    assert page.locator("[data-test=by-signature]").get_by_text(sender.otp_sign,
                                                                 exact=True).count() == 1
    # The table fallback holds the same numbers.
    page.get_by_text("The numbers as a table").click()
    row = page.locator(f"[data-test=daily-table] tr[data-day='{today.isoformat()}'] td").first
    assert row.inner_text() == str(segments)
    if os.environ.get("PIGEON_TEST_SCREENSHOTS"):
        page.screenshot(path=str(Path(os.environ["PIGEON_TEST_SCREENSHOTS"]) /
                                 "statistics.png"), full_page=True)
