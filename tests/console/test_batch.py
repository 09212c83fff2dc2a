"""Batch Sending over plain HTTP, on SQLite and PostgreSQL: upload and preview, clear errors
for bad files, the sample file, sending and scheduling, progress and results, cancelling,
and another tenant's batches answering 404."""

from __future__ import annotations

import asyncio
import csv
import io
import re
from datetime import timedelta

import httpx
import pytest
from babel.dates import format_datetime

from pigeon.services import batch_files, batches
from pigeon.workers.batches import send_batches
from tests.console.test_http import add_user, csrf_of, sign_in
from tests.support.sdk import CoreClient
from tests.support.sending import ready_to_send

LIST = "PhoneNumber,order\n13700137000,A1001\n13700137001,A1002\n13700137002,A1003\n"


@pytest.fixture
def client(server):
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


@pytest.fixture
def sender(pigeon, server, tenant, client):
    """A signed-in tenant with approved signatures and templates and 100 CNY."""
    ready = ready_to_send(pigeon, CoreClient(server.endpoint, tenant), tenant.account_id)
    add_user(pigeon, tenant.account_id, "dev@lark.example")
    sign_in(client, "dev@lark.example")
    return ready


def upload(client, sender, data: bytes | str, *, name: str = "list.csv",
           template: str | None = None) -> httpx.Response:
    if isinstance(data, str):
        data = data.encode()
    return client.post("/console/batch", data={
        "csrf": csrf_of(client, "/console/batch"), "sign_name": sender.sign,
        "template_code": template or sender.notice}, files={"file": (name, data, "text/csv")})


def batch_id_of(answer: httpx.Response) -> int:
    assert answer.status_code == 303, answer.text
    return int(re.fullmatch(r"/console/batch/(\d+)", answer.headers["location"]).group(1))


def post(client, path: str, **data) -> httpx.Response:
    return client.post(path, data={"csrf": csrf_of(client, "/console/batch"), **data})


def test_the_page_explains_what_is_needed_before_the_first_batch(pigeon, tenant, client):
    add_user(pigeon, tenant.account_id, "dev@lark.example")
    sign_in(client, "dev@lark.example")
    page = client.get("/console/batch")
    assert page.status_code == 200
    assert "needs an approved" in page.text and "No batch yet" in page.text
    assert 'class="here"' in page.text.split("Batch Sending</a>")[0].rsplit("<a", 1)[1]


def test_an_upload_shows_the_rendered_messages_segments_and_cost(sender, client):
    page = client.get("/console/batch")
    assert "No batch yet" in page.text and "download a sample CSV" in page.text
    data = LIST + '13700137003,<b>x</b>\n12345,A1005\n'
    batch_id = batch_id_of(upload(client, sender, data))
    preview = client.get(f"/console/batch/{batch_id}")
    assert preview.status_code == 200
    text = preview.text
    assert "【云雀科技】您的订单A1001已发货，请注意查收。" in text
    assert re.search(r'data-test="valid">3<', text)
    assert re.search(r'data-test="segments">3<', text)
    assert "3 segments at CN¥0.045: up to CN¥0.135 if no resource package covers them" in text
    # The rows with a problem, with the reason, escaped.
    assert "isv.TEMPLATE_PARAMS_ILLEGAL" in text and "isv.MOBILE_NUMBER_ILLEGAL" in text
    assert "<b>x</b>" not in text and "&lt;b&gt;x&lt;/b&gt;" in text
    listed = client.get("/console/batch").text
    assert f'data-batch="{batch_id}"' in listed and "Draft" in listed


@pytest.mark.parametrize(("data", "name", "expected"), [
    (b"", "list.csv", "The file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00", "photo.csv", "neither a CSV text file"),
    (b"PK\x03\x04not really", "list.xlsx", "XLSX workbook cannot be read"),
    (b"PhoneNumber,code\n13700137000,1234\n", "list.csv", "no column for the template"),
    (b"x" * (batch_files.MAX_FILE_BYTES + 10), "big.csv", "at most 4 MB"),
])
def test_a_bad_file_gets_a_clear_error_never_a_500(sender, client, data, name, expected):
    answer = upload(client, sender, data, name=name)
    assert answer.status_code == 400
    assert expected in answer.text
    assert "No batch yet" in answer.text  # nothing was stored


def test_an_upload_without_a_file_or_with_a_foreign_template_is_refused(sender, client):
    token = csrf_of(client, "/console/batch")
    answer = client.post("/console/batch", data={"csrf": token, "sign_name": sender.sign,
                                                  "template_code": sender.notice})
    assert answer.status_code == 400 and "Choose a CSV or XLSX file" in answer.text
    answer = upload(client, sender, LIST, template="SMS_999999999")
    assert answer.status_code == 400 and "no template" in answer.text
    assert client.post("/console/batch", data={"sign_name": sender.sign},
                       files={"file": ("a.csv", b"x")}).status_code == 403  # no CSRF token


