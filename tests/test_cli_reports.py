"""`pigeon reports`: operators set how tenants receive reports, look at them, push failed ones
again."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import pytest

from pigeon.app import Pigeon
from pigeon.config import Settings
from pigeon.services import review
from pigeon.workers.reporter import Reporter
from tests.support.cli import cli_runner


@pytest.fixture
def cli(tmp_path, database_url):
    return cli_runner(tmp_path / "data", database_url)


@pytest.fixture
def account(cli) -> str:
    return json.loads(cli("account", "create", "Lark Technology", "--json").stdout)["AccountId"]


def _json(result):
    return json.loads(result.stdout)


def test_an_operator_sets_each_report_type_and_sees_the_settings(cli, account, receiver):
    assert _json(cli("reports", "set", account, "SmsReport", "--http", receiver.url,
                     "--json")) | {"updated_at": None} == \
        {"type": "SmsReport", "mode": "http", "url": receiver.url, "updated_at": None}
    cli("reports", "set", account, "SmsUp", "--queue")
    cli("reports", "set", account, "SignSmsReport", "--off")

    shown = _json(cli("reports", "show", account, "--json"))
    assert shown["account_id"] == account
    assert [(s["type"], s["mode"], s["url"]) for s in shown["settings"]] == [
        ("SmsReport", "http", receiver.url), ("SmsUp", "queue", None),
        ("SignSmsReport", "off", None), ("TemplateSmsReport", "off", None)]
    assert shown["counts"][0] == {"type": "SmsReport", "pending": 0, "delivered": 0,
                                  "queued": 0, "failed": 0, "skipped": 0}
    assert shown["attempts"] == []
    text = cli("reports", "show", account).stdout
    assert receiver.url in text and "last push attempts" in text


@pytest.mark.parametrize("args, message", [
    ((), "error: isv.INVALID_PARAMETERS: Give exactly one of --http URL, --queue or --off."),
    (("--queue", "--off"),
     "error: isv.INVALID_PARAMETERS: Give exactly one of --http URL, --queue or --off."),
    (("--http", "ftp://example.com/"),
     "error: isv.INVALID_PARAMETERS: The report URL must be an http:// or https:// URL with a "
     "host, not 'ftp://example.com/'."),
])
def test_a_bad_setting_is_refused_in_one_line(cli, account, args, message):
    result = cli("reports", "set", account, "SmsReport", *args, code=1)
    assert result.stderr.strip() == message


def test_an_unknown_type_or_account_is_refused(cli, account):
    result = cli("reports", "set", account, "VoiceReport", "--off", code=1)
    assert result.stderr.startswith("error: isv.INVALID_PARAMETERS: The report type must be")
    result = cli("reports", "show", "1234567890123456", code=1)
    assert result.stderr.strip() == \
        "error: isv.ACCOUNT_NOT_EXISTS: Account 1234567890123456 does not exist."


def test_failed_reports_are_listed_and_pushed_again(cli, account, receiver):
    account_id = int(account)
    cli("reports", "set", account, "SmsReport", "--http", receiver.url)
    pigeon = Pigeon(Settings.from_env(cli.env))
    receiver.mode = "error"
    try:
        now = pigeon.now()

        def emit(conn):
            for index in range(2):
                review.emit_report(conn, account_id, "SmsReport",
                                   {"phone_number": "13800138000", "biz_id": str(index)}, now)

        pigeon.db.write_sync(emit)

        async def passes(*times):
            reporter = Reporter(pigeon.db, schedule=(timedelta(minutes=1),),
                                timeout=timedelta(seconds=1))
            try:
                for at in times:
                    await reporter.run_pass(at)
            finally:
                await reporter.aclose()

        asyncio.run(passes(now, now + timedelta(minutes=1, seconds=1)))
        failed = _json(cli("reports", "failed", account, "--json"))
        assert [(f["type"], f["attempts"], f["last_error"]) for f in failed] == \
            [("SmsReport", 2, "HTTP 500")] * 2
        assert failed[0]["payload"] == {"phone_number": "13800138000", "biz_id": "1"}
        assert "HTTP 500" in cli("reports", "failed", account).stdout
        shown = _json(cli("reports", "show", account, "--json"))
        assert shown["counts"][0]["failed"] == 2
        assert [(a["ok"], a["status_code"], a["reports"]) for a in shown["attempts"]] == \
            [(False, 500, 2)] * 2

        assert _json(cli("reports", "retry", account, "--type", "SmsUp", "--json"))[
            "requeued"] == 0
        assert _json(cli("reports", "retry", account, "--json")) == \
            {"account_id": account, "type": None, "requeued": 2}
        assert _json(cli("reports", "failed", account, "--json")) == []
        receiver.mode = "ok"
        asyncio.run(passes(now + timedelta(minutes=3)))
        shown = _json(cli("reports", "show", account, "--json"))
        assert shown["counts"][0]["delivered"] == 2
    finally:
        pigeon.close()
