"""`pigeon user`: console users (tenants' users and operators) from the command line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pigeon.cli import app
from tests.test_cli import cli  # noqa: F401 - the fixture


def test_tenant_users_and_operators_are_created_and_listed(cli):  # noqa: F811
    account = json.loads(cli("account", "create", "Lark Technology", "--json").stdout)
    runner = CliRunner()
    added = runner.invoke(app, ["user", "create", "Dev@Lark.example", "--account",
                                account["AccountId"], "--password-stdin", "--json"],
                          input="correct horse battery\n", env=cli.env)
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout) == {"id": 1, "account_id": account["AccountId"],
                                        "email": "dev@lark.example", "operator": False}
    operator = json.loads(cli("user", "create", "ops@pigeon.example", "--operator",
                              "--password", "another long one", "--json").stdout)
    assert operator["operator"] is True and operator["account_id"] is None

    listed = json.loads(cli("user", "list", "--json").stdout)
    assert [(u["email"], u["operator"]) for u in listed] == [
        ("dev@lark.example", False), ("ops@pigeon.example", True)]
    assert "password" not in json.dumps(listed) and "argon2" not in json.dumps(listed)
    mine = json.loads(cli("user", "list", "--account", account["AccountId"], "--json").stdout)
    assert [u["email"] for u in mine] == ["dev@lark.example"]
    assert "ops@pigeon.example" in cli("user", "list").stdout  # a table for people


def test_the_password_is_hashed_with_argon2_and_signs_in(cli, tmp_path):  # noqa: F811
    from pigeon.app import Pigeon
    from pigeon.config import Settings
    from pigeon.services import console_users

    cli("user", "create", "ops@pigeon.example", "--operator", "--password", "another long one")
    settings = Settings.from_env(cli.env)
    pigeon = Pigeon(settings)
    try:
        user_id, password_hash = pigeon.db.read_sync(console_users.password_hash_of,
                                                     "ops@pigeon.example")
    finally:
        pigeon.close()
    assert password_hash.startswith("$argon2id$") and "another long one" not in password_hash
    assert console_users.verify_password(password_hash, "another long one")
    assert not console_users.verify_password(password_hash, "another long two")


def test_bad_user_commands_say_what_is_wrong(cli):  # noqa: F811
    account = json.loads(cli("account", "create", "Lark Technology", "--json").stdout)
    for args, problem in (
            (["--password", "long enough pw"], "either --account ACCOUNT_ID"),
            (["--operator", "--account", account["AccountId"], "--password", "long enough pw"],
             "either --account ACCOUNT_ID"),
            (["--operator", "--password", "short"], "at least 10 characters"),
            (["--operator", "--password", "long enough pw", "--password-stdin"],
             "not both"),
            (["--account", "1234", "--password", "long enough pw"], "1234")):
        result = cli("user", "create", "x@pigeon.example", *args, code=1)
        assert result.stderr.startswith("error: ") and problem in result.stderr, (args, result)
    cli("user", "create", "x@pigeon.example", "--operator", "--password", "long enough pw")
    again = cli("user", "create", "X@pigeon.example", "--operator", "--password",
                "long enough pw", code=1)
    assert "exists already" in again.stderr
    assert json.loads(cli("user", "list", "--json").stdout)[0]["email"] == "x@pigeon.example"
