"""Nonces in the database: one row per (AccessKeyId, nonce), whatever the nonce, and gone
once past the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from pigeon import metrics
from pigeon.services import nonces
from pigeon.store.tables import nonces as table
from tests.support.writer import one_group

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def use(pigeon, key: str, nonce: str, now=NOW, expires=NOW + WINDOW) -> bool:
    return pigeon.db.write_sync(nonces.use, nonces.Nonce.of(key, nonce, expires), now)


def rows(pigeon) -> int:
    return pigeon.db.read_sync(lambda conn: conn.scalar(select(func.count())
                                                        .select_from(table)))


def test_a_nonce_is_used_once_per_key(pigeon):
    assert use(pigeon, "key-1", "n")
    assert not use(pigeon, "key-1", "n")
    assert use(pigeon, "key-2", "n")
    assert rows(pigeon) == 2


def test_a_long_nonce_costs_a_row_of_the_same_size(pigeon):
    short = nonces.Nonce.of("key", "n", NOW)
    long = nonces.Nonce.of("key", "n" * 255, NOW)
    assert len(short.digest) == len(long.digest) == 16
    assert short.digest != long.digest


def test_a_row_past_its_expiry_counts_as_none_until_purged(pigeon):
    assert use(pigeon, "key", "n", expires=NOW + timedelta(minutes=1))
    assert not use(pigeon, "key", "n", now=NOW + timedelta(minutes=1))
    later = NOW + timedelta(minutes=1, seconds=1)
    assert use(pigeon, "key", "n", now=later, expires=later + WINDOW)
    assert not use(pigeon, "key", "n", now=later)


def test_purge_drops_the_expired_rows_chunk_by_chunk(pigeon):
    for number in range(5):
        use(pigeon, "key", f"old-{number}", expires=NOW + timedelta(minutes=1))
    use(pigeon, "key", "fresh", expires=NOW + WINDOW)
    later = NOW + timedelta(minutes=2)
    assert pigeon.db.write_sync(nonces.purge, later, 3) == 3
    assert pigeon.db.write_sync(nonces.purge, later, 3) == 2
    assert pigeon.db.write_sync(nonces.purge, later, 3) == 0
    assert rows(pigeon) == 1
    assert not use(pigeon, "key", "fresh", now=later)


def used_in_one_group(pigeon, calls: list[tuple[str, str]]) -> list[bool]:
    """``use()`` of each (key, nonce) at NOW queued while the writer is held: one group,
    where they run as one statement (store.database.mergeable)."""
    with one_group(pigeon.db):
        futures = [pigeon.db.submit_write(nonces.use, nonces.Nonce.of(key, nonce,
                                                                      NOW + WINDOW), NOW)
                   for key, nonce in calls]
    return [future.result(30) for future in futures]


def merged() -> float:
    return metrics.REGISTRY.get_sample_value("pigeon_db_merged_units_total") or 0


def test_nonces_used_together_are_recorded_by_one_statement(pigeon):
    before = merged()
    assert used_in_one_group(pigeon, [("key", "a"), ("key", "b"), ("other", "a")]) == [True] * 3
    assert merged() == before + 3
    assert rows(pigeon) == 3
    assert not use(pigeon, "key", "b")


def test_a_replay_among_nonces_used_together_is_told_from_the_rest(pigeon):
    assert use(pigeon, "key", "old", expires=NOW + timedelta(minutes=1))
    assert use(pigeon, "key", "expired", expires=NOW - timedelta(seconds=1))
    before = merged()
    assert used_in_one_group(pigeon, [("key", "a"), ("key", "old"), ("key", "b")]) == \
        [True, False, True]
    assert used_in_one_group(pigeon, [("key", "c"), ("key", "c")]) == [True, False]
    assert merged() == before  # both declined: one by one
    # A row past its expiry is no replay, merged or not.
    assert used_in_one_group(pigeon, [("key", "expired"), ("key", "d")]) == [True, True]
    assert merged() == before + 2
    assert rows(pigeon) == 6
