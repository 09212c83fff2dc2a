"""`pigeon connector` and `pigeon route` as operators and scripts use them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from pigeon.store.tables import connector_states, connectors
from tests.support.cli import cli_runner
from tests.support.smsc_thread import BackgroundSmsc
from tests.support.waiting import wait_until

PASSWORD = "s3cr3tPw"


@pytest.fixture
def cli(tmp_path, database_url):
    return cli_runner(tmp_path / "data", database_url, COLUMNS="200")


def _json(result):
    return json.loads(result.stdout)


def add(cli, name="smsc-a", *extra, code=0, port=2775):
    return cli("connector", "add", name, "--host", "127.0.0.1", "--port", port,
               "--system-id", "pigeon", "--password", PASSWORD, *extra, code=code)


def listed(cli) -> dict[str, dict]:
    return {row["name"]: row for row in _json(cli("connector", "list", "--json"))}


def test_the_simulator_is_a_built_in_connector(cli):
    [simulator] = _json(cli("connector", "list", "--json"))
    assert (simulator["name"], simulator["protocol"], simulator["enabled"],
            simulator["state"]) == ("simulator", "simulator", True, "not running")

    result = cli("connector", "remove", "simulator", code=1)
    assert result.stderr.startswith("error: isv.INVALID_PARAMETERS: The built-in simulator "
                                    "cannot be removed")
    assert _json(cli("connector", "disable", "simulator", "--json"))["enabled"] is False
    assert listed(cli)["simulator"]["state"] == "disabled"
    assert _json(cli("connector", "enable", "simulator", "--json"))["enabled"] is True
    cli("connector", "add", "sim2", "--protocol", "simulator", "--host", "x", "--port", "1",
        "--system-id", "a", "--password", "b", code=1)


def test_an_smsc_is_added_listed_and_removed(cli, tmp_path, database_url):
    added = _json(add(cli, "smsc-a", "--system-type", "PIGEON", "--tps", "500", "--window",
                      "50", "--binds", "2", "--bind-mode", "transmitter+receiver", "--json"))
    assert added == {"name": "smsc-a", "protocol": "smpp", "enabled": True,
                     "address": "127.0.0.1:2775", "system_id": "pigeon",
                     "system_type": "PIGEON", "binds": 2, "bind_mode": "transmitter+receiver",
                     "window": 50, "tps": 500}
    shown = listed(cli)
    assert list(shown) == ["simulator", "smsc-a"]
    assert shown["smsc-a"]["state"] == "not running"
    table = cli("connector", "list").stdout
    assert "smsc-a" in table and "127.0.0.1:2775" in table and "not running" in table
    assert PASSWORD not in cli("connector", "list", "--json").stdout + table

    # Stored encrypted: the password is neither in its row nor anywhere in the file.
    from pigeon.app import Pigeon
    from pigeon.config import Settings

    pigeon = Pigeon(Settings.from_env(cli.env))
    try:
        row = pigeon.db.read_sync(lambda conn: conn.execute(
            select(connectors).where(connectors.c.name == "smsc-a")).mappings().one())
        assert PASSWORD not in json.dumps(row["config"]) and PASSWORD not in row["secret"]
        assert pigeon.box.decrypt(row["secret"]) == PASSWORD
    finally:
        pigeon.close()
    if database_url.startswith("sqlite"):
        files = Path(database_url.removeprefix("sqlite:///")).parent.glob("pigeon.db*")
        assert not any(PASSWORD.encode() in f.read_bytes() for f in files)

    removed = _json(cli("connector", "remove", "smsc-a", "--json"))
    assert removed["removed"] is True and list(listed(cli)) == ["simulator"]


def test_the_password_is_asked_for_when_left_out(cli):
    result = cli("connector", "add", "smsc-a", "--host", "127.0.0.1", "--port", "2775",
                 "--system-id", "pigeon", "--json", stdin=PASSWORD + "\n")
    assert PASSWORD not in result.stdout
    assert "smsc-a" in listed(cli)


@pytest.mark.parametrize("args, message", [
    (["--port", "70000"], "--port must be a TCP port from 1 to 65535, got 70000."),
    (["--port", "0"], "--port must be a TCP port from 1 to 65535, got 0."),
    (["--host", "smsc example"], "--host must be a host name or IP address"),
    (["--system-id", "a-very-long-system-id"], "--system-id is at most 15 characters"),
    (["--password", "ninechars"], "--password is at most 8 characters"),
    (["--system-type", "密码"], "--system-type must be printable ASCII text."),
    (["--tps", "0"], "--tps must be a number of messages per second"),
    (["--window", "0"], "--window must be from 1 to 1000"),
    (["--binds", "33"], "--binds must be from 1 to 32"),
    (["--bind-mode", "receiver"], "--bind-mode is one of transceiver, transmitter+receiver"),
    (["--protocol", "cmpp"], "--protocol is one of smpp, got 'cmpp'."),
])
def test_bad_connector_settings_are_refused_with_the_reason(cli, args, message):
    options = {"--host": "127.0.0.1", "--port": "2775", "--system-id": "pigeon",
               "--password": "secret"}
    options.update(dict(zip(args[::2], args[1::2], strict=True)))
    result = cli("connector", "add", "smsc-a", *[x for kv in options.items() for x in kv],
                 code=1)
    assert result.stderr.startswith(f"error: isv.INVALID_PARAMETERS: {message}"), result.stderr
    assert "smsc-a" not in listed(cli)


def test_names_are_checked_and_unique(cli):
    add(cli, "smsc-a")
    assert "exists already" in add(cli, "smsc-a", code=1).stderr
    assert "A connector name is 1 to 64" in add(cli, "smsc a", code=1).stderr
    assert "There is no connector 'nope'" in cli("connector", "remove", "nope", code=1).stderr


def test_routes_are_added_listed_in_order_and_removed(cli):
    add(cli, "cm")
    add(cli, "cu")
    first = _json(cli("route", "add", "--connector", "cm", "--carrier", "mobile", "--json"))
    second = _json(cli("route", "add", "--connector", "cu", "--carrier", "unicom",
                       "--template-type", "otp", "--fallback", "cm", "--json"))
    third = _json(cli("route", "add", "--connector", "simulator", "--country", "852",
                      "--priority", "5", "--json"))
    assert (first["priority"], second["priority"], third["priority"]) == (10, 20, 5)
    assert second == {"id": second["id"], "priority": 20, "connector": "cu", "fallback": "cm",
                      "carrier": "unicom", "country": None, "template_type": "otp"}
    shown = _json(cli("route", "list", "--json"))
    assert [r["id"] for r in shown] == [third["id"], first["id"], second["id"]]
    assert "unicom" in cli("route", "list").stdout

    refused = cli("connector", "remove", "cm", code=1)
    assert refused.stderr.strip() == (
        f"error: isv.INVALID_PARAMETERS: Connector 'cm' is used by route(s) {first['id']}, "
        f"{second['id']}; remove them first (`pigeon route remove ID`).")
    assert cli("route", "add", "--connector", "nope", code=1).stderr.startswith(
        "error: isv.INVALID_PARAMETERS: There is no connector 'nope'")
    assert cli("route", "add", "--connector", "cm", "--carrier", "cmcc", code=1).stderr \
        .startswith("error: isv.INVALID_PARAMETERS: --carrier is one of mobile, unicom")

    cli("route", "remove", str(first["id"]))
    cli("route", "remove", str(second["id"]))
    cli("connector", "remove", "cm")
    assert [r["id"] for r in _json(cli("route", "list", "--json"))] == [third["id"]]
    assert "There is no route" in cli("route", "remove", str(first["id"]), code=1).stderr


def test_the_list_shows_what_the_running_server_is_doing(cli):
    from pigeon.app import Pigeon
    from pigeon.config import Settings
    from tests.support.server import LiveServer

    def published(pigeon) -> object:
        """When the dispatcher last wrote its connectors' state."""
        return pigeon.db.read_sync(lambda conn: conn.scalar(
            select(connector_states.c.updated_at)
            .where(connector_states.c.connector == "simulator")))

    with BackgroundSmsc(password=PASSWORD) as smsc:
        pigeon = Pigeon(Settings.from_env(cli.env))
        live = LiveServer(pigeon, workers=True).start()
        try:
            add(cli, "smsc-a", "--binds", "2", port=smsc.port)
            add(cli, "smsc-b", port=smsc.port)
            cli("connector", "disable", "smsc-b")

            row = wait_until(lambda: (r := listed(cli)["smsc-a"])["state"] == "up"
                             and r["bound"] == "2/2" and r, what="smsc-a bound twice")
            assert (row["queue"], row["outstanding"], row["nodes"]) == (0, 0, 1)
            assert row["detail"][0]["address"] == f"127.0.0.1:{smsc.port}"
            assert listed(cli)["simulator"]["state"] == "up"
            assert listed(cli)["smsc-b"]["state"] == "disabled"
            table = cli("connector", "list").stdout
            assert "2/2" in table and " up " in table

            smsc.smsc.bind_status = 0x0D  # the SMSC refuses binds from now on
            smsc.drop_all()
            row = wait_until(lambda: (r := listed(cli)["smsc-a"])["state"] == "down" and r,
                             what="smsc-a down")
            assert row["bound"] == "0/2" and "ESME_RBINDFAIL" in (row["last_error"] or "")

            # Disabled: the dispatcher stops it within seconds, and it stops trying to bind.
            smsc.smsc.bind_status = 0
            cli("connector", "disable", "smsc-a")
            # The CLI shows "disabled" from the database at once; the dispatcher stops the
            # connector at its next reload.  Stopped means its state is no longer published
            # (the stop is awaited before the next publication) and the SMSC holds no session
            # of it: every bind it ever sent has landed by then.
            wait_until(lambda: (r := listed(cli)["smsc-a"])["state"] == "disabled"
                       and r["detail"] == [] and not smsc.smsc.sessions, what="smsc-a stopped")
            binds = len(smsc.smsc.binds)
            # Nothing more comes: checked after two more publications (a full reload cycle,
            # which would start a connector the dispatcher still thought enabled).
            for _ in range(2):
                last = published(pigeon)
                wait_until(lambda last=last: published(pigeon) != last,
                           what="the dispatcher's next state publication")
            assert len(smsc.smsc.binds) == binds and not smsc.smsc.sessions
        finally:
            live.stop()
            pigeon.close()
    # Stopped: the dispatcher took its state rows with it.
    assert listed(cli)["simulator"]["state"] == "not running"
