"""Nonces in the database: one row per (AccessKeyId, nonce), whatever the nonce, and gone
once past the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from pigeon.services import nonces
from pigeon.store.tables import nonces as table

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
