"""Leases: one holder at a time, renewed by it, taken over once expired, fenced with the work
they guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pigeon.services import leases

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
TTL = leases.TTL


def hold(pigeon, node: int, now=NOW, name: str = "worker:reviewer") -> bool:
    return pigeon.db.write_sync(leases.hold, name, node, now)


def test_one_node_holds_a_lease_until_it_expires(pigeon):
    assert hold(pigeon, 1)
    assert not hold(pigeon, 2)
    assert hold(pigeon, 1, NOW + TTL / 2)  # renewed: lasts until NOW + 1.5 TTL
    assert not hold(pigeon, 2, NOW + TTL + timedelta(seconds=1))
    assert hold(pigeon, 2, NOW + TTL * 1.5 + timedelta(seconds=1))
    assert not hold(pigeon, 1, NOW + TTL * 1.5 + timedelta(seconds=2))


def test_leases_of_different_names_are_independent(pigeon):
    assert pigeon.db.write_sync(leases.hold_each, ["connector:a", "connector:b"], 1, NOW) == \
        {"connector:a", "connector:b"}
    assert pigeon.db.write_sync(leases.hold_each, ["connector:b", "connector:c"], 2, NOW) == \
        {"connector:c"}
    assert pigeon.db.read_sync(leases.holders, NOW) == \
        {"connector:a": 1, "connector:b": 1, "connector:c": 2}


def test_a_released_lease_is_free_at_once(pigeon):
    assert hold(pigeon, 1)
    pigeon.db.write_sync(leases.release, "worker:reviewer", 2)  # not its holder: no effect
    assert not hold(pigeon, 2)
    pigeon.db.write_sync(leases.release, "worker:reviewer", 1)
    assert hold(pigeon, 2)


def test_work_under_a_lease_runs_only_on_its_holder(pigeon):
    ran = []

    def step(_conn, what):
        ran.append(what)
        return what

    assert pigeon.db.write_sync(leases.under, "worker:x", 1, NOW, step, "first") == "first"
    assert pigeon.db.write_sync(leases.under, "worker:x", 2, NOW, step, "second") is None
    assert ran == ["first"]
