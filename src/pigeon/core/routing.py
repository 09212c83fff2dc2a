"""Routing rules: which connector carries a message.  Pure: the rules and the set of connectors
that are up are arguments.

A rule matches a message when each of its conditions that is set — the number's mainland
carrier, its country code, the template type — equals the message's (an unset condition
matches anything).  Rules are tried in priority order (lowest first, then oldest):

* the first matching rule whose connector is up takes the message;
* else, if that rule names a fallback connector that is up, the fallback takes it;
* else the next matching rule is tried.

When no rule takes the message it waits in the queue: it is never handed to a connector that
is down, and never to one that no rule names.  With no rules at all, everything goes to the
built-in carrier simulator (the embedded default), when it is up.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

SIMULATOR = "simulator"

CARRIERS = ("mobile", "unicom", "telecom", "broadnet")
"""The mainland carriers a rule may name (China Mobile, Unicom, Telecom, Broadnet)."""


@dataclass(frozen=True)
class Rule:
    id: int
    priority: int
    connector: str
    fallback: str | None = None
    carrier: str | None = None
    country_code: int | None = None
    template_type: int | None = None

    def matches(self, carrier: str | None, country_code: int, template_type: int) -> bool:
        return ((self.carrier is None or self.carrier == carrier)
                and (self.country_code is None or self.country_code == country_code)
                and (self.template_type is None or self.template_type == template_type))

    def usable(self, up: Collection[str]) -> str | None:
        """The connector this rule sends to now: its own, else its fallback, else ``None``."""
        if self.connector in up:
            return self.connector
        if self.fallback is not None and self.fallback in up:
            return self.fallback
        return None

    @property
    def conditions(self) -> dict[str, object]:
        """The conditions that are set, by message column."""
        return {name: value for name, value in (("carrier", self.carrier),
                                                ("country_code", self.country_code),
                                                ("template_type", self.template_type))
                if value is not None}


def ordered(rules: Sequence[Rule]) -> list[Rule]:
    return sorted(rules, key=lambda rule: (rule.priority, rule.id))


def choose(rules: Sequence[Rule], up: Collection[str], *, carrier: str | None,
           country_code: int, template_type: int) -> str | None:
    """The connector that takes a message, or ``None`` (it waits).  ``rules`` in priority
    order (:func:`ordered`); ``up`` the names of the connectors that are up."""
    if not rules:
        return SIMULATOR if SIMULATOR in up else None
    for rule in rules:
        if rule.matches(carrier, country_code, template_type):
            chosen = rule.usable(up)
            if chosen is not None:
                return chosen
    return None
