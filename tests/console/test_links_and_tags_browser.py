"""Template tags and short URLs in a real browser: a tag added on a template's page, the
template list filtered by it; a short URL made, followed, and its visit counted."""

from __future__ import annotations

import re

import pytest

from tests.console.conftest import sign_in
from tests.console.test_browser import expect_text
from tests.support.sdk import CoreClient
from tests.support.sending import ready_to_send

pytestmark = pytest.mark.slow


def test_a_tag_added_on_a_template_filters_the_template_list(site_factory, new_page):
    site = site_factory()
    user = site.tenant_user()
    sender = ready_to_send(site.pigeon, CoreClient(site.live.endpoint, user.tenant),
                           user.account_id)
    page = new_page(site)
    sign_in(page, user)

    page.goto(f"/console/templates/{sender.notice}")
    form = page.locator("[data-test=tag-form]")
    form.locator("[name=key]").fill("team")
    form.locator("[name=value]").fill("growth")
    form.get_by_role("button", name="Add tag").click()
    expect_text(page, "p.notice", "Tag saved")
    expect_text(page, "ul[data-test=template-tags]", "team: growth")

    page.goto("/console/templates")
    assert page.locator("table[data-test=templates] tbody tr").count() == 4
    page.select_option("[data-test=tag-filter] select[name=tag]", "team:growth")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url(re.compile(r".*/console/templates\?.*tag=team%3Agrowth$"))
    expect_text(page, "[data-test=tag-filtered]", "1 template")
    rows = page.locator("table[data-test=templates] tbody tr")
    assert rows.count() == 1 and rows.first.get_attribute("data-template") == sender.notice

    # A tag in the list is a link to the same filter.
    page.get_by_role("link", name="Show every template").click()
    page.get_by_role("link", name="team: growth").first.click()
    page.wait_for_url(re.compile(r".*\?tag=team%3Agrowth$"))


def test_a_short_url_is_made_followed_and_counted(site_factory, new_page):
    site = site_factory()
    user = site.tenant_user()
    page = new_page(site)
    sign_in(page, user)
    page.goto("/console/short-urls")
    page.fill("[name=source]", f"{site.url}/console/signin")
    page.fill("[name=name]", "登录页")
    page.get_by_role("button", name="Create").click()
    expect_text(page, "p.notice", "Short URL created")

    link = page.locator("table[data-test=short-urls] tbody tr a").first
    target = link.inner_text()
    assert re.fullmatch(rf"{re.escape(site.url)}/s/\w{{8}}", target)
    page.goto(target)
    page.wait_for_url(re.compile(r".*/console/(signin|)$"))
    page.goto("/console/short-urls")
    expect_text(page, "[data-test=page-views]", "^1$")
