"""Nodes: a dead one's claimed messages go back to the queue and its leases to the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from pigeon.carriers.base import Submitted
from pigeon.services import accounts, billing, dispatch, leases, nodes
from pigeon.store.tables import messages
from tests.services.test_dispatch import queue

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
HOST = "test-host/1"


@pytest.fixture
def account_id(pigeon) -> int:
    account = pigeon.db.write_sync(accounts.create_account, "Lark Technology", NOW)
    pigeon.db.write_sync(billing.topup, int(account["AccountId"]), 10_000, NOW)
    return int(account["AccountId"])


def alive(_pid: int) -> bool:
    return True


def reap(pigeon, now=NOW, pid_alive=alive) -> dict:
    return pigeon.db.write_sync(nodes.reap, now, host=HOST, pid_alive=pid_alive)


def statuses(pigeon) -> dict[int, tuple]:
    return dict(pigeon.db.read_sync(lambda conn: [
        (row.id, (row.status, row.claimed_by))
        for row in conn.execute(select(messages.c.id, messages.c.status, messages.c.claimed_by))]))


def test_a_silent_node_is_buried_with_its_claims_and_leases(pigeon, account_id):
    first = pigeon.db.write_sync(nodes.register, "other-host:10", NOW)
    second = pigeon.db.write_sync(nodes.register, "other-host:11", NOW)
    queue(pigeon, account_id, 4)
    pigeon.db.write_sync(dispatch.claim, 2, NOW, "1069", node=first)
    pigeon.db.write_sync(dispatch.claim, 1, NOW, "1069", node=second)
    pigeon.db.write_sync(leases.hold, "worker:reviewer", first, NOW)

    later = NOW + nodes.DEAD_AFTER - timedelta(seconds=1)
    assert pigeon.db.write_sync(nodes.beat, second, later)
    assert reap(pigeon, later)["nodes"] == 0
    buried = reap(pigeon, NOW + nodes.DEAD_AFTER + timedelta(seconds=1))
    assert buried == {"nodes": 1, "messages": 2, "leases": 1}
    assert sorted(statuses(pigeon).values()) == [("queued", None)] * 3 + [("sending", second)]
    assert not pigeon.db.write_sync(nodes.beat, first, NOW)  # it must register again
    assert pigeon.db.write_sync(leases.hold, "worker:reviewer", second, NOW)


def test_a_node_of_this_machine_whose_process_is_gone_is_buried_at_once(pigeon):
    gone = pigeon.db.write_sync(nodes.register, f"{HOST}:4242", NOW)
    running = pigeon.db.write_sync(nodes.register, f"{HOST}:4343", NOW)
    elsewhere = pigeon.db.write_sync(nodes.register, "other-host/1:4242", NOW)
    buried = reap(pigeon, pid_alive=lambda pid: pid != 4242)
    assert buried["nodes"] == 1
    assert [n["id"] for n in pigeon.db.read_sync(nodes.live)] == [running, elsewhere]
    assert gone not in [n["id"] for n in pigeon.db.read_sync(nodes.live)]


def test_a_node_declared_dead_cannot_record_over_the_node_that_took_its_messages(
        pigeon, account_id):
    slow = pigeon.db.write_sync(nodes.register, "other-host:1", NOW)
    queue(pigeon, account_id, 1)
    [(name, message)] = pigeon.db.write_sync(dispatch.claim, 1, NOW, "1069", node=slow)
    reap(pigeon, NOW + nodes.DEAD_AFTER * 2)
    taker = pigeon.db.write_sync(nodes.register, "other-host:2", NOW)
    pigeon.db.write_sync(dispatch.claim, 1, NOW, "1069", node=taker)

    late = Submitted(message.message_id, carrier_message_id="late")
    counts = pigeon.db.write_sync(dispatch.record, name, [late], pigeon.settings.timezone,
                                  NOW, node=slow)
    assert counts["skipped"] == 1
    assert statuses(pigeon)[message.message_id] == ("sending", taker)


def test_unregistering_gives_everything_back_at_once(pigeon, account_id):
    node = pigeon.db.write_sync(nodes.register, "other-host:1", NOW)
    queue(pigeon, account_id, 2)
    pigeon.db.write_sync(dispatch.claim, 2, NOW, "1069", node=node)
    pigeon.db.write_sync(leases.hold, "connector:smsc", node, NOW)
    pigeon.db.write_sync(nodes.unregister, node)
    assert set(statuses(pigeon).values()) == {("queued", None)}
    assert pigeon.db.read_sync(leases.holders, NOW) == {}