def test_the_sample_file_is_utf8_with_bom_for_excel(sender, client):
    answer = client.get(f"/console/batch/sample.csv?template={sender.notice}")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert answer.content.startswith(b"\xef\xbb\xbfPhoneNumber,order\r\n13800138000,")
    assert client.get("/console/batch/sample.csv?template=SMS_1").status_code == 404


def test_send_now_progress_and_results(pigeon, sender, client):
    batch_id = batch_id_of(upload(client, sender, LIST + "12345,A9\n"))
    sent = post(client, f"/console/batch/{batch_id}/send", when="now")
    assert sent.status_code == 303 and sent.headers["location"].endswith("notice=sending")
    waiting = client.get(f"/console/batch/{batch_id}/progress.json").json()
    assert (waiting["status"], waiting["sent"], waiting["pending"]) == ("scheduled", 0, 3)
    assert asyncio.run(send_batches(pigeon)) == 3  # the worker's pass (no worker runs here)
    done = client.get(f"/console/batch/{batch_id}/progress.json").json()
    assert (done["status"], done["status_text"], done["sent"], done["failed"], done["percent"],
            done["finished"]) == ("done", "Done", 3, 0, 100, True)
    page = client.get(f"/console/batch/{batch_id}").text
    assert "data-batch-progress" in page and "Cancel the batch" not in page
    results = client.get(f"/console/batch/{batch_id}/results.csv")
    rows = list(csv.DictReader(io.StringIO(results.content.decode("utf-8-sig"))))
    assert [(r["PhoneNumber"], r["State"]) for r in rows] == [
        ("13700137000", "sent"), ("13700137001", "sent"), ("13700137002", "sent"),
        ("12345", "invalid")]
    assert re.fullmatch(r"\d{18}\^0", rows[0]["BizId"])
    assert rows[3]["Code"] == "isv.MOBILE_NUMBER_ILLEGAL" and not rows[3]["BizId"]
    # Sent once: a second "send" is refused.
    again = post(client, f"/console/batch/{batch_id}/send", when="now")
    assert again.status_code == 400 and "only a draft or a scheduled batch" in again.text


def test_a_schedule_in_the_past_is_refused_and_a_scheduled_batch_can_be_cancelled(
        pigeon, sender, client):
    batch_id = batch_id_of(upload(client, sender, LIST))
    zone = pigeon.calendar.zone
    past = (pigeon.now() - timedelta(minutes=5)).astimezone(zone).strftime("%Y-%m-%dT%H:%M")
    refused = post(client, f"/console/batch/{batch_id}/send", when="later", at=past)
    assert refused.status_code == 400 and "must be in the future" in refused.text
    garbled = post(client, f"/console/batch/{batch_id}/send", when="later", at="tomorrow")
    assert garbled.status_code == 400 and "must look like" in garbled.text
    later = (pigeon.now() + timedelta(days=1)).astimezone(zone)
    scheduled = post(client, f"/console/batch/{batch_id}/send", when="later",
                     at=later.strftime("%Y-%m-%dT%H:%M"))
    assert scheduled.status_code == 303
    page = client.get(f"/console/batch/{batch_id}").text
    shown = format_datetime(later.replace(second=0, microsecond=0), "medium", locale="en_US")
    assert shown in page and "Cancel the batch" in page
    assert asyncio.run(send_batches(pigeon)) == 0  # not due yet
    cancelled = post(client, f"/console/batch/{batch_id}/cancel")
    assert cancelled.status_code == 303
    shown = client.get(f"/console/batch/{batch_id}/progress.json").json()
    assert (shown["status"], shown["cancelled"], shown["sent"]) == ("cancelled", 3, 0)


def test_another_tenants_batch_answers_404(pigeon, sender, client, server, other_tenant):
    batch_id = batch_id_of(upload(client, sender, LIST))
    add_user(pigeon, other_tenant.account_id, "dev@other.example")
    with httpx.Client(base_url=server.url, timeout=30) as other:
        sign_in(other, "dev@other.example")
        for path in (f"/console/batch/{batch_id}", f"/console/batch/{batch_id}/progress.json",
                     f"/console/batch/{batch_id}/results.csv",
                     f"/console/batch/sample.csv?template={sender.notice}"):
            assert other.get(path).status_code == 404, path
        token = csrf_of(other, "/console/batch")
        for path in (f"/console/batch/{batch_id}/send", f"/console/batch/{batch_id}/cancel"):
            assert other.post(path, data={"csrf": token, "when": "now"}).status_code == 404
        assert f'data-batch="{batch_id}"' not in other.get("/console/batch").text
    assert pigeon.db.read_sync(batches.get, sender.account_id, batch_id)["status"] == "draft"
