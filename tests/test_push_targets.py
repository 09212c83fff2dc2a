"""PIGEON_PUSH_TARGETS=public: pushes reach public addresses only, judged on the address
connected to — real sockets against a local receiver (every local address is private, which
is what the refusals need; the allowed path is shown by a guard told to allow loopback)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from pigeon import push_targets
from pigeon.core.errors import PigeonError
from pigeon.services import accounts, reports, review
from pigeon.workers.reporter import Reporter

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::7f00:1", "ff02::1", "not an address"])
def test_private_and_special_addresses_are_not_public(address):
    assert not push_targets.is_public(address)


@pytest.mark.parametrize("address", ["8.8.8.8", "47.96.1.1", "2001:4860:4860::8888",
                                     "::ffff:8.8.8.8", "64:ff9b::808:808"])
def test_routable_addresses_are_public(address):
    assert push_targets.is_public(address)


def test_address_literals_are_refused_when_set_only_under_public():
    for url in ("http://127.0.0.1:9000/r", "http://[::1]/r", "https://10.0.0.5/admin",
                "http://localhost:8000/", "http://api.localhost/"):
        assert push_targets.literal_refusal(url, "public"), url
        assert push_targets.literal_refusal(url, "any") is None
    assert push_targets.literal_refusal("https://8.8.8.8/r", "public") is None
    assert push_targets.literal_refusal("https://reports.example.com/r", "public") is None


def test_the_guard_is_installed_where_httpx_connects():
    client = push_targets.client("public")
    try:
        backend = client._transport._pool._network_backend
        assert isinstance(backend, push_targets.GuardedBackend)
    finally:
        asyncio.run(client.aclose())


def _post(client: httpx.AsyncClient, url: str):
    async def go():
        async with client:
            return await client.post(url, json=[{"x": 1}])

    return asyncio.run(go())


def test_a_name_resolving_to_loopback_is_refused_before_any_byte_is_sent(receiver):
    url = f"http://localhost:{receiver.port}/sms/report"  # a name: judged at connect time
    with pytest.raises(httpx.ConnectError, match="not a public address"):
        _post(push_targets.client("public"), url)
    assert receiver.received == []
    assert _post(push_targets.client("any"), url).status_code == 200
    assert len(receiver.received) == 1


def test_the_guard_connects_to_the_checked_address_when_allowed(receiver):
    transport = httpx.AsyncHTTPTransport()
    transport._pool._network_backend = push_targets.GuardedBackend(
        allowed=lambda address: address == "127.0.0.1")
    answer = _post(httpx.AsyncClient(transport=transport),
                   f"http://localhost:{receiver.port}/sms/report")
    assert answer.status_code == 200 and len(receiver.received) == 1


def test_a_report_url_with_a_private_address_is_refused_when_set(pigeon):
    account_id = int(pigeon.db.write_sync(accounts.create_account, "Lark", NOW)["AccountId"])
    with pytest.raises(PigeonError) as refused:
        pigeon.db.write_sync(reports.set_mode, account_id, "SmsReport", "http",
                             "http://169.254.169.254/latest/meta-data", NOW, "public")
    assert refused.value.code == "isv.INVALID_PARAMETERS"
    assert "not a public address" in refused.value.message
    # The same URL is fine on a developer's machine (the default).
    pigeon.db.write_sync(reports.set_mode, account_id, "SmsReport", "http",
                         "http://169.254.169.254/latest/meta-data", NOW)


def test_the_report_worker_under_public_records_the_refusal_and_sends_nothing(pigeon, receiver):
    account_id = int(pigeon.db.write_sync(accounts.create_account, "Lark", NOW)["AccountId"])
    # Set under "any" (as before the operator switched to "public"), pushed under "public".
    pigeon.db.write_sync(reports.set_mode, account_id, "SignSmsReport", "http",
                         f"http://localhost:{receiver.port}/sms/report", NOW)
    pigeon.db.write_sync(review.emit_report, account_id, "SignSmsReport",
                         {"sign_name": "云雀科技", "sign_status": "approved"}, NOW)
    loop = asyncio.new_event_loop()
    worker = Reporter(pigeon.db, schedule=(timedelta(minutes=1),), targets="public")
    try:
        loop.run_until_complete(worker.run_pass(NOW))
    finally:
        loop.run_until_complete(worker.aclose())
        loop.close()
    assert receiver.received == []
    [attempt] = pigeon.db.read_sync(reports.recent_attempts, account_id)
    assert not attempt["ok"] and "not a public address" in attempt["error"]


def test_an_alert_webhook_under_public_is_undelivered_and_nothing_is_sent(pigeon, receiver,
                                                                         monkeypatch):
    from dataclasses import replace

    from pigeon.alerts.channels import Context, SmtpSettings, Undelivered, post_json
    from pigeon.workers.alerts import Evaluator

    monkeypatch.setattr(pigeon, "settings", replace(pigeon.settings, push_targets="public"))
    evaluator = Evaluator.for_pigeon(pigeon)  # the alert worker's client follows the setting
    assert isinstance(evaluator.http._transport._pool._network_backend,
                      push_targets.GuardedBackend)

    async def post():
        async with push_targets.client("public") as http:
            ctx = Context(http=http, smtp=SmtpSettings(host="127.0.0.1"), db=pigeon.db,
                          now=NOW)
            await post_json(ctx, f"http://localhost:{receiver.port}/hook", b"{}", {})

    with pytest.raises(Undelivered, match="not a public address"):
        asyncio.run(post())
    assert receiver.received == []
    asyncio.run(evaluator.aclose())
