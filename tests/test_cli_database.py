"""Which database the `pigeon` command uses, which keys it refuses to make, and what a new
tenant starts with."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pigeon.cli.common import data_dir_in_use, project_data_dir
from tests.support.cli import cli_runner

ROOT = Path(__file__).resolve().parents[1]


def _json(result):
    return json.loads(result.stdout)


def test_the_database_is_found_from_any_directory(tmp_path):
    project = tmp_path / "checkout" / "data"
    elsewhere = tmp_path / "somewhere"
    elsewhere.mkdir()
    # Nothing yet: a new ./data, said so.
    assert data_dir_in_use(elsewhere, project) == (elsewhere / "data", "new")
    # The server (scripts/serve) keeps its database in the checkout: found from elsewhere.
    project.mkdir(parents=True)
    (project / "pigeon.db").touch()
    assert data_dir_in_use(elsewhere, project) == (project, "project")
    # A database right here wins: the one the user is next to.
    (elsewhere / "data").mkdir()
    (elsewhere / "data" / "pigeon.db").touch()
    assert data_dir_in_use(elsewhere, project) == (elsewhere / "data", "found")


def test_the_checkout_is_where_scripts_serve_keeps_the_data():
    assert project_data_dir() == ROOT / "data"


def test_a_command_run_elsewhere_says_which_database_it_uses(tmp_path):
    """No PIGEON_* variable, a directory without data: the command says it starts a new
    database there instead of silently using an empty one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIGEON_")}
    env["HOME"] = str(tmp_path)
    answer = subprocess.run([sys.executable, "-m", "pigeon.cli", "account", "list"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert answer.returncode == 0, answer.stderr
    said = " ".join(answer.stderr.split())
    if (ROOT / "data" / "pigeon.db").exists():  # a developer's checkout with a served database
        assert f"using the database in {ROOT / 'data'}" in said
    else:
        assert f"starting a new one in {tmp_path / 'data'}" in said


def test_a_key_the_server_could_not_decrypt_is_refused(tmp_path, database_url):
    """With a shared database and no PIGEON_SECRET_KEY this process would encrypt with its
    own key file: the server would answer the SDK with a 500.  Refused, and nothing made."""
    cli = cli_runner(tmp_path / "data", database_url)
    account = _json(cli("account", "create", "Lark Technology", "--json"))["AccountId"]
    no_key = cli_runner(tmp_path / "elsewhere", database_url, PIGEON_SECRET_KEY="")
    refused = no_key("accesskey", "create", account, code=2)
    assert "PIGEON_SECRET_KEY is not" in " ".join(refused.stderr.split())
    assert _json(cli("accesskey", "list", account, "--json")) == []
    no_key("alerts", "channels", "add", account, "webhook", "--url",
           "https://example.com/hook", "--secret", "s3cret", code=2)
    assert _json(cli("accesskey", "create", account, "--json"))["AccessKeyId"]


def test_a_new_tenant_has_the_recommended_alerts_on_for_its_contacts(tmp_path, database_url):
    cli = cli_runner(tmp_path / "data", database_url)
    account = _json(cli("account", "create", "Lark Technology", "--json"))["AccountId"]
    rules = _json(cli("alerts", "rules", "list", account, "--json"))
    assert sorted(r["kind"] for r in rules) == ["otp_pumping", "package", "spike", "volume"]
    assert all(r["enabled"] and not r["channels"] for r in rules)  # every channel
    channels = _json(cli("alerts", "channels", "list", account, "--json"))
    assert sorted(c["kind"] for c in channels) == ["email", "sms"]
    assert all(not c["contacts"] for c in channels)  # every contact


def test_the_banner_names_the_command_as_it_can_be_run_again(tmp_path, monkeypatch):
    from pigeon.cli.common import command_name

    venv = tmp_path / ".venv" / "bin"
    venv.mkdir(parents=True)
    (venv / "pigeon").write_text("#!/bin/sh\n")
    (venv / "pigeon").chmod(0o755)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(venv / "pigeon"), "serve"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert command_name() == ".venv/bin/pigeon"  # not on the PATH: the path that ran
    monkeypatch.setenv("PATH", f"{venv}:/usr/bin:/bin")
    assert command_name() == "pigeon"  # an activated venv
