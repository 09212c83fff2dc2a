"""The console over plain HTTP, on SQLite and PostgreSQL: template tags on the template list
and page (the filter by tag), Short URLs with their visits, and the reviewer's page of a
signature document."""

from __future__ import annotations

import html
import re
from urllib.parse import quote

import httpx
import pytest

from pigeon.services import template_tags
from tests.console.test_ops_http import dev, ops  # noqa: F401  (fixtures)
from tests.support import documents
from tests.support.sdk import CoreClient
from tests.support.sending import ready_to_send


@pytest.fixture
def sender(pigeon, server, tenant, dev):  # noqa: F811
    return ready_to_send(pigeon, CoreClient(server.endpoint, tenant), tenant.account_id)


def rows_of(page: httpx.Response, test: str) -> list[str]:
    table = re.search(rf'<table data-test="{test}">(.*?)</table>', page.text, re.S)
    return re.findall(r'<tr data-(?:template|short-url)="([^"]+)"', table.group(1)) if table \
        else []


def test_the_template_list_shows_tags_and_filters_by_them(pigeon, tenant, sender, dev):  # noqa: F811
    pigeon.db.write_sync(template_tags.tag, tenant.account_id, [sender.otp, sender.notice],
                         {"team": "growth"}, pigeon.now())
    pigeon.db.write_sync(template_tags.tag, tenant.account_id, [sender.promo], {"team": "brand"},
                         pigeon.now())

    every = dev.get("/console/templates")
    assert len(rows_of(every, "templates")) == 4
    assert f'href="/console/templates?tag={quote("team:growth")}"' in every.text
    assert '<option value="team:growth"' in every.text and '<option value="team"' in every.text

    growth = dev.get("/console/templates", params={"tag": "team:growth"})
    assert sorted(rows_of(growth, "templates")) == sorted([sender.otp, sender.notice])
    assert "2 templates tagged team:growth" in growth.text
    assert len(rows_of(dev.get("/console/templates", params={"tag": "team"}), "templates")) == 3
    nothing = dev.get("/console/templates", params={"tag": "team:none"})
    assert rows_of(nothing, "templates") == [] and "No template has the tag" in nothing.text


def test_a_tag_is_added_and_removed_on_the_template_page(pigeon, tenant, sender, dev):  # noqa: F811
    page = f"/console/templates/{sender.notice}"
    added = dev.post(f"{page}/tags", data={"csrf": dev.csrf, "key": "team", "value": "growth"})
    assert added.status_code == 303
    shown = dev.get(added.headers["location"])
    assert "Tag saved." in shown.text and "team: growth" in shown.text
    assert pigeon.db.read_sync(template_tags.of_templates, [_id(pigeon, tenant, sender.notice)])

    refused = dev.post(f"{page}/tags", data={"csrf": dev.csrf, "key": "aliyun:x", "value": "v"})
    assert refused.status_code == 400 and "reserved" in html.unescape(refused.text)

    removed = dev.post(f"{page}/tags/remove", data={"csrf": dev.csrf, "key": "team"})
    assert removed.status_code == 303
    assert "team: growth" not in dev.get(page).text


def _id(pigeon, tenant, code: str) -> int:
    from pigeon.services import templates

    return pigeon.db.read_sync(templates.get, tenant.account_id, code)["id"]


def test_another_tenants_template_cannot_be_tagged_from_the_console(pigeon, server, dev):  # noqa: F811
    from tests.conftest import make_tenant

    other = make_tenant(pigeon, "Other")
    theirs = ready_to_send(pigeon, CoreClient(server.endpoint, other), other.account_id,
                           admin_phone="13800138051")
    answer = dev.post(f"/console/templates/{theirs.otp}/tags",
                      data={"csrf": dev.csrf, "key": "team", "value": "mine"})
    assert answer.status_code == 404
    assert pigeon.db.read_sync(template_tags.keys_in_use, other.account_id) == []


def test_short_urls_are_made_listed_with_their_visits_and_deleted(server, dev):  # noqa: F811
    made = dev.post("/console/short-urls", data={
        "csrf": dev.csrf, "source": "https://www.lark.example/promo", "name": "会员日",
        "days": "30"})
    assert made.status_code == 303
    page = dev.get("/console/short-urls")
    [code] = rows_of(page, "short-urls")
    link = f"{server.url}/s/{code}"
    assert link in page.text and "Short URL created." in dev.get(made.headers["location"]).text
    for agent in ("a", "a", "b"):
        assert httpx.get(link, headers={"User-Agent": agent}).status_code == 302
    row = re.search(rf'data-short-url="{code}">(.*?)</tr>', dev.get("/console/short-urls").text,
                    re.S).group(1)
    assert '<td data-test="page-views">3</td>' in row
    assert '<td data-test="unique-visitors">2</td>' in row

    bad = dev.post("/console/short-urls", data={"csrf": dev.csrf, "source": "ftp://x/y",
                                                "name": "x", "days": "30"})
    assert bad.status_code == 400 and "http:// or https://" in html.unescape(bad.text)

    gone = dev.post("/console/short-urls/delete",
                    data={"csrf": dev.csrf, "source": "https://www.lark.example/promo"})
    assert gone.status_code == 303
    assert rows_of(dev.get("/console/short-urls"), "short-urls") == []
    assert httpx.get(link).status_code == 404


def test_smart_links_show_who_clicked(server, tenant, dev):  # noqa: F811
    core = CoreClient(server.endpoint, tenant)
    model = core.common("CreateSmartShortUrl", {"SourceUrl": "https://www.lark.example/w",
                                                "PhoneNumbers": "13700137000,13700137001"})
    first, second = model["Model"]
    httpx.get(second["ShortUrl"])
    table = dev.get("/console/short-urls").text
    assert re.search(rf'13700137001</td><td class="nowrap">{re.escape(second["ShortUrl"])}'
                     r'.*?clicked', table, re.S)
    assert re.search(rf'13700137000</td><td class="nowrap">{re.escape(first["ShortUrl"])}'
                     r'.*?not yet', table, re.S)


def test_the_reviewer_sees_a_documents_fields_and_picture(pigeon, server, tenant, ops):  # noqa: F811
    core = CoreClient(server.endpoint, tenant)
    letter = documents.created(documents.letter(core, ["云雀科技", "云雀"]))
    page = ops.get(f"/ops/review/letter/{tenant.account_id}/{letter}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert f"Authorisation letter {letter}" in text
    assert "云雀科技、云雀" in text and "杭州白鹭网络有限公司" in text
    [file_id] = re.findall(r'<img src="/ops/files/(\d+)"', page.text)
    picture = ops.get(f"/ops/files/{file_id}")
    assert picture.headers["content-type"] == "image/png"
    assert "AuthorizationLetterPic" in text
