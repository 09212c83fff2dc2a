"""``/metrics``, ``/healthz`` and ``/readyz`` of a running Pigeon: real traffic through the
official SDK and a real SMSC, then a scrape read with Prometheus' own text parser — each
counter moved by exactly what was sent."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg
import pytest
from sqlalchemy import func, select

from pigeon.app import Pigeon
from pigeon.config import Secret
from pigeon.services import billing, reports
from pigeon.store.tables import messages, report_events
from tests.api.test_delivery import send
from tests.api.test_smpp_delivery import MOBILE, add_connector, add_route, closed_port
from tests.support.scrape import TOKEN, scrape, total, value
from tests.support.sdk import CoreClient, tea_client
from tests.support.sending import ready_to_send
from tests.support.server import LiveServer
from tests.support.smsc_thread import BackgroundSmsc
from tests.support.waiting import wait_until

OTHER = "13900139000"


@pytest.fixture
def start(settings):
    """A Pigeon with its workers, the metrics token set, started after ``setup(pigeon)``."""
    started = []

    def start_with(setup=lambda pigeon: None, **changes):
        pigeon = Pigeon(replace(settings, simulator_delay=timedelta(milliseconds=50),
                                metrics_token=Secret(TOKEN), **changes))
        setup(pigeon)
        live = LiveServer(pigeon, workers=True).start()
        started.append((pigeon, live))
        return pigeon, live

    yield start_with
    for pigeon, live in started:
        live.stop()
        pigeon.close()


def settled(pigeon) -> None:
    """Until no message and no report is on its way (what the setup sent has finished)."""
    def quiet():
        def count(conn):
            moving = conn.scalar(select(func.count()).select_from(messages).where(
                messages.c.status.in_(("queued", "sending", "sent"))))
            pending = conn.scalar(select(func.count()).select_from(report_events).where(
                report_events.c.state == "pending"))
            return moving + pending
        return pigeon.db.read_sync(count) == 0

    wait_until(quiet, timeout=30, what="every message and report to settle")


def moved(before: dict, after: dict, name: str, **labels) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_the_counters_move_by_exactly_what_the_sdk_sent(start, tenant, receiver):
    pigeon, live = start()
    core, sdk = CoreClient(live.endpoint, tenant), tea_client(live.endpoint, tenant)
    sender = ready_to_send(pigeon, core, tenant.account_id)
    pigeon.db.write_sync(reports.set_mode, tenant.account_id, "SmsReport", "http",
                         receiver.url, pigeon.now())
    settled(pigeon)
    before = scrape(live.url)

    biz_ids = [send(sdk, phone, sender.sign, sender.notice, '{"order":"20270301"}')
               for phone in (MOBILE, OTHER, MOBILE)]
    batch = core.common("SendBatchSms", {
        "PhoneNumberJson": f'["{MOBILE}","{OTHER}"]',
        "SignNameJson": f'["{sender.sign}","{sender.sign}"]',
        "TemplateCode": sender.notice,
        "TemplateParamJson": '[{"order":"1"},{"order":"2"}]'})
    assert batch["Code"] == "OK", batch
    # One refused for want of money: this tenant's notifications now cost more than it has.
    pigeon.db.write_sync(billing.set_price, 1, 10_000_000, tenant.account_id)
    refused = core.common("SendSms", {"PhoneNumbers": MOBILE, "SignName": sender.sign,
                                      "TemplateCode": sender.notice,
                                      "TemplateParam": '{"order":"3"}'})
    assert refused["Code"] == "isv.AMOUNT_NOT_ENOUGH", refused
    settled(pigeon)
    wait_until(lambda: len(receiver.acknowledged_reports) >= 5, what="five reports pushed")
    after = scrape(live.url)

    assert len(biz_ids) == 3
    assert moved(before, after, "pigeon_api_requests_total", action="SendSms", code="OK") == 3
    assert moved(before, after, "pigeon_api_requests_total", action="SendBatchSms",
                 code="OK") == 1
    assert moved(before, after, "pigeon_api_requests_total", action="SendSms",
                 code="isv.AMOUNT_NOT_ENOUGH") == 1
    assert moved(before, after, "pigeon_balance_refusals_total", action="SendSms") == 1
    assert moved(before, after, "pigeon_api_request_duration_seconds_count",
                 action="SendSms") == 4
    assert moved(before, after, "pigeon_messages_accepted_total",
                 template_type="notification") == 5
    assert moved(before, after, "pigeon_messages_sent_total", connector="simulator",
                 template_type="notification") == 5
    assert moved(before, after, "pigeon_messages_delivered_total", connector="simulator",
                 template_type="notification") == 5
    assert total(after, "pigeon_messages_failed_total") == \
        total(before, "pigeon_messages_failed_total")
    assert moved(before, after, "pigeon_report_delivery_lag_seconds_count",
                 type="SmsReport") == 5
    assert moved(before, after, "pigeon_report_pushes_total", type="SmsReport",
                 outcome="acknowledged") >= 1
    assert total(after, "pigeon_db_commit_seconds_count") > \
        total(before, "pigeon_db_commit_seconds_count")
    # The cluster-wide gauges, read from the database at the scrape.
    assert value(after, "pigeon_backlog_messages", state="queued") == 0
    assert value(after, "pigeon_backlog_messages", state="report") == 0
    # (each dispatcher publishes its connectors' state every two seconds)
    wait_until(lambda: value(scrape(live.url), "pigeon_connector_up", connector="simulator"),
               what="the simulator's state published")


def test_smpp_traffic_moves_the_connector_counters(start, tenant):
    with BackgroundSmsc() as smsc:
        def setup(pigeon):
            add_connector(pigeon, "smsc-a", smsc.port, window=7)
            add_route(pigeon, "smsc-a", carrier="mobile")

        pigeon, live = start(setup)
        core, sdk = CoreClient(live.endpoint, tenant), tea_client(live.endpoint, tenant)
        sender = ready_to_send(pigeon, core, tenant.account_id)
        settled(pigeon)
        before = scrape(live.url)
        for order in ("1", "2"):
            send(sdk, MOBILE, sender.sign, sender.notice, f'{{"order":"{order}"}}')
        settled(pigeon)
        # The live gauges come from the state each dispatcher publishes every two seconds.
        after = wait_until(lambda: (s := scrape(live.url)) and value(
            s, "pigeon_connector_up", connector="smsc-a") and s, what="smsc-a published up")

    assert moved(before, after, "pigeon_connector_submits_total", connector="smsc-a") == 2
    assert moved(before, after, "pigeon_messages_sent_total", connector="smsc-a",
                 template_type="notification") == 2
    assert moved(before, after, "pigeon_messages_delivered_total", connector="smsc-a",
                 template_type="notification") == 2
    assert value(after, "pigeon_connector_binds", connector="smsc-a") == 1
    assert value(after, "pigeon_connector_binds_up", connector="smsc-a") == 1
    assert value(after, "pigeon_connector_window_size", connector="smsc-a") == 7
    assert value(after, "pigeon_connector_window_in_use", connector="smsc-a") == 0


def test_metrics_need_the_token_and_are_hidden_without_one(pigeon, server):
    assert httpx.get(server.url + "/metrics").status_code == 404  # no PIGEON_METRICS_TOKEN
    guarded = Pigeon(replace(pigeon.settings, metrics_token=Secret(TOKEN)))
    live = LiveServer(guarded).start()
    try:
        assert httpx.get(live.url + "/metrics").status_code == 401
        wrong = httpx.get(live.url + "/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert "pigeon_api_requests_total" in httpx.get(
            live.url + "/metrics", headers={"Authorization": f"Bearer {TOKEN}"}).text
    finally:
        live.stop()
        guarded.close()


def readyz(live) -> httpx.Response:
    return httpx.get(live.url + "/readyz", timeout=10)


def test_healthz_answers_and_readyz_waits_for_the_workers(start):
    pigeon, live = start()
    health = httpx.get(live.url + "/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    answer = wait_until(lambda: (r := readyz(live)).status_code == 200 and r,
                        what="/readyz to say ready")
    assert answer.json() == {"status": "ready",
                             "checks": {"database": "ok", "migrations": "ok", "workers": "ok"},
                             "connectors": {"simulator": "up"}}


def test_readyz_fails_while_a_configured_connector_is_down(start):
    pigeon, live = start(lambda p: add_connector(p, "smsc-down", closed_port()))
    answer = wait_until(lambda: (r := readyz(live)).json()["connectors"].get(
        "smsc-down") == "down" and r, what="the connector reported down")
    assert answer.status_code == 503
    assert answer.json()["status"] == "not ready"
    assert answer.json()["connectors"]["simulator"] == "up"


def test_readyz_fails_when_the_database_is_unreachable(start, postgres):
    pigeon, live = start()
    wait_until(lambda: readyz(live).status_code == 200, what="/readyz to say ready")
    url = pigeon.database_url
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        shutil.move(path, path.with_suffix(".gone"))
        path.mkdir()  # no database can be opened there
    else:
        name = url.split("?")[0].rsplit("/", 1)[1]
        with psycopg.connect(postgres.admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    pigeon.db.read_engine.dispose()
    answer = readyz(live)
    assert answer.status_code == 503
    assert answer.json()["status"] == "not ready"
    assert answer.json()["checks"]["database"].startswith("unreachable")
