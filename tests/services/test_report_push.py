"""HTTP push of reports to a tenant's endpoint: a real local receiver, passes driven with an
explicit ``now`` (time travel, never sleeping through the retry schedule)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from pigeon.services import accounts, delivery, reports, review, simulator
from pigeon.store.tables import messages, queue_messages, report_attempts, signatures
from pigeon.workers.reporter import Reporter
from tests.conftest import TEST_SECRET_KEY
from tests.support import workflow
from tests.support.receiver import Receiver
from tests.support.waiting import DEADLINE, eventually, wait_until

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai, a Monday
SCHEDULE = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=10))
SECOND = timedelta(seconds=1)
LOCAL_TIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")


class Passes:
    """A reporter on its own event loop; ``passes(now)`` runs one pass at ``now``."""

    def __init__(self, pigeon, **options) -> None:
        self.loop = asyncio.new_event_loop()
        options = {"schedule": SCHEDULE, "timeout": timedelta(seconds=0.5), "batch": 100,
                   "concurrency": 8, "lease": timedelta(minutes=1)} | options
        self.reporter = Reporter(pigeon.db, **options)

    def __call__(self, now: datetime):
        return self.loop.run_until_complete(self.reporter.run_pass(now))

    def run(self, coro):
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.loop.run_until_complete(self.reporter.aclose())
        self.loop.close()


@pytest.fixture
def passes(pigeon):
    made = Passes(pigeon)
    yield made
    made.close()


@pytest.fixture
def account_id(pigeon) -> int:
    return int(pigeon.db.write_sync(accounts.create_account, "Lark Technology", NOW)["AccountId"])


def set_mode(pigeon, account_id, report_type, mode, url=None):
    return pigeon.db.write_sync(reports.set_mode, account_id, report_type, mode, url, NOW)


def sms_report(index: int, zone) -> dict:
    """An SmsReport payload as the delivery service builds it."""
    return delivery.report_payload({
        "id": 1000 + index, "status": "delivered", "phone": f"1380013{index:04d}",
        "sent_at": NOW, "created_at": NOW, "done_at": NOW, "err_code": "DELIVERED",
        "err_msg": None, "segments": 1, "biz_id": f"{index:018d}^0", "out_id": f"order-{index}",
        "sign_name": "云雀科技", "template_code": "SMS_1"}, zone)


def emit(pigeon, account_id, count=1, report_type="SmsReport", at=NOW) -> None:
    zone = pigeon.settings.timezone

    def work(conn):
        for index in range(count):
            payload = sms_report(index, zone) if report_type == "SmsReport" else {
                "sign_name": f"签名{index}", "sign_status": "approved", "reason": "",
                "orderId": str(index), "remark": "", "sign_source": "企事业单位的全称或简称",
                "sign_scene": "通用", "create_date": "2027-03-01 10:00:00"}
            review.emit_report(conn, account_id, report_type, payload, at)

    pigeon.db.write_sync(work)


def events(pigeon, account_id) -> list[dict]:
    return pigeon.db.read_sync(reports.queued, account_id)


def states(pigeon, account_id) -> list[str]:
    return [e["state"] for e in events(pigeon, account_id)]


def attempts(pigeon, account_id) -> list[dict]:
    return pigeon.db.read_sync(lambda conn: [dict(r) for r in conn.execute(
        select(report_attempts).where(report_attempts.c.account_id == account_id)
        .order_by(report_attempts.c.id)).mappings()])


# -- the documented shapes ---------------------------------------------------------------------

def _message(conn, account_id: int, phone: str, out_id: str | None) -> int:
    return conn.execute(insert(messages).values(
        biz_id="123456789012345678^0", account_id=account_id, phone=phone, country_code=86,
        carrier="mobile", signature_id=1, sign_name="云雀科技", template_id=1,
        template_code="SMS_100001", template_type=0, content="【云雀科技】您的验证码为123456",
        segments=2, encoding="mainland", extend_code="1234", out_id=out_id, status="sent",
        attempts=1, price=45, charged=True, created_at=NOW, sent_at=NOW + SECOND,
        connector="simulator", carrier_message_id="x")).inserted_primary_key[0]


def test_a_receiver_that_acknowledges_gets_every_report_in_the_documented_shape(
        pigeon, server, tenant, core_sdk, passes, receiver):
    for report_type in reports.TYPES:
        set_mode(pigeon, tenant.account_id, report_type, "http", receiver.url)
    # Review results, from the tenant's own workflow through the official SDK.
    qualification = workflow.approved_qualification(core_sdk, pigeon)
    assert workflow.create_signature(core_sdk, qualification)["Code"] == "OK"
    assert workflow.create_template(core_sdk, "云雀科技")["Code"] == "OK"
    zone = pigeon.settings.timezone

    def produce(conn):
        # Delivery reports and a reply (MO), from the services that make them.
        delivered = _message(conn, tenant.account_id, "13800138000", "order-1")
        lost = _message(conn, tenant.account_id, "13800138001", None)
        delivery.finish(conn, delivered, delivered=True, err_code="DELIVERED", err_msg=None,
                        zone=zone, now=NOW + 3 * SECOND)
        delivery.finish(conn, lost, delivered=False, err_code="MK:0012", err_msg="用户停机",
                        zone=zone, now=NOW + 3 * SECOND)
        code = conn.scalar(select(signatures.c.extension_code)
                           .where(signatures.c.account_id == tenant.account_id))
        simulator.reply(conn, "13800138000", "好的，收到", code, zone, NOW + 5 * SECOND)

    pigeon.db.write_sync(produce)
    result = passes(NOW + 10 * SECOND)

    assert result.delivered == 5
    assert set(states(pigeon, tenant.account_id)) == {"delivered"}
    by_type = {}
    for request in receiver.received:
        assert request.path == "/sms/report"
        assert request.headers["Content-Type"] == "application/json; charset=utf-8"
        # UTF-8 text, not \\u escapes
        assert b"\\u" not in request.body and request.body.decode("utf-8").isprintable()
        body = request.json
        assert isinstance(body, list) and body
        for report in body:
            by_type.setdefault(_type_of(report), []).append(report)

    ok, failed = sorted(by_type["SmsReport"], key=lambda r: r["phone_number"])
    expected_keys = {"phone_number", "send_time", "report_time", "success", "err_code",
                     "err_msg", "sms_size", "biz_id", "out_id", "message_id", "sign_name",
                     "template_code", "report_id"}
    assert set(ok) == set(failed) == expected_keys
    assert ok["success"] is True and failed["success"] is False
    assert (ok["err_code"], ok["err_msg"]) == ("DELIVERED", "用户接收成功")
    assert (failed["err_code"], failed["err_msg"]) == ("MK:0012", "用户停机")
    assert ok["sms_size"] == "2" and ok["biz_id"] == "123456789012345678^0"
    assert ok["out_id"] == "order-1" and failed["out_id"] == ""
    assert ok["send_time"] == "2027-03-01 10:00:01" and ok["report_time"] == "2027-03-01 10:00:03"
    for key in expected_keys - {"success"}:
        assert isinstance(ok[key], str), key

    (up,) = by_type["SmsUp"]
    assert set(up) == {"phone_number", "content", "send_time", "dest_code", "sequence_id",
                       "sign_name", "report_id"}
    assert all(isinstance(value, str) for value in up.values())
    assert (up["phone_number"], up["content"], up["sign_name"]) == \
        ("13800138000", "好的，收到", "云雀科技")
    assert LOCAL_TIME.match(up["send_time"])

    (sign,) = by_type["SignSmsReport"]
    assert set(sign) == {"sign_name", "sign_status", "reason", "orderId", "remark",
                         "sign_source", "sign_scene", "create_date", "report_id"}
    assert all(isinstance(value, str) for value in sign.values())
    assert (sign["sign_name"], sign["sign_status"]) == ("云雀科技", "approved")
    assert sign["orderId"].isdigit() and LOCAL_TIME.match(sign["create_date"])

    (template,) = by_type["TemplateSmsReport"]
    assert set(template) == {"template_code", "template_name", "template_type",
                             "template_content", "template_status", "reason", "orderId",
                             "remark", "create_date", "report_id"}
    assert all(isinstance(value, str) for value in template.values())
    assert template["template_status"] == "approved" and template["template_type"] == "验证码"

    # Review results travel one per request; every report carries its own stable id.
    assert sorted(len(r.json) for r in receiver.received
                  if _type_of(r.json[0]) in ("SignSmsReport", "TemplateSmsReport")) == [1, 1]
    ids = [r["report_id"] for r in receiver.reports]
    assert len(set(ids)) == 5 and all(i.isdigit() for i in ids)


def _type_of(report: dict) -> str:
    if "sign_status" in report:
        return "SignSmsReport"
    if "template_status" in report:
        return "TemplateSmsReport"
    return "SmsReport" if "err_code" in report else "SmsUp"


# -- batching and routing ----------------------------------------------------------------------

def test_many_reports_are_merged_into_few_requests_and_reviews_go_one_by_one(
        pigeon, account_id, passes, receiver):
    set_mode(pigeon, account_id, "SmsReport", "http", receiver.url)
    set_mode(pigeon, account_id, "SignSmsReport", "http", receiver.url)
    emit(pigeon, account_id, 250)
    emit(pigeon, account_id, 3, "SignSmsReport")

    result = passes(NOW)

    sizes = sorted(len(r.json) for r in receiver.received)
    assert sizes == [1, 1, 1, 50, 100, 100]
    assert result.pushes == 6 and result.delivered == 253
    assert set(states(pigeon, account_id)) == {"delivered"}
    # Each request carries the oldest waiting reports, in order; no report twice.
    sms = [[int(r["report_id"]) for r in request.json] for request in receiver.received
           if "err_code" in request.json[0]]
    assert all(ids == sorted(ids) for ids in sms)
    assert sorted(i for ids in sms for i in ids) == \
        [e["id"] for e in events(pigeon, account_id) if e["type"] == "SmsReport"]
    assert sorted(a["reports"] for a in attempts(pigeon, account_id)
                  if a["type"] == "SmsReport") == [50, 100, 100]
    assert passes(NOW + SECOND).pushes == 0  # delivered is done


def test_reports_of_a_type_that_is_off_or_never_set_are_skipped(
        pigeon, account_id, passes, receiver):
    set_mode(pigeon, account_id, "SmsReport", "off")
    emit(pigeon, account_id, 3)
    emit(pigeon, account_id, 2, "SignSmsReport")  # never configured

    result = passes(NOW)

    assert states(pigeon, account_id) == ["skipped"] * 5
    assert result.routed == 5 and receiver.received == []


def test_reports_in_queue_mode_go_into_the_tenants_queue(pigeon, account_id, passes, receiver):
    set_mode(pigeon, account_id, "SmsReport", "queue")
    set_mode(pigeon, account_id, "SignSmsReport", "queue")
    emit(pigeon, account_id, 3)
    emit(pigeon, account_id, 1, "SignSmsReport")

    passes(NOW)

    assert states(pigeon, account_id) == ["queued"] * 4
    assert receiver.received == []
    rows = pigeon.db.read_sync(lambda conn: conn.execute(
        select(queue_messages.c.queue, queue_messages.c.body)
        .order_by(queue_messages.c.id)).all())
    assert [q for q, _body in rows] == [f"Alicom-Queue-{account_id}-SmsReport"] * 3 + \
        [f"Alicom-Queue-{account_id}-SignSmsReport"]
    import json

    bodies = [json.loads(body) for _q, body in rows]
    ids = [str(e["id"]) for e in events(pigeon, account_id)]
    assert [b["report_id"] for b in bodies] == ids
    assert bodies[3]["order_id"] == "0" and "orderId" not in bodies[3]  # the queue's shape
    assert bodies[0]["sms_size"] == "1"


def test_a_setting_change_applies_to_reports_not_yet_delivered(
        pigeon, account_id, passes, receiver):
    set_mode(pigeon, account_id, "SmsReport", "http", receiver.url)
    receiver.mode = "error"
    emit(pigeon, account_id, 2)
    passes(NOW)
    set_mode(pigeon, account_id, "SmsReport", "queue")

    passes(NOW + timedelta(minutes=1, seconds=1))

    assert states(pigeon, account_id) == ["queued", "queued"]
    assert len(receiver.received) == 1


# -- acknowledgement and retries ---------------------------------------------------------------

@pytest.mark.parametrize("mode, error", [
    ("error", "HTTP 500"),
    ("string_code", 'HTTP 200 but the answer has no numeric "code": {"code":"0","msg":"ok"}'),
    ("not_json", "HTTP 200 but the answer is not JSON: OK"),
    ("hang", "no answer within 0.5s"),
])
def test_an_unacknowledged_push_is_retried_after_1_5_and_10_minutes_then_kept_as_failed(
        pigeon, account_id, passes, receiver, mode, error):
    set_mode(pigeon, account_id, "SmsReport", "http", receiver.url)
    receiver.mode = mode
    emit(pigeon, account_id, 2)

    t = NOW
    assert passes(t).pushes == 1
    for wait in SCHEDULE:
        event = events(pigeon, account_id)[0]
        assert event["state"] == "pending" and event["last_error"] == error
        # Not a moment before the retry is due …
        assert passes(t + wait - SECOND).pushes == 0
        # … and at once when it is.
        t = event["next_attempt_at"]
        assert passes(t).pushes == 1
    assert len(receiver.received) == 4
    assert all(len(r.json) == 2 for r in receiver.received)  # the same two, every time
    assert len({tuple(x["report_id"] for x in r.json) for r in receiver.received}) == 1

    failed = events(pigeon, account_id)
    assert [(e["state"], e["attempts"], e["last_error"]) for e in failed] == \
        [("failed", 4, error)] * 2
    assert passes(t + timedelta(days=1)).pushes == 0  # kept, never pushed again by itself
    tried = attempts(pigeon, account_id)
    assert [(a["ok"], a["reports"], a["error"]) for a in tried] == [(False, 2, error)] * 4
    assert [a["status_code"] for a in tried] == \
        [{"error": 500, "hang": None}.get(mode, 200)] * 4
    shown = pigeon.db.read_sync(reports.failed, account_id)
    assert [f["report_id"] for f in shown] == [str(e["id"]) for e in reversed(failed)]


def test_the_intervals_are_counted_from_each_failed_attempt(pigeon, account_id, passes,
                                                            receiver):
    set_mode(pigeon, account_id, "SmsReport", "http", receiver.url)
    receiver.mode = "error"
    emit(pigeon, account_id)
    passes(NOW)
    late = NOW + timedelta(minutes=3)  # the worker was busy: the first retry runs late
    passes(late)
    event = events(pigeon, account_id)[0]
    assert event["attempts"] == 2
    assert event["next_attempt_at"] - late - timedelta(minutes=5) < SECOND


def test_a_longer_schedule_from_the_operator_is_followed(pigeon, account_id, receiver):
    longer = Passes(pigeon, schedule=(timedelta(minutes=1), timedelta(hours=1)))
    try:
        set_mode(pigeon, account_id, "SmsReport", "http", receiver.url)
        receiver.mode = "error"
        emit(pigeon, account_id)
        longer(NOW)
        longer(NOW + timedelta(minutes=1, seconds=1))
        assert longer(NOW + timedelta(minutes=59)).pushes == 0
        assert longer(NOW + timedelta(hours=1, minutes=2)).pushes == 1
        assert states(pigeon, account_id) == ["failed"]
    finally:
        longer.close()


def test_an_endpoint_that_is_down_and_comes_back_loses_nothing(pigeon, account_id, passes,
                                                               receiver):
    set_mode(pigeon, account_id, "SmsReport", "http", receiver.url)
    receiver.down()
    emit(pigeon, account_id, 3)
    assert passes(NOW).pushes == 1
    assert "ConnectError" in events(pigeon, account_id)[0]["last_error"]

    # More reports arrive during the outage.  The worker rests until the first retry is due
    # instead of knocking on a dead endpoint every pass.
    emit(pigeon, account_id, 2, at=NOW + timedelta(seconds=20))
    assert passes(NOW + timedelta(seconds=30)).pushes == 0
    assert passes(NOW + timedelta(minutes=1, seconds=1)).pushes == 1  # still down
    receiver.up()
    assert passes(NOW + timedelta(minutes=6, seconds=2)).delivered == 5

    assert states(pigeon, account_id) == ["delivered"] * 5
    assert sorted(int(r["report_id"]) for r in receiver.reports) == \
        [e["id"] for e in events(pigeon, account_id)]
    # The newer two joined the retry of the first three (one request): three tries each.
    assert [e["attempts"] for e in events(pigeon, account_id)] == [3] * 5


def test_an_endpoint_that_is_down_for_an_hour_keeps_every_report(pigeon, account_id, receiver):
    longer = Passes(pigeon, schedule=(timedelta(minutes=1), timedelta(minutes=5),
                                      timedelta(minutes=10), timedelta(minutes=30),
                                      timedelta(hours=1)))
    try:
        set_mode(pigeon, account_id, "SmsReport", "http", receiver.url)
        receiver.down()
        emit(pigeon, account_id, 4)
        t = NOW
        while t < NOW + timedelta(hours=1):
            longer(t)
            t += timedelta(minutes=1)
        assert set(states(pigeon, account_id)) == {"pending"}
        receiver.up()
        t += timedelta(hours=1)
        longer(t)
        assert states(pigeon, account_id) == ["delivered"] * 4
        assert len(receiver.reports) == 4
    finally:
        longer.close()


def test_operators_push_failed_reports_again_with_a_fresh_schedule(
        pigeon, account_id, passes, receiver):
    set_mode(pigeon, account_id, "SmsReport", "http", receiver.url)
    set_mode(pigeon, account_id, "SmsUp", "http", receiver.url)
    receiver.mode = "error"
    emit(pigeon, account_id, 2)
    t = NOW
    for wait in (timedelta(0), *SCHEDULE):
        t += wait + SECOND
        passes(t)
    assert states(pigeon, account_id) == ["failed", "failed"]

    receiver.mode = "ok"
    assert pigeon.db.write_sync(reports.retry_failed, account_id, "SmsUp", t) == 0
    assert pigeon.db.write_sync(reports.retry_failed, account_id, None, t) == 2
    assert [(e["state"], e["attempts"]) for e in events(pigeon, account_id)] == \
        [("pending", 0)] * 2
    passes(t + timedelta(minutes=1, seconds=1))  # past the worker's rest after the failure
    assert states(pigeon, account_id) == ["delivered", "delivered"]
    assert pigeon.db.read_sync(reports.failed, account_id) == []


# -- durability and concurrency ----------------------------------------------------------------

def test_reports_a_crashed_pass_had_claimed_come_back_after_the_lease(
        pigeon, account_id, passes, receiver):
    set_mode(pigeon, account_id, "SmsReport", "http", receiver.url)
    emit(pigeon, account_id, 3)
    ids = [e["id"] for e in events(pigeon, account_id)]
    # A worker claims them and dies before pushing or recording anything.
    claimed = pigeon.db.write_sync(reports.claim, account_id, "SmsReport", 0, NOW,
                                   NOW + timedelta(minutes=1), 100)
    assert [event_id for event_id, _payload in claimed.events] == ids
    assert pigeon.db.write_sync(reports.claim, account_id, "SmsReport", 0, NOW,
                                NOW + timedelta(minutes=1), 100).events == []  # taken

    assert passes(NOW + timedelta(seconds=59)).pushes == 0
    assert passes(NOW + timedelta(minutes=1)).delivered == 3
    assert states(pigeon, account_id) == ["delivered"] * 3
    assert [e["attempts"] for e in events(pigeon, account_id)] == [1, 1, 1]


def test_two_workers_on_one_database_push_each_report_once(pigeon, account_id, receiver):
    first, second = Passes(pigeon), None
    try:
        second = Reporter(pigeon.db, schedule=SCHEDULE, timeout=timedelta(seconds=2), batch=10)
        set_mode(pigeon, account_id, "SmsReport", "http", receiver.url)
        emit(pigeon, account_id, 300)

        async def both():
            return await asyncio.gather(first.reporter.run_pass(NOW), second.run_pass(NOW))

        first.run(both())
        first.run(both())  # whatever the race left for later
        ids = [r["report_id"] for r in receiver.reports]
        assert len(ids) == 300 and len(set(ids)) == 300
        assert set(states(pigeon, account_id)) == {"delivered"}
    finally:
        if second is not None:
            first.run(second.aclose())
        first.close()


async def _until_cancelled(task: asyncio.Task) -> None:
    """Cancel ``task`` and wait for it; an exception it ended with is raised, not dropped."""
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


def test_a_hanging_endpoint_does_not_hold_up_other_tenants(pigeon, account_id, receiver):
    other = int(pigeon.db.write_sync(accounts.create_account, "Other", NOW)["AccountId"])
    hanging = Receiver("hang").up()  # holds the request until it is taken down
    # The hanging push would time out only after two minutes: the other tenant's reports can
    # arrive before that only if the hanging push does not hold them up.
    worker = Passes(pigeon, timeout=timedelta(minutes=2))
    try:
        set_mode(pigeon, account_id, "SmsReport", "http", hanging.url)
        set_mode(pigeon, other, "SmsReport", "http", receiver.url)
        emit(pigeon, account_id, 1)

        async def scenario():
            task = asyncio.create_task(worker.reporter.run(lambda: datetime.now(UTC)))
            try:
                await eventually(lambda: hanging.received, what="the hanging push under way")
                for count in (1, 2, 3):  # the other tenant keeps getting its reports
                    await asyncio.to_thread(emit, pigeon, other, 1)
                    await eventually(lambda count=count: len(receiver.received) >= count,
                                     what=f"the other tenant's report {count}")
            finally:
                await _until_cancelled(task)

        worker.run(scenario())
        assert len(receiver.reports) == 3
        # All the while the first tenant's push hung: nothing of it is recorded yet.
        assert len(hanging.received) == 1 and attempts(pigeon, account_id) == []
    finally:
        hanging.down()
        worker.close()


def test_a_large_backlog_does_not_hide_another_tenants_fresh_reports(pigeon, account_id,
                                                                      receiver):
    other = int(pigeon.db.write_sync(accounts.create_account, "Other", NOW)["AccountId"])
    small = Passes(pigeon, scan_window=10)
    try:
        set_mode(pigeon, account_id, "SmsReport", "http", receiver.url)
        set_mode(pigeon, other, "SmsReport", "http", receiver.url)
        emit(pigeon, account_id, 500)  # the backlog
        emit(pigeon, other, 1)  # then one fresh report of another tenant

        result = small(NOW)

        assert result.groups == 2 and result.delivered == 501  # both, in the first pass
    finally:
        small.close()


@pytest.mark.parametrize("window", [0, 1, 2], ids=["oldest new", "newest new", "retries"])
def test_a_pass_reads_each_window_from_the_due_index_without_sorting_it(pigeon, window):
    """What keeps a pass's cost independent of the backlog: each window walks
    ix_report_events_due in its order and stops at its limit."""
    if not pigeon.db.is_sqlite:
        pytest.skip("reads SQLite's query plans")
    import sqlite3

    sql = reports._DUE_WINDOWS[window]
    params = (10,) if window < 2 else ("2027-01-01 00:00:00.000000", 10)
    with sqlite3.connect(pigeon.database_url.removeprefix("sqlite:///")) as raw:
        found = [row[-1] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params)]
    assert any(step.startswith("SEARCH report_events USING INDEX ix_report_events_due (state=?")
               for step in found), found
    assert "USE TEMP B-TREE FOR ORDER BY" not in found, found  # ordered by the index itself


def test_reports_queued_in_the_workers_process_wake_it(pigeon, account_id, receiver,
                                                       monkeypatch):
    from pigeon.workers import reporter as module

    monkeypatch.setattr(module, "POLL_SECONDS", 30.0)  # only a wake-up can be in time
    worker = Passes(pigeon)
    set_mode(pigeon, account_id, "SmsReport", "http", receiver.url)
    # The barrier: a pass ends with its purge.  Once the first has ended (having found
    # nothing), only a wake-up or the poll 30 s later starts another.
    first_pass_over = asyncio.Event()
    purge = worker.reporter.purge_if_due

    async def purge_then_say_so(now):
        purged = await purge(now)
        first_pass_over.set()
        return purged

    worker.reporter.purge_if_due = purge_then_say_so

    async def meanwhile():
        async with asyncio.timeout(DEADLINE):
            await first_pass_over.wait()
        await asyncio.to_thread(emit, pigeon, account_id, 1)
        # Long before the next poll: only the wake-up, sent once the commit is visible, can
        # have started the push (a loaded machine may be slow, but not 20 s slow).
        await eventually(lambda: receiver.received, timeout=20, what="the push the commit woke")

    run_worker_while(worker, meanwhile)


def run_worker_while(worker: Passes, meanwhile) -> None:
    """Run the report worker's own loop (``Reporter.run``) while ``meanwhile()`` runs, then
    stop it and close the worker."""

    async def scenario():
        task = asyncio.create_task(worker.reporter.run(lambda: datetime.now(UTC)))
        try:
            await meanwhile()
        finally:
            await _until_cancelled(task)

    try:
        worker.run(scenario())
    finally:
        worker.close()


def test_passes_are_at_least_a_pass_gap_apart_however_often_woken(pigeon):
    from pigeon.workers import reporter as module

    worker = Passes(pigeon)
    starts: list[float] = []
    start = worker.reporter._start

    async def counted(now, result):
        starts.append(asyncio.get_running_loop().time())
        return await start(now, result)

    worker.reporter._start = counted

    async def wake_every_millisecond():
        began = asyncio.get_running_loop().time()
        while asyncio.get_running_loop().time() - began < 0.5:
            worker.reporter._wake.set()
            await asyncio.sleep(0.001)

    run_worker_while(worker, wake_every_millisecond)
    # Woken ~500 times: a pass each 50 ms at most (a slow machine makes fewer, never more).
    assert 1 <= len(starts) <= 0.5 / module.PASS_GAP + 2
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert all(gap >= module.PASS_GAP * 0.9 for gap in gaps), gaps


def test_every_pushed_request_is_recorded(pigeon, account_id, passes, receiver):
    set_mode(pigeon, account_id, "SmsReport", "http", receiver.url)
    emit(pigeon, account_id, 2)
    passes(NOW)
    receiver.mode = "error"
    emit(pigeon, account_id, 1)
    passes(NOW + SECOND)

    shown = pigeon.db.read_sync(reports.recent_attempts, account_id, "SmsReport", 10)
    assert [(a["ok"], a["status_code"], a["reports"], a["error"], a["url"]) for a in shown] == \
        [(False, 500, 1, "HTTP 500", receiver.url), (True, 200, 2, None, receiver.url)]
    assert all(a["duration_ms"] >= 0 for a in shown)
    delivered = events(pigeon, account_id)[0]
    assert delivered["delivered_at"] is not None and delivered["attempts"] == 1


# -- settings ----------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["ftp://example.com/r", "example.com/report", "http://",
                                 "http://exa mple.com/", "", "http://example.com:http/"])
def test_a_push_url_must_be_http_or_https_with_a_host(pigeon, account_id, url):
    from pigeon.core.errors import PigeonError

    with pytest.raises(PigeonError) as caught:
        set_mode(pigeon, account_id, "SmsReport", "http", url)
    assert caught.value.code == "isv.INVALID_PARAMETERS"


def test_settings_are_per_type_and_shown_with_counts(pigeon, account_id, passes, receiver):
    from pigeon.core.errors import PigeonError

    set_mode(pigeon, account_id, "SmsReport", "http", "https://hooks.example.com/sms")
    set_mode(pigeon, account_id, "SmsReport", "http", receiver.url)
    set_mode(pigeon, account_id, "SmsUp", "queue")
    emit(pigeon, account_id, 2)
    passes(NOW)
    shown = pigeon.db.read_sync(reports.show, account_id)
    assert [(s["type"], s["mode"], s["url"]) for s in shown["settings"]] == [
        ("SmsReport", "http", receiver.url), ("SmsUp", "queue", None),
        ("SignSmsReport", "off", None), ("TemplateSmsReport", "off", None)]
    assert shown["counts"][0] == {"type": "SmsReport", "pending": 0, "delivered": 2,
                                  "queued": 0, "failed": 0, "skipped": 0}
    assert [a["reports"] for a in shown["attempts"]] == [2]
    for bad in [("SmsReport", "email", None), ("VoiceReport", "off", None),
                ("SmsReport", "queue", "http://x.example/")]:
        with pytest.raises(PigeonError):
            set_mode(pigeon, account_id, *bad)
    with pytest.raises(PigeonError) as caught:
        pigeon.db.read_sync(reports.show, 1234567890123456)
    assert caught.value.code == "isv.ACCOUNT_NOT_EXISTS"


# -- end to end --------------------------------------------------------------------------------

@pytest.mark.slow
def test_a_signature_created_with_the_sdk_is_reported_to_the_tenants_endpoint(
        pigeon, tenant, receiver):
    from tests.support.sdk import CoreClient
    from tests.support.server import LiveServer

    set_mode(pigeon, tenant.account_id, "SignSmsReport", "http", receiver.url)
    live = LiveServer(pigeon, workers=True).start()  # the reporter runs as in production
    try:
        core = CoreClient(live.endpoint, tenant)
        qualification = workflow.approved_qualification(core, pigeon)
        created = workflow.create_signature(core, qualification)
        assert created["Code"] == "OK"
        wait_until(lambda: receiver.received, what="the SignSmsReport push")
        (request,) = receiver.received
        (report,) = request.json
        assert (report["sign_name"], report["sign_status"], report["orderId"]) == \
            ("云雀科技", "approved", created["OrderId"])
        wait_until(lambda: states(pigeon, tenant.account_id) == ["delivered"],
                   what="the report recorded as delivered")
    finally:
        live.stop()


@pytest.mark.slow
def test_a_message_sent_with_the_sdk_and_its_reply_are_pushed_to_the_tenant(
        settings, tenant, receiver):
    """SendSms → dispatcher → carrier simulator → receipt → SmsReport push; a handset's reply
    → SmsUp push.  Everything runs as `pigeon serve` runs it."""
    from dataclasses import replace

    from alibabacloud_dysmsapi20170525 import models
    from alibabacloud_tea_util.models import RuntimeOptions

    from pigeon.app import Pigeon
    from tests.support.sdk import CoreClient, tea_client
    from tests.support.sending import ready_to_send
    from tests.support.server import LiveServer

    pigeon = Pigeon(replace(settings, simulator_delay=timedelta(milliseconds=50)))
    live = LiveServer(pigeon, workers=True).start()
    try:
        for report_type in ("SmsReport", "SmsUp"):
            set_mode(pigeon, tenant.account_id, report_type, "http", receiver.url)
        core, sdk = CoreClient(live.endpoint, tenant), tea_client(live.endpoint, tenant)
        sender = ready_to_send(pigeon, core, tenant.account_id)
        answer = sdk.send_sms_with_options(models.SendSmsRequest(
            phone_numbers="13700137000", sign_name=sender.sign, template_code=sender.notice,
            template_param='{"order":"A1024"}', out_id="order-1024"), RuntimeOptions()).body
        assert answer.code == "OK", answer.message
        wait_until(lambda: receiver.acknowledged_reports, what="the SmsReport push")
        (report,) = receiver.acknowledged_reports
        assert (report["biz_id"], report["phone_number"], report["success"],
                report["err_code"], report["out_id"], report["sms_size"]) == \
            (answer.biz_id, "13700137000", True, "DELIVERED", "order-1024", "1")

        code = pigeon.db.read_sync(lambda conn: conn.scalar(
            select(signatures.c.extension_code).where(signatures.c.name == sender.sign)))
        pigeon.db.write_sync(simulator.reply, "13700137000", "收到，谢谢", code,
                             pigeon.settings.timezone, pigeon.now())
        wait_until(lambda: len(receiver.acknowledged_reports) == 2, what="the SmsUp push")
        reply = receiver.acknowledged_reports[1]
        assert (reply["content"], reply["sign_name"], reply["phone_number"]) == \
            ("收到，谢谢", sender.sign, "13700137000")
        wait_until(lambda: [(e["type"], e["state"]) for e in events(pigeon, tenant.account_id)
                            if e["type"] in ("SmsReport", "SmsUp")] ==
                   [("SmsReport", "delivered"), ("SmsUp", "delivered")],
                   what="both reports recorded as delivered")
        assert {e["state"] for e in events(pigeon, tenant.account_id)
                if e["type"] not in ("SmsReport", "SmsUp")} == {"skipped"}  # reviews: off
    finally:
        live.stop()
        pigeon.close()


@pytest.mark.slow
def test_reports_survive_a_killed_server(tmp_path, database_url, receiver):
    """SIGKILL `pigeon serve` while pushes are in flight; after a restart every report
    arrives (at least once)."""
    from pigeon.app import Pigeon
    from pigeon.config import Settings

    env = {**os.environ, "PIGEON_DATA_DIR": str(tmp_path / "data"),
           "PIGEON_DATABASE_URL": database_url, "PIGEON_SECRET_KEY": TEST_SECRET_KEY.reveal(),
           "PIGEON_REPORT_TIMEOUT": "1s", "PIGEON_REPORT_LEASE": "2s",
           "PIGEON_REPORT_BATCH": "10", "PIGEON_LOG_LEVEL": "warning",
           "PIGEON_PORT": str(_free_port())}
    setup = Pigeon(Settings.from_env(env))
    try:
        account_id = int(setup.db.write_sync(accounts.create_account, "Lark", NOW)["AccountId"])
        setup.db.write_sync(reports.set_mode, account_id, "SmsReport", "http", receiver.url, NOW)
        emit(setup, account_id, 100)
    finally:
        setup.close()

    receiver.mode = "hang"
    serve = [sys.executable, "-c", "from pigeon.cli import main; main()", "serve"]
    first = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             cwd=Path(__file__).parents[2])
    try:
        _wait(lambda: receiver.received, first, "a push in flight")
        os.kill(first.pid, signal.SIGKILL)  # a push is in flight: claimed, never recorded
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
    receiver.mode = "ok"

    second = subprocess.Popen(serve, env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, cwd=Path(__file__).parents[2])
    try:
        _wait(lambda: len({r["report_id"] for r in receiver.acknowledged_reports}) >= 100,
              second, "all 100 reports acknowledged")
    finally:
        second.send_signal(signal.SIGTERM)
        try:
            second.wait(15)
        except subprocess.TimeoutExpired:
            second.kill()
    ids = {r["report_id"] for r in receiver.acknowledged_reports}
    assert len(ids) == 100


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait(condition, process: subprocess.Popen, what: str) -> None:
    """:func:`wait_until` ``condition``, failing at once if ``process`` exits."""
    def check():
        if process.poll() is not None:
            raise AssertionError(f"pigeon exited: {process.stderr.read().decode()[-2000:]}")
        return condition()

    wait_until(check, interval=0.05, what=what)
