"""`pigeon security …`: the IP allow-list for API calls as operators and scripts use it."""

from __future__ import annotations

import json

import pytest

from tests.support.cli import cli_runner


@pytest.fixture
def cli(tmp_path, database_url):
    return cli_runner(tmp_path / "data", database_url)


@pytest.fixture
def account(cli) -> str:
    return json.loads(cli("account", "create", "云雀科技", "--json").stdout)["AccountId"]


def test_allow_show_and_deny(cli, account):
    shown = json.loads(cli("security", "show", account, "--json").stdout)
    assert shown["allow_all"] is True and shown["entries"] == []
    added = json.loads(cli("security", "allow", account, "203.0.113.0/24", "--json").stdout)
    assert added == {"AccountId": account, "entry": "203.0.113.0/24",
                     "network": "203.0.113.0/24", "added": True}
    cli("security", "allow", account, "2001:db8::1")
    cli("limits", "set", account, "--day-limit", "500")
    shown = json.loads(cli("security", "show", account, "--json").stdout)
    assert [e["entry"] for e in shown["entries"]] == ["203.0.113.0/24", "2001:db8::1"]
    assert shown["allow_all"] is False and shown["day_limit"] == 500
    text = cli("security", "show", account).stdout
    assert "203.0.113.0/24" in text and "daily cap: 500" in text
    removed = json.loads(cli("security", "deny", account, "2001:db8::1/128", "--json").stdout)
    assert removed["removed"] is True and removed["allow_all"] is False


def test_a_bad_entry_is_one_line_of_error(cli, account):
    result = cli("security", "allow", account, "10.0.0.1/8", code=1)
    assert result.stderr.strip() == ("error: isv.INVALID_PARAMETERS: 10.0.0.1/8 has bits set "
                                     "after its /8 prefix; the range it belongs to is "
                                     "10.0.0.0/8.")
    result = cli("security", "deny", account, "198.51.100.1", code=1)
    assert "is not on the IP allow-list" in result.stderr


def test_an_unknown_account_is_refused(cli):
    result = cli("security", "show", "1234", code=1)
    assert "isv.ACCOUNT_NOT_EXISTS" in result.stderr
