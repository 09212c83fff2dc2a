"""`pigeon console`: console users and operators from the command line."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from pigeon.cli import app
from tests.test_cli import cli  # noqa: F401 - the fixture


def test_console_users_and_operators_are_added_with_a_password_from_stdin(cli):  # noqa: F811
    account = json.loads(cli("account", "create", "Lark Technology", "--json").stdout)
    runner = CliRunner()
    added = runner.invoke(app, ["console", "user", "add", account["AccountId"],
                                "dev@lark.example", "--password-stdin", "--json"],
                          input="correct horse battery\n", env=cli.env)
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout) == {"id": 1, "account_id": account["AccountId"],
                                        "email": "dev@lark.example", "operator": False}
    operator = runner.invoke(app, ["console", "operator", "add", "ops@pigeon.example",
                                   "--password-stdin"], input="another long one\n", env=cli.env)
    assert operator.exit_code == 0, operator.output
    short = runner.invoke(app, ["console", "operator", "add", "x@pigeon.example",
                                "--password-stdin"], input="short\n", env=cli.env)
    assert short.exit_code == 1 and "at least 10 characters" in short.stderr
    listed = json.loads(cli("console", "user", "list", "--json").stdout)
    assert [(u["email"], u["operator"]) for u in listed] == [
        ("dev@lark.example", False), ("ops@pigeon.example", True)]
    assert "password" not in json.dumps(listed)
    mine = json.loads(cli("console", "user", "list", account["AccountId"], "--json").stdout)
    assert [u["email"] for u in mine] == ["dev@lark.example"]
