"""The audit trail's hash chain: how an entry's hash is made, and how a chain is checked.

Each entry's ``hash`` is the SHA-256 of its fields — ``seq``, ``at``, who (``actor_kind``,
``actor``, ``source``), ``account_id``, ``action``, ``target``, ``before``, ``after`` — and of
the previous entry's hash (``prev_hash``; the first entry's is :data:`GENESIS`), written as
canonical JSON (sorted keys, no spaces, UTF-8).  Changing any field of an entry breaks its
hash; removing or inserting one breaks the link of the next; a gap in ``seq`` shows where.
Entries dropped by the retention rule leave an ``audit.pruned`` entry naming the last
dropped one (its ``seq`` and ``hash``), where the remaining chain is checked from.

What a chain cannot show alone: the newest entries removed, or every hash recomputed by
someone who can write the database.  ``pigeon audit verify`` prints the head (the newest
entry's ``seq`` and ``hash``): kept elsewhere, it anchors the chain against both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64
PRUNED = "audit.pruned"
"""The action of the entry that records a retention drop: ``after`` holds ``through_seq``,
``through_hash`` (the last entry dropped) and ``entries`` (how many)."""

FIELDS = ("seq", "at", "actor_kind", "actor", "source", "account_id", "action", "target",
          "before", "after", "prev_hash")


def plain(value: Any) -> Any:
    """``value`` as JSON will store and give it back (datetimes as ISO 8601 text, tuples as
    lists): what the hash is computed over must be what is read back later."""
    return json.loads(json.dumps(value, ensure_ascii=False, default=_text))


def _text(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _moment(at: datetime) -> str:
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


def entry_hash(entry: Mapping[str, Any]) -> str:
    """The hash of an entry with the :data:`FIELDS` (``at`` an aware datetime)."""
    fields = {name: entry[name] for name in FIELDS}
    fields["at"] = _moment(entry["at"])
    text = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Verdict:
    """What :func:`verify` found: ``ok``, how many entries it checked, the head (the newest
    entry's seq and hash), and where the chain breaks first and why."""

    ok: bool
    checked: int
    head_seq: int
    head_hash: str
    broken_at: int | None = None  # the seq of the first entry that fails
    problem: str | None = None


def verify(entries: Iterable[Mapping[str, Any]], start_seq: int = 0,
           start_hash: str = GENESIS) -> Verdict:
    """Check ``entries`` (in ``seq`` order) as a chain following entry ``start_seq`` whose
    hash is ``start_hash`` (0 and :data:`GENESIS`: from the beginning)."""
    expected_seq, expected_prev = start_seq + 1, start_hash
    checked = 0
    for entry in entries:
        seq = entry["seq"]
        if seq != expected_seq:
            if seq > expected_seq:
                problem = (f"entries {expected_seq} to {seq - 1} are missing" if seq - 1 >
                           expected_seq else f"entry {expected_seq} is missing")
            else:
                problem = f"entry {seq} comes again after {expected_seq - 1}"
            return Verdict(False, checked, expected_seq - 1, expected_prev, seq, problem)
        if entry["prev_hash"] != expected_prev:
            return Verdict(False, checked, expected_seq - 1, expected_prev, seq,
                           f"entry {seq} does not follow entry {seq - 1} (its prev_hash is "
                           "not that entry's hash): an entry before it was changed or "
                           "replaced")
        if entry_hash(entry) != entry["hash"]:
            return Verdict(False, checked, expected_seq - 1, expected_prev, seq,
                           f"entry {seq} was changed after it was written (its hash does "
                           "not match its fields)")
        checked += 1
        expected_seq, expected_prev = seq + 1, entry["hash"]
    return Verdict(True, checked, expected_seq - 1, expected_prev)
