"""The audit trail's hash chain: any change to an entry, or a missing one, is found, and
verify says where."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pigeon.core import audit_chain
from pigeon.core.audit_chain import GENESIS, entry_hash, verify

T0 = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)


def chain(n: int, start_seq: int = 0, start_hash: str = GENESIS) -> list[dict]:
    entries, previous = [], start_hash
    for seq in range(start_seq + 1, start_seq + n + 1):
        entry = {"seq": seq, "at": T0 + timedelta(seconds=seq), "actor_kind": "cli",
                 "actor": "alice", "source": "host-1", "account_id": 1000 + seq,
                 "action": "account.suspend", "target": f"account:{1000 + seq}",
                 "before": {"Status": "active"}, "after": {"Status": "suspended"},
                 "prev_hash": previous}
        entry["hash"] = previous = entry_hash(entry)
        entries.append(entry)
    return entries


def test_an_intact_chain_verifies_and_names_its_head():
    entries = chain(5)
    verdict = verify(entries)
    assert (verdict.ok, verdict.checked, verdict.head_seq) == (True, 5, 5)
    assert verdict.head_hash == entries[-1]["hash"]
    assert verify([]) == audit_chain.Verdict(True, 0, 0, GENESIS)


@pytest.mark.parametrize("field, value", [
    ("actor", "mallory"), ("source", "elsewhere"), ("account_id", 1), ("action", "x"),
    ("target", "account:1"), ("before", {"Status": "suspended"}), ("after", None),
    ("at", T0)])
def test_changing_any_field_of_an_entry_breaks_the_chain_there(field, value):
    entries = chain(5)
    entries[2] = entries[2] | {field: value}
    verdict = verify(entries)
    assert (verdict.ok, verdict.broken_at, verdict.checked) == (False, 3, 2)
    assert "changed" in verdict.problem


def test_a_rehashed_entry_breaks_the_link_of_the_next():
    entries = chain(5)
    forged = entries[1] | {"actor": "mallory"}
    forged["hash"] = entry_hash(forged)
    entries[1] = forged
    verdict = verify(entries)
    assert (verdict.ok, verdict.broken_at) == (False, 3)
    assert "does not follow entry 2" in verdict.problem


def test_a_removed_entry_is_named():
    entries = chain(6)
    del entries[3]
    verdict = verify(entries)
    assert (verdict.ok, verdict.broken_at, verdict.problem) == (False, 5, "entry 4 is missing")


def test_a_pruned_chain_verifies_from_its_anchor():
    old = chain(4)
    rest = chain(3, start_seq=4, start_hash=old[-1]["hash"])
    assert verify(rest, 4, old[-1]["hash"]).ok
    assert not verify(rest).ok  # without the anchor its start is missing
    assert not verify(rest, 4, GENESIS).ok


def test_what_is_hashed_is_what_json_gives_back():
    value = {"at": T0, "items": (1, 2), "nested": {"b": 1, "a": [None, True]}}
    assert audit_chain.plain(value) == {"at": T0.isoformat(), "items": [1, 2],
                                        "nested": {"b": 1, "a": [None, True]}}
