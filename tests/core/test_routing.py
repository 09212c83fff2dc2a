"""Routing rules as a table: which connector takes a message, given the connectors up."""

from __future__ import annotations

import pytest

from pigeon.core.routing import Rule, choose, ordered

OTP, NOTICE, INTL = 0, 1, 3

RULES = ordered([
    Rule(id=1, priority=10, connector="cm", fallback="backup", carrier="mobile"),
    Rule(id=2, priority=20, connector="cu-otp", carrier="unicom", template_type=OTP),
    Rule(id=3, priority=30, connector="cu", carrier="unicom"),
    Rule(id=4, priority=40, connector="hk", country_code=852),
    Rule(id=5, priority=50, connector="backup", country_code=86),
])


@pytest.mark.parametrize("carrier, country, kind, up, expected", [
    # The first matching rule whose connector is up.
    ("mobile", 86, NOTICE, {"cm", "backup"}, "cm"),
    ("unicom", 86, OTP, {"cu-otp", "cu"}, "cu-otp"),
    ("unicom", 86, NOTICE, {"cu-otp", "cu"}, "cu"),
    ("telecom", 86, NOTICE, {"backup"}, "backup"),
    (None, 852, INTL, {"hk", "backup"}, "hk"),
    # Its connector down: its fallback if up …
    ("mobile", 86, NOTICE, {"backup"}, "backup"),
    # … else the next matching rule.
    ("unicom", 86, OTP, {"cu"}, "cu"),
    ("unicom", 86, OTP, {"backup"}, "backup"),
    # Nothing usable matches: the message waits.
    ("unicom", 86, OTP, {"cm", "hk"}, None),
    (None, 852, INTL, {"backup"}, None),
    (None, 44, INTL, {"cm", "cu", "hk", "backup", "simulator"}, None),
])
def test_the_first_usable_matching_rule_takes_the_message(carrier, country, kind, up,
                                                          expected):
    assert choose(RULES, up, carrier=carrier, country_code=country,
                  template_type=kind) == expected


def test_without_rules_everything_goes_to_the_simulator_when_it_is_up():
    assert choose([], {"simulator"}, carrier=None, country_code=44, template_type=INTL) == \
        "simulator"
    assert choose([], {"smsc-a"}, carrier="mobile", country_code=86, template_type=OTP) is None


def test_rules_are_tried_by_priority_then_age():
    rules = ordered([Rule(id=3, priority=5, connector="late"),
                     Rule(id=1, priority=5, connector="early"),
                     Rule(id=2, priority=1, connector="first", carrier="telecom")])
    assert [r.connector for r in rules] == ["first", "early", "late"]
    assert choose(rules, {"early", "late", "first"}, carrier="mobile", country_code=86,
                  template_type=OTP) == "early"


@pytest.mark.parametrize("up, expected", [
    ({"cm", "backup"}, "cm"),
    ({"backup"}, "backup"),  # its connector down, its fallback up
    ({"other"}, None),  # both down
    (set(), None),
])
def test_a_rule_sends_to_its_connector_else_to_its_fallback(up, expected):
    assert Rule(id=1, priority=10, connector="cm", fallback="backup").usable(up) == expected


def test_a_rule_without_a_fallback_is_unusable_while_its_connector_is_down():
    assert Rule(id=1, priority=10, connector="cm").usable({"backup", "other"}) is None
