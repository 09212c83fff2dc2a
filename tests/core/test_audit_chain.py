"""The audit trail's hash chain: any change to an entry, or a missing one, is found, and
verify says where."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from pigeon.core import audit_chain
from pigeon.core.audit_chain import GENESIS, entry_hash, verify

T0 = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)

# Surviving mutants, explained (scripts/mutation core audit_chain):
# - plain: json.dumps with ensure_ascii True (or None, or left out) instead of False: json.loads
#   turns the \u escapes back into the same characters, so the value given back is the same.
# - entry_hash: ensure_ascii=None instead of False: both are false, the text is the same.
# - entry_hash: text.encode("UTF-8") instead of "utf-8": the same codec.
# - verify: `seq >= expected_seq` instead of `>` inside `if seq != expected_seq`: the two
#   are never equal there.


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


def broken(entries: list[dict], *, checked: int, at: int, problem: str):
    """The verdict of a chain broken at seq ``at``: its head is the last entry that held."""
    return audit_chain.Verdict(False, checked, at - 1, entries[at - 2]["hash"], at, problem)


def test_a_failed_verdict_names_the_last_good_entry_and_the_problem():
    entries = chain(6)
    changed = entries[:2] + [entries[2] | {"actor": "mallory"}] + entries[3:]
    assert verify(changed) == broken(entries, checked=2, at=3, problem=(
        "entry 3 was changed after it was written (its hash does not match its fields)"))

    forged = entries[1] | {"actor": "mallory"}
    forged["hash"] = entry_hash(forged)
    rehashed = [entries[0], forged] + entries[2:]
    assert verify(rehashed) == broken(rehashed, checked=2, at=3, problem=(
        "entry 3 does not follow entry 2 (its prev_hash is not that entry's hash): an entry "
        "before it was changed or replaced"))


@pytest.mark.parametrize("removed, arriving, problem", [
    ([3], 4, "entry 3 is missing"),
    ([3, 4], 5, "entries 3 to 4 are missing"),
    ([3, 4, 5], 6, "entries 3 to 5 are missing"),
])
def test_missing_entries_are_named_with_the_last_good_one(removed, arriving, problem):
    entries = chain(6)
    kept = [entry for entry in entries if entry["seq"] not in removed]
    assert verify(kept) == audit_chain.Verdict(False, 2, 2, entries[1]["hash"], arriving,
                                               problem)


def test_an_entry_seen_again_is_named():
    entries = chain(4)
    verdict = verify(entries + [entries[2]])
    assert verdict == audit_chain.Verdict(False, 4, 4, entries[3]["hash"], 3,
                                          "entry 3 comes again after 4")


def test_a_broken_pruned_chain_counts_from_its_anchor():
    old = chain(4)
    rest = chain(3, start_seq=4, start_hash=old[-1]["hash"])
    assert verify(rest[1:], 4, old[-1]["hash"]) == audit_chain.Verdict(
        False, 0, 4, old[-1]["hash"], 6, "entry 5 is missing")


# An entry and its hash written by hand: hashes are stored, so the recipe (sorted keys, no
# spaces, UTF-8 not escaped, the time in UTC with microseconds) may never drift, or every chain
# written before breaks.
PINNED = {"seq": 1, "at": datetime(2027, 3, 1, 17, 30, 0, 5, tzinfo=ZoneInfo("Asia/Shanghai")),
          "actor_kind": "console", "actor": "李雷", "source": "10.0.0.1", "account_id": 1001,
          "action": "sign.approve", "target": "sign:7", "before": {"Status": "审核中"},
          "after": None, "prev_hash": GENESIS}
PINNED_TEXT = ('{"account_id":1001,"action":"sign.approve","actor":"李雷","actor_kind":"console",'
               '"after":null,"at":"2027-03-01T09:30:00.000005","before":{"Status":"审核中"},'
               f'"prev_hash":"{GENESIS}","seq":1,"source":"10.0.0.1","target":"sign:7"}}')
PINNED_HASH = "09b40b4f312bd63e9c02992b834d9188fd460a2e9107177082b4b1a465dee0f0"


def test_the_hash_is_sha256_of_canonical_json():
    assert hashlib.sha256(PINNED_TEXT.encode()).hexdigest() == PINNED_HASH
    assert entry_hash(PINNED) == PINNED_HASH


def test_the_hash_does_not_depend_on_the_machines_time_zone(machine_east_of_utc):
    assert datetime(2027, 1, 1, tzinfo=UTC).astimezone().utcoffset() == timedelta(hours=9)
    assert entry_hash(PINNED) == PINNED_HASH
    assert entry_hash(PINNED | {"at": PINNED["at"].astimezone(UTC)}) == PINNED_HASH


def test_what_is_hashed_is_what_json_gives_back():
    value = {"at": T0, "items": (1, 2), "nested": {"b": 1, "a": [None, True]},
             "price": Decimal("0.045"), "name": "李雷"}
    assert audit_chain.plain(value) == {"at": T0.isoformat(), "items": [1, 2],
                                        "nested": {"b": 1, "a": [None, True]},
                                        "price": "0.045", "name": "李雷"}
