"""The `pigeon` command as operators and scripts use it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from pigeon.cli import app
from tests.support import workflow
from tests.support.cli import cli_runner
from tests.support.sdk import CoreClient, Tenant

DOCS = Path(__file__).parents[1] / "docs" / "cli.md"


@pytest.fixture
def cli(tmp_path, database_url):
    return cli_runner(tmp_path / "data", database_url, PIGEON_REVIEW_MODE="manual")


def _json(result):
    return json.loads(result.stdout)


def test_every_command_is_in_the_cli_reference():
    text = DOCS.read_text()

    def walk(command, prefix):
        # Typer's groups are click groups by behaviour, not always by class: test the shape.
        subcommands = getattr(command, "commands", None)
        if subcommands:
            for name, sub in subcommands.items():
                yield from walk(sub, f"{prefix} {name}")
        else:
            yield prefix

    paths = list(walk(get_command(app), "pigeon"))
    assert len(paths) > 50 and "pigeon user create" in paths  # the walk reached the leaves
    for path in paths:
        assert f"`{path}" in text, f"{path} is missing from docs/cli.md"


def test_accounts_and_keys_round_trip_as_json(cli):
    account = _json(cli("account", "create", "Lark Technology", "--json"))
    assert account["AccountId"].isdigit() and len(account["AccountId"]) == 16
    key = _json(cli("accesskey", "create", account["AccountId"], "--json"))
    assert key["AccessKeyId"].startswith("LTAI5t") and len(key["AccessKeySecret"]) == 30
    listed = _json(cli("accesskey", "list", account["AccountId"], "--json"))
    assert listed == [{"AccessKeyId": key["AccessKeyId"], "Status": "enabled",
                       "CreateDate": listed[0]["CreateDate"]}]
    assert key["AccessKeySecret"] not in cli("accesskey", "list", account["AccountId"]).output
    cli("accesskey", "disable", key["AccessKeyId"])
    assert _json(cli("accesskey", "list", account["AccountId"], "--json"))[0]["Status"] == \
        "disabled"
    names = [a["Name"] for a in _json(cli("account", "list", "--json"))]
    assert names == ["Lark Technology"]


def test_the_secret_is_stored_encrypted(cli, tmp_path, database_url):
    account = _json(cli("account", "create", "Lark", "--json"))
    key = _json(cli("accesskey", "create", account["AccountId"], "--json"))
    if database_url.startswith("sqlite"):
        raw = Path(database_url.removeprefix("sqlite:///")).read_bytes()
        assert key["AccessKeySecret"].encode() not in raw


def test_errors_are_one_line_with_the_code(cli):
    result = cli("accesskey", "create", "1234567890123456", code=1)
    assert result.stderr.strip() == \
        "error: isv.ACCOUNT_NOT_EXISTS: Account 1234567890123456 does not exist."
    result = cli("review", "approve", "template", "SMS_1", code=1)
    assert result.stderr.startswith("error: isv.SMS_TEMPLATE_ILLEGAL:")


def test_a_bad_setting_stops_the_command_with_status_2(cli):
    result = CliRunner().invoke(app, ["account", "list"],
                                env={**cli.env, "PIGEON_REVIEW_MODE": "sometimes"})
    assert result.exit_code == 2
    assert "PIGEON_REVIEW_MODE='sometimes'" in result.stderr


def test_an_operator_reviews_from_the_command_line(cli, tmp_path, database_url):
    from pigeon.app import Pigeon
    from pigeon.config import Settings
    from tests.support.server import LiveServer

    account = _json(cli("account", "create", "Lark", "--json"))
    key = _json(cli("accesskey", "create", account["AccountId"], "--json"))
    tenant = Tenant(int(account["AccountId"]), key["AccessKeyId"], key["AccessKeySecret"])
    pigeon = Pigeon(Settings.from_env(cli.env))
    live = LiveServer(pigeon).start()
    try:
        core = CoreClient(live.endpoint, tenant)
        qualification = workflow.submit_qualification(core, pigeon)["Data"]
        pending = _json(cli("review", "list", "--json"))
        assert [(p["Kind"], p["Name"]) for p in pending] == [("qualification", qualification)]
        decided = _json(cli("review", "approve", "qualification", qualification, "--json"))
        assert decided["Decision"] == "approved" and decided["DecidedBy"].startswith("operator:")

        workflow.create_signature(core, qualification)
        cli("review", "reject", "signature", "云雀科技", "--reason", "签名与企业名称不符")
        sign = core.common("GetSmsSign", {"SignName": "云雀科技"})
        assert sign["SignStatus"] == 2 and sign["AuditInfo"]["RejectInfo"] == "签名与企业名称不符"
        shown = _json(cli("review", "show", "signature", "云雀科技", "--json"))
        assert [h["status"] for h in shown["history"]] == ["rejected"]
        cli("review", "reject", "signature", "云雀科技", "--reason", "again", code=1)

        core.common("UpdateSmsSign", {"SignName": "云雀科技", "SignSource": "0",
                                      "QualificationId": qualification})
        cli("review", "approve", "signature", "云雀科技")
        registered = _json(cli("signature", "register", "云雀科技", "--carrier", "telecom",
                               "--state", "failed", "--reason", "资质不符", "--json"))
        assert {r["Carrier"]: r["RegisterStatus"] for r in registered} == \
            {"mobile": 3, "unicom": 3, "telecom": 0}
        inbox = _json(cli("handset", "inbox", workflow.ADMIN_PHONE, "--json"))
        assert "验证码" in inbox[0]["text"]
    finally:
        live.stop()
        pigeon.close()


def test_an_operator_reviews_a_signature_document_from_the_command_line(cli):
    from pigeon.app import Pigeon
    from pigeon.config import Settings
    from tests.support import documents
    from tests.support.server import LiveServer

    account = _json(cli("account", "create", "Lark", "--json"))
    key = _json(cli("accesskey", "create", account["AccountId"], "--json"))
    tenant = Tenant(int(account["AccountId"]), key["AccessKeyId"], key["AccessKeySecret"])
    pigeon = Pigeon(Settings.from_env(cli.env))
    live = LiveServer(pigeon).start()
    try:
        core = CoreClient(live.endpoint, tenant)
        mark = documents.created(documents.trademark(core, "云雀"))
        pending = _json(cli("review", "list", "--kind", "trademark", "--json"))
        assert [(p["Kind"], p["Name"], p["Summary"]) for p in pending] == \
            [("trademark", str(mark), "云雀")]
        shown = _json(cli("review", "show", "trademark", str(mark), "--json"))
        assert [f["field"] for f in shown["files"]] == ["TrademarkPic"]
        cli("review", "approve", "trademark", str(mark))
        cli("review", "approve", "trademark", "云雀", code=1)  # documents go by their id
        [item] = core.common("QuerySmsTrademark", {"TrademarkIdList": f"[{mark}]"})["Data"]
        assert item["TrademarkName"] == "云雀"
        assert _json(cli("review", "show", "trademark", str(mark), "--json"))["history"][0][
            "status"] == "approved"
    finally:
        live.stop()
        pigeon.close()


def test_the_installed_entry_point_runs(tmp_path):
    env = {**os.environ, "PIGEON_DATA_DIR": str(tmp_path / "data")}
    bin_dir = Path(sys.executable).parent
    result = subprocess.run([str(bin_dir / "pigeon"), "account", "list", "--json"],
                            capture_output=True, text=True, env=env, timeout=60)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []
    assert (tmp_path / "data" / "pigeon.db").exists()


def test_a_handset_user_replies_from_the_command_line(cli):
    from sqlalchemy import insert

    from pigeon.app import Pigeon
    from pigeon.config import Settings
    from pigeon.services import reports
    from pigeon.store.tables import ext_codes, signatures

    account_id = int(_json(cli("account", "create", "Lark Technology", "--json"))["AccountId"])
    pigeon = Pigeon(Settings.from_env(cli.env))

    def signature(conn):
        signature_id = conn.execute(insert(signatures).values(
            account_id=account_id, name="云雀科技", name_key="云雀科技", source=0, sign_type=1,
            status=1, extension_code="1234", created_at=pigeon.now())).inserted_primary_key[0]
        # Replies find a signature by its codes (services/ext_codes.py).
        conn.execute(insert(ext_codes).values(code="1234", account_id=account_id,
                                              signature_id=signature_id, source="auto",
                                              created_at=pigeon.now()))

    try:
        pigeon.db.write_sync(signature)
        # The sender as the inbox shows it (access code 1069 + extension code + 56).
        answer = _json(cli("handset", "reply", "+8613700137000", "收到", "--to", "1069123456",
                           "--json"))
        assert answer["Matched"] and answer["DestCode"] == "123456"
        assert answer["PhoneNumber"] == "13700137000"
        [event] = pigeon.db.read_sync(reports.queued, account_id, "SmsUp")
        assert (event["payload"]["dest_code"], event["payload"]["sign_name"],
                event["payload"]["content"]) == ("123456", "云雀科技", "收到")
    finally:
        pigeon.close()
    assert not _json(cli("handset", "reply", "13700137000", "hi", "--to", "9999", "--json"))[
        "Matched"]
    failed = cli("handset", "reply", "12345", "hi", "--to", "1234", code=1)
    assert failed.stderr.startswith("error: isv.MOBILE_NUMBER_ILLEGAL")


def test_replies_that_match_no_tenant_are_kept_for_operators(cli, tmp_path):
    from pigeon.app import Pigeon
    from pigeon.carriers.base import Inbound
    from pigeon.config import Settings
    from pigeon.services import delivery

    pigeon = Pigeon(Settings.from_env(cli.env))
    try:
        now = pigeon.now()
        pigeon.db.write_sync(delivery.accept_inbound,
                             Inbound(connector="simulator", phone="13800138000",
                                     dest_code="99999", content="TD", received_at=now),
                             pigeon.settings.timezone)
    finally:
        pigeon.close()
    rows = _json(cli("handset", "unmatched", "--json"))
    assert [(r["phone"], r["dest_code"], r["content"]) for r in rows] == \
        [("13800138000", "99999", "TD")]
