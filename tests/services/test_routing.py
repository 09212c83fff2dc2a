"""Routing in the claim: messages go to the connector their first usable rule names, and a
message no connector that is up can take stays queued, untouched, until one can."""

from __future__ import annotations

import pytest

from pigeon.core.errors import PigeonError
from pigeon.services import connectors, dispatch, routes
from pigeon.services.dispatch import Routing
from tests.services.test_dispatch import ACCESS, NOW, queue, row
from tests.services.test_dispatch import account_id as account_id  # noqa: F401 (fixture)


def claim(pigeon, routing: Routing):
    return [(name, m.message_id) for name, m in pigeon.db.write_sync(
        dispatch.claim, dispatch.BATCH, NOW, ACCESS, routing)]


def add_smpp(pigeon, name: str) -> None:
    pigeon.db.write_sync(connectors.add, pigeon.box, name, "smpp", NOW, host="127.0.0.1",
                         port=2775, system_id="pigeon", password="secret")


def rules(pigeon, *added: dict) -> tuple:
    for rule in added:
        pigeon.db.write_sync(routes.add, now=NOW, **rule)
    return tuple(pigeon.db.read_sync(routes.load))


def test_without_rules_everything_goes_to_the_simulator(pigeon, account_id):
    ids = queue(pigeon, account_id, 2)
    assert claim(pigeon, Routing()) == [("simulator", i) for i in ids]


def test_a_message_goes_to_its_rules_connector_or_waits(pigeon, account_id):
    for name in ("cm", "cu", "backup"):
        add_smpp(pigeon, name)
    table = rules(pigeon, {"connector": "cm", "carrier": "mobile"},
                  {"connector": "cu", "carrier": "unicom", "fallback": "backup"})
    mobile = queue(pigeon, account_id, 1, carrier="mobile")[0]
    unicom = queue(pigeon, account_id, 1, carrier="unicom", phone="18612345678")[0]
    telecom = queue(pigeon, account_id, 1, carrier="telecom", phone="18912345678")[0]

    # cm down, cu down with its fallback up: only the unicom message can go anywhere.
    assert claim(pigeon, Routing(table, frozenset({"backup", "simulator"}))) == \
        [("backup", unicom)]
    for message_id in (mobile, telecom):
        waiting = row(pigeon, message_id)
        assert (waiting["status"], waiting["attempts"], waiting["claimed_at"]) == \
            ("queued", 0, None)

    # cm comes up: the mobile message goes; no rule ever takes the telecom one.
    assert claim(pigeon, Routing(table, frozenset({"cm"}))) == [("cm", mobile)]
    assert claim(pigeon, Routing(table, frozenset({"cm", "cu", "backup", "simulator"}))) == []
    assert row(pigeon, telecom)["status"] == "queued"


def test_a_message_without_a_carrier_passes_a_carrier_rule_to_the_next(pigeon, account_id):
    # An international number has no carrier: the carrier rule does not take it (as the
    # routing in Python decides), so the catch-all rule after it must — in the claim's SQL,
    # NULL is not "another carrier".
    for name in ("cm", "world"):
        add_smpp(pigeon, name)
    table = rules(pigeon, {"connector": "cm", "carrier": "mobile"}, {"connector": "world"})
    mobile = queue(pigeon, account_id, 1, carrier="mobile")[0]
    abroad = queue(pigeon, account_id, 1, carrier=None, phone="85291234567",
                   country_code=852)[0]
    assert dispatch.route(row(pigeon, abroad), Routing(table, frozenset({"cm", "world"}))) \
        == "world"
    assert claim(pigeon, Routing(table, frozenset({"cm", "world"}))) == \
        [("cm", mobile), ("world", abroad)]


def test_nothing_is_claimed_when_no_rule_can_send(pigeon, account_id):
    add_smpp(pigeon, "cm")
    table = rules(pigeon, {"connector": "cm"})
    queue(pigeon, account_id, 3)
    routing = Routing(table, frozenset({"simulator"}))
    assert routing.claimable() is None
    assert claim(pigeon, routing) == []
    assert Routing((), frozenset()).claimable() is None


def test_route_rules_are_validated(pigeon):
    add_smpp(pigeon, "cm")

    def refused(**rule) -> str:
        with pytest.raises(PigeonError) as caught:
            pigeon.db.write_sync(routes.add, now=NOW, **rule)
        assert caught.value.code == "isv.INVALID_PARAMETERS"
        return caught.value.message

    assert "no connector 'nope'" in refused(connector="nope")
    assert "fall back" in refused(connector="cm", fallback="nope")
    assert "another connector" in refused(connector="cm", fallback="cm")
    assert "mobile, unicom, telecom, broadnet" in refused(connector="cm", carrier="cmcc")
    assert "86" in refused(connector="cm", carrier="mobile", country="852")
    assert "country calling code" in refused(connector="cm", country="China")
    assert "otp, notification" in refused(connector="cm", template_type="marketing")
    assert "--priority" in refused(connector="cm", priority=-1)

    first = pigeon.db.write_sync(routes.add, connector="cm", now=NOW, country="+852")
    second = pigeon.db.write_sync(routes.add, connector="simulator", now=NOW, priority=5,
                                  template_type="otp")
    assert (first["priority"], first["country"]) == (10, 852)
    assert [r["id"] for r in pigeon.db.read_sync(routes.listing)] == [second["id"], first["id"]]


def test_a_node_claims_only_what_routes_to_its_own_connectors(pigeon, account_id):
    for name in ("cm", "catchall"):
        add_smpp(pigeon, name)
    table = rules(pigeon, {"connector": "cm", "carrier": "mobile", "priority": 1},
                  {"connector": "catchall", "priority": 2})
    mobile = queue(pigeon, account_id, 1, carrier="mobile")[0]
    unicom = queue(pigeon, account_id, 1, carrier="unicom", phone="18612345678")[0]
    up = frozenset({"cm", "catchall"})

    # This node runs the catch-all; cm runs on another node: the mobile message is that
    # node's, although the catch-all rule matches it too.
    assert claim(pigeon, Routing(table, up, frozenset({"catchall"}))) == [("catchall", unicom)]
    assert row(pigeon, mobile)["status"] == "queued"
    assert claim(pigeon, Routing(table, up, frozenset({"cm"}))) == [("cm", mobile)]


def test_a_message_follows_its_rule_to_a_fallback_on_another_node(pigeon, account_id):
    for name in ("cm", "backup"):
        add_smpp(pigeon, name)
    table = rules(pigeon, {"connector": "cm", "fallback": "backup"})
    message = queue(pigeon, account_id, 1)[0]

    # cm is down everywhere; backup is up on another node: not this node's to take.
    assert claim(pigeon, Routing(table, frozenset({"backup"}), frozenset({"cm"}))) == []
    assert claim(pigeon, Routing(table, frozenset({"backup"}), frozenset({"backup"}))) == \
        [("backup", message)]
