"""Every administrative command writes the audit trail: a walk of the whole ``pigeon``
command tree, each command either run here and found in the trail (as the OS user's, from
this host) or named as one that changes no setting; then ``pigeon audit verify`` finds a
modified entry."""

from __future__ import annotations

import getpass
import json

from sqlalchemy import update
from typer.main import get_command

from pigeon.app import Pigeon
from pigeon.cli import app
from pigeon.config import Settings
from pigeon.services import audit
from pigeon.store.tables import audit_entries
from tests.support import workflow
from tests.support.cli import cli_runner
from tests.support.sdk import CoreClient, Tenant
from tests.support.server import LiveServer

# Every command that changes something, and the action its entry names.
AUDITED = {
    "pigeon account create": "account.create",
    "pigeon account suspend": "account.suspend",
    "pigeon account resume": "account.resume",
    "pigeon accesskey create": "accesskey.create",
    "pigeon accesskey disable": "accesskey.disable",
    "pigeon accesskey enable": "accesskey.enable",
    "pigeon user create": "user.create",
    "pigeon review approve": "review.approve",
    "pigeon review reject": "review.reject",
    "pigeon signature register": "signature.register",
    "pigeon reports set": "reports.set",
    "pigeon reports retry": "reports.retry",
    "pigeon billing topup": "balance.topup",
    "pigeon billing package add": "package.add",
    "pigeon billing price set": "price.set",
    "pigeon limits set": "limits.set",
    "pigeon whitelist add": "whitelist.add",
    "pigeon whitelist remove": "whitelist.remove",
    "pigeon testnumber add": "testnumber.add",
    "pigeon testnumber remove": "testnumber.remove",
    "pigeon security allow": "ip_allow_list.allow",
    "pigeon security deny": "ip_allow_list.deny",
    "pigeon connector add": "connector.add",
    "pigeon connector disable": "connector.disable",
    "pigeon connector enable": "connector.enable",
    "pigeon connector remove": "connector.remove",
    "pigeon route add": "route.add",
    "pigeon route remove": "route.remove",
    "pigeon alerts contacts add": "alert.contact.add",
    "pigeon alerts contacts remove": "alert.contact.remove",
    "pigeon alerts channels add": "alert.channel.add",
    "pigeon alerts channels remove": "alert.channel.remove",
    "pigeon alerts rules add": "alert.rule.add",
    "pigeon alerts rules remove": "alert.rule.remove",
    "pigeon alerts protection lift": "protection.lift",
}
# Commands that change no setting, and why.
NOT_CHANGES = {
    "pigeon serve": "runs Pigeon", "pigeon worker": "runs Pigeon",
    "pigeon migrate": "the schema, not a setting", "pigeon keygen": "prints a new key",
    "pigeon send": "sends messages, as SendSms does",
    "pigeon handset reply": "a simulated end user's reply",
    "pigeon alerts evaluate": "runs the alert evaluator now",
    "pigeon alerts channels test": "sends a test notification",
    **{f"pigeon {path}": "reads" for path in (
        "account list", "accesskey list", "user list", "review list", "review show",
        "reports show", "reports failed", "billing show", "limits show", "whitelist list",
        "testnumber list", "security show", "connector list", "route list", "alerts list",
        "alerts platform", "alerts contacts list", "alerts channels list", "alerts rules list",
        "alerts protection list", "handset unmatched", "handset inbox", "audit list",
        "audit verify")},
}


def _leaves(command, prefix):
    subcommands = getattr(command, "commands", None)
    if subcommands:
        for name, sub in subcommands.items():
            yield from _leaves(sub, f"{prefix} {name}")
    else:
        yield prefix


def test_every_command_is_known_as_a_change_or_not():
    leaves = set(_leaves(get_command(app), "pigeon"))
    assert leaves == set(AUDITED) | set(NOT_CHANGES), (
        "a command was added or removed: say whether it changes something (AUDITED, with "
        "its audit action) or not (NOT_CHANGES)")


