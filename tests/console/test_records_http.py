"""Sending Records over plain HTTP, on SQLite and PostgreSQL: every message of a range of days
(no number needed), narrowed by number, status, template and BizId, a page at a time, and the
same as CSV — the figures QuerySendDetails answers."""

from __future__ import annotations

import csv
import io
import re

import pytest

from pigeon.services import delivery, records
from pigeon.store.tables import messages
from tests.console.test_statistics_http import signed_in
from tests.support.sending import ready_to_send, rows
from tests.support.statistics import A, B, C, send


@pytest.fixture
def client(pigeon, server, tenant):
    c = signed_in(pigeon, server, tenant.account_id, "dev@lark.example")
    yield c
    c.close()


@pytest.fixture
def history(pigeon, tenant, core_sdk, sdk):
    """Today: a notification to A (delivered) and B (failed), an OTP to C (waiting)."""
    sender = ready_to_send(pigeon, core_sdk, tenant.account_id)
    send(sdk, f"{A},{B}", sender.sign, sender.notice, {"order": "A1"})
    send(sdk, C, sender.otp_sign, sender.otp, {"code": "1234"})
    stored = rows(pigeon, messages, tenant.account_id)
    for message, delivered in ((stored[0], True), (stored[1], False)):
        pigeon.db.write_sync(delivery.finish, message["id"], delivered=delivered,
                             err_code="DELIVERED" if delivered else "MK:0005", err_msg=None,
                             zone=pigeon.calendar.zone, now=pigeon.now())
    return sender


def shown(page) -> list[tuple[str, str]]:
    """(number, status badge) of each row of the records table."""
    table = re.search(r'<table data-test="records".*?</table>', page.text, re.S)
    if table is None:
        return []
    return re.findall(r'<tr data-biz-id="[^"]+">\s*<td class="nowrap"><a [^>]*>(\d+)</a></td>'
                      r'\s*<td><span class="badge \w+">([^<]+)</span>', table.group(0))


def test_every_message_of_the_last_days_without_a_number(client, history):
    page = client.get("/console/records")
    assert page.status_code == 200
    assert sorted(shown(page)) == sorted([(A, "Delivered"), (B, "Failed"),
                                          (C, "Waiting for receipt")])
    assert "MK:0005" in page.text and "3 messages" in page.text


@pytest.mark.parametrize("params, expected", [
    ({"phone": B}, [(B, "Failed")]),
    ({"phone": "+86" + A}, [(A, "Delivered")]),
    ({"status": "delivered"}, [(A, "Delivered")]),
    ({"status": "waiting"}, [(C, "Waiting for receipt")]),
    ({"status": "failed", "phone": A}, []),
])
def test_filters_narrow_the_list(client, history, params, expected):
    page = client.get("/console/records", params=params)
    assert page.status_code == 200
    assert sorted(shown(page)) == expected
    if not expected:
        assert 'data-test="no-records"' in page.text


def test_a_template_and_a_bizid_narrow_it_too(pigeon, tenant, client, history):
    page = client.get("/console/records", params={"template": history.otp})
    assert shown(page) == [(C, "Waiting for receipt")]
    biz_id = rows(pigeon, messages, tenant.account_id)[0]["biz_id"]
    page = client.get("/console/records", params={"biz_id": biz_id})
    assert sorted(shown(page)) == sorted([(A, "Delivered"), (B, "Failed")])  # one call


def test_pages_of_the_list(pigeon, tenant, client, history, monkeypatch):
    from pigeon.console import sending

    monkeypatch.setattr(sending, "RECORDS_PAGE", 2)
    first = client.get("/console/records")
    assert len(shown(first)) == 2 and 'data-test="pager"' in first.text
    second = client.get("/console/records", params={"page": "2"})
    assert len(shown(second)) == 1
    assert {n for n, _ in shown(first)} | {n for n, _ in shown(second)} == {A, B, C}


def test_the_export_is_the_filtered_list_with_query_send_details_columns(client, history):
    answer = client.get("/console/records.csv", params={"status": "delivered"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows_ = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows_[0][:3] == ["PhoneNum", "SendStatus", "ErrCode"]
    assert [(r[0], r[1], r[2]) for r in rows_[1:]] == [(A, "3", "DELIVERED")]
    assert 'filename="send-details-' in answer.headers["content-disposition"]


@pytest.mark.parametrize("params, problem", [
    ({"from": "yesterday"}, "Choose the first and last day of the range."),
    ({"from": "2020-01-01", "to": "2026-12-31"}, "A range covers at most 92 days."),
    ({"phone": "12345"}, "12345 is not a valid mobile number."),
])
def test_bad_filters_are_answered_on_the_page(client, params, problem):
    page = client.get("/console/records", params=params)
    assert page.status_code == 400 and problem in page.text


def test_the_count_stops_at_its_limit(pigeon, tenant, history, monkeypatch):
    monkeypatch.setattr(records, "COUNT_LIMIT", 2)
    today = pigeon.calendar.local_date(pigeon.now())
    found = pigeon.db.read_sync(records.search, tenant.account_id, pigeon.calendar.zone,
                                first=today, last=today, page=1, page_size=50)
    # The total says "at least 2"; the page still holds what it asked for.
    assert found.total == 2 and len(found.items) == 3
