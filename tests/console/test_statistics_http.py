"""Business Statistics over plain HTTP, on SQLite and PostgreSQL: the page's numbers are
QuerySendStatistics' (asked through the official SDK), the chart is accessible SVG with a
table fallback, bad filters are answered on the page, and an empty period explains what to
do next."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
import pytest
from babel.dates import format_date

from pigeon.services import console_users
from tests.support.statistics import query_send_statistics, sent_history

PASSWORD = "correct horse battery"


def signed_in(pigeon, server, account_id: int, email: str) -> httpx.Client:
    pigeon.db.write_sync(console_users.create_user, account_id, email,
                         console_users.hash_password(PASSWORD), pigeon.now())
    client = httpx.Client(base_url=server.url, timeout=10)
    page = client.get("/console/signin")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert client.post("/console/signin", data={"csrf": token, "email": email,
                                                "password": PASSWORD}).status_code == 303
    return client


@pytest.fixture
def client(pigeon, server, tenant):
    c = signed_in(pigeon, server, tenant.account_id, "dev@lark.example")
    yield c
    c.close()


def figure(page: httpx.Response, name: str) -> str:
    return re.search(rf'data-test="{name}">([^<]*)<', page.text).group(1)


def test_the_page_agrees_with_query_send_statistics(pigeon, tenant, core_sdk, sdk, client):
    history = sent_history(pigeon, core_sdk, sdk, tenant.account_id)
    first, last = history.day1 - timedelta(days=1), history.day2
    page = client.get("/console/statistics", params={"from": first.isoformat(),
                                                     "to": last.isoformat()})
    assert page.status_code == 200

    from_api = query_send_statistics(sdk, first, last)
    table = re.search(r'<table data-test="daily-table">(.*?)</table>', page.text, re.S).group(1)
    shown = {}
    for day, cells in re.findall(r'<tr data-day="([0-9-]+)">(.*?)</tr>', table, re.S):
        numbers = re.findall(r"<td>([0-9]+)</td>", cells)
        shown[day.replace("-", "")] = tuple(int(n) for n in numbers)
    assert shown == from_api and len(shown) == 2
    assert int(figure(page, "total-segments")) == sum(row[0] for row in from_api.values())
    assert figure(page, "total-messages") == "5"
    assert figure(page, "success-rate") == "50.0%"

    # The chart: an accessible SVG with one stacked bar per day of the range.
    svg = re.search(r'<svg class="chart"(.*?)</svg>', page.text, re.S).group(0)
    assert 'role="img"' in svg and "<title id=\"daily-title\">" in svg
    assert svg.count('<g class="day"') == 3
    assert svg.count('class="bar delivered"') == 1 and svg.count('class="bar failed"') == 1
    # Chinese signature and template names, as the tenant wrote them.
    assert "云雀科技" in page.text and "发货通知" in page.text


def test_filters_narrow_the_page_like_the_api(pigeon, tenant, core_sdk, sdk, client):
    history = sent_history(pigeon, core_sdk, sdk, tenant.account_id)
    page = client.get("/console/statistics", params={
        "from": history.day1.isoformat(), "to": history.day2.isoformat(), "type": "0"})
    assert figure(page, "total-segments") == "1"
    page = client.get("/console/statistics", params={
        "from": history.day1.isoformat(), "to": history.day2.isoformat(),
        "sign": history.sender.otp_sign})
    assert figure(page, "total-segments") == "1"
    assert f'<option value="{history.sender.otp_sign}" selected>' in page.text


def test_the_default_is_the_last_thirty_days_and_an_empty_period_says_what_to_do(
        pigeon, client):
    page = client.get("/console/statistics")
    assert page.status_code == 200
    today = pigeon.calendar.local_date(pigeon.now())
    first = format_date(today - timedelta(days=29), "medium", locale="en_US")
    assert f"{first} – {format_date(today, 'medium', locale='en_US')}" in page.text
    assert 'data-test="empty"' in page.text and "/console/quickstart" in page.text
    assert figure(page, "total-messages") == "0"


@pytest.mark.parametrize("params, fragment", [
    ({"from": "yesterday"}, "Choose the first and last day of the range."),
    ({"from": "2025-02-01", "to": "2025-01-01"}, "after it ends"),
    ({"from": "2023-01-01", "to": "2025-01-01"}, "at most 366 days"),
    ({"type": "9"}, "Choose a template type from the list."),
])
def test_bad_filters_are_answered_on_the_page(client, params, fragment):
    page = client.get("/console/statistics", params=params)
    assert page.status_code == 400
    assert fragment in re.search(r'<p class="error" role="alert">([^<]*)</p>',
                                 page.text).group(1)