def test_every_administrative_command_writes_the_audit_trail(tmp_path, database_url):
    cli = cli_runner(tmp_path / "data", database_url, PIGEON_REVIEW_MODE="manual")
    pigeon = Pigeon(Settings.from_env(cli.env))
    covered: set[str] = set()
    me = getpass.getuser()

    def run(path: str, *args, want: str | None = None):
        """Run ``pigeon <path> <args>``; its new entries include its action, all the CLI
        user's.  Returns the command's JSON output (when --json) or None."""
        before = pigeon.db.read_sync(audit.entries, limit=1)
        last = before[0]["seq"] if before else 0
        result = cli(*path.split(), *args)
        new = [e for e in pigeon.db.read_sync(audit.entries, limit=100) if e["seq"] > last]
        action = AUDITED[f"pigeon {path}"]
        assert action in [e["action"] for e in new], (path, [e["action"] for e in new])
        assert {(e["actor_kind"], e["actor"]) for e in new} == {("cli", me)}, new
        covered.add(f"pigeon {path}")
        return json.loads(result.stdout) if "--json" in args else None

    live = LiveServer(pigeon).start()
    try:
        account = run("account create", "Lark Technology", "--json")["AccountId"]
        key = run("accesskey create", account, "--json")
        run("accesskey disable", key["AccessKeyId"])
        run("accesskey enable", key["AccessKeyId"])
        run("account suspend", account)
        run("account resume", account)
        run("user create", "dev@lark.example", "--account", account, "--password",
            "a long enough password")
        run("billing topup", account, "100")
        run("billing package add", account, "--type", "general", "--count", "100",
            "--expires", "2099-12-31")
        run("billing price set", "0.05", "--type", "otp")
        run("limits set", account, "--day-limit", "100")
        run("whitelist add", account, "13800138000")
        run("whitelist remove", account, "13800138000")
        run("testnumber add", account, "13800138001")
        run("testnumber remove", account, "13800138001")
        run("security allow", account, "203.0.113.7")
        run("security deny", account, "203.0.113.7")
        run("connector add", "smsc-a", "--host", "127.0.0.1", "--port", "2775",
            "--system-id", "pigeon", "--password", "secret")
        run("connector disable", "smsc-a")
        run("connector enable", "smsc-a")
        route = run("route add", "--connector", "smsc-a", "--json")["id"]
        run("route remove", route)
        run("connector remove", "smsc-a")
        run("reports set", account, "SmsReport", "--http", "http://127.0.0.1:9/reports")
        run("reports retry", account)
        contact = run("alerts contacts add", account, "Alice", "--phone", "13800138002",
                      "--json")["id"]
        channel = run("alerts channels add", account, "sms", "--json")["id"]
        rule = run("alerts rules add", account, "balance", "--param", "below=10",
                   "--json")["id"]
        run("alerts rules remove", account, rule)
        run("alerts channels remove", account, channel)
        run("alerts contacts remove", account, contact)
        run("alerts protection lift", account, "--all")

        tenant = Tenant(int(account), key["AccessKeyId"], key["AccessKeySecret"])
        core = CoreClient(live.endpoint, tenant)
        qualification = workflow.submit_qualification(core, pigeon)["Data"]
        run("review approve", "qualification", qualification)
        workflow.create_signature(core, qualification)
        run("review reject", "signature", "云雀科技", "--reason", "签名与企业名称不符")
        core.common("UpdateSmsSign", {"SignName": "云雀科技", "SignSource": "0",
                                      "QualificationId": qualification})
        cli("review", "approve", "signature", "云雀科技")
        run("signature register", "云雀科技", "--carrier", "telecom", "--state", "failed",
            "--reason", "资质不符")
    finally:
        live.stop()

    try:
        assert covered == set(AUDITED)
        # A tenant's password, key secret or session never reaches the trail.
        assert key["AccessKeySecret"] not in cli("audit", "list", "--limit", "1000",
                                                 "--json").stdout
        intact = json.loads(cli("audit", "verify", "--json").stdout)
        assert intact["ok"] and intact["checked"] >= len(AUDITED)
        pigeon.db.write_sync(lambda conn: conn.execute(
            update(audit_entries).where(audit_entries.c.seq == 5)
            .values(after={"Status": "enabled", "forged": True})))
        broken = cli("audit", "verify", code=1)
        assert "audit trail broken at entry 5" in broken.stderr
        assert json.loads(cli("audit", "verify", "--json", code=1).stdout)["broken_at"] == 5
        listed = json.loads(cli("audit", "list", "--account", account, "--action",
                                "account.", "--json").stdout)
        assert [e["action"] for e in listed] == ["account.resume", "account.suspend",
                                                 "account.create"]
    finally:
        pigeon.close()
