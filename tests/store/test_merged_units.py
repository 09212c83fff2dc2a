"""Units of one function queued in one writer group run as one call where the function says
they may (store.database.mergeable); a merge that raises is undone whole, and its units run
one by one as if it had never been tried."""

from __future__ import annotations

import pytest

from pigeon import metrics
from pigeon.store.database import Declined, Raised, after_commit, mergeable
from tests.support.writer import one_group

merges: list[list[tuple]] = []
committed: list[str] = []


def _key(n: int, group: str) -> str | None:
    return None if group == "alone" else group


def _all(conn, calls: list[tuple]) -> list[int]:
    merges.append(calls)
    values: list = []
    for n, _group in calls:
        if n == 7:  # refused: nothing written for it
            values.append(Raised(ValueError("seven")))
            continue
        conn.exec_driver_sql(f"INSERT INTO merged_rows (n) VALUES ({n})")
        values.append(n * 10)
    if any(n < 0 for n, _ in calls):
        raise Declined("a negative number is written alone")
    if any(n == 13 for n, _ in calls):
        raise RuntimeError("unlucky")
    after_commit(conn, lambda: committed.append("merged"))
    return values


@mergeable(_key, _all)
def write_one(conn, n: int, group: str) -> int:
    conn.exec_driver_sql(f"INSERT INTO merged_rows (n) VALUES ({n})")
    if n in (7, 13):
        raise ValueError("unlucky")
    after_commit(conn, lambda: committed.append(f"one {n}"))
    return n * 10


@pytest.fixture
def db(pigeon):
    pigeon.db.write_sync(lambda conn: conn.exec_driver_sql(
        "CREATE TABLE merged_rows (n INTEGER NOT NULL)"))
    merges.clear()
    committed.clear()
    return pigeon.db


def in_one_group(db, calls: list[tuple]) -> list:
    """``calls`` queued while the writer is held: one group.  Each one's value or error."""
    with one_group(db):
        futures = [db.submit_write(write_one, *call) for call in calls]
    return [future.exception(30) or future.result(30) for future in futures]


def rows(db) -> list[int]:
    return db.read_sync(lambda conn: sorted(
        n for n, in conn.exec_driver_sql("SELECT n FROM merged_rows").all()))


def merged() -> float:
    return metrics.REGISTRY.get_sample_value("pigeon_db_merged_units_total") or 0


def test_units_with_one_key_in_a_row_run_as_one_call(db):
    before = merged()
    values = in_one_group(db, [(1, "a"), (2, "a"), (3, "b"), (4, "alone"), (5, "a"), (6, "a")])
    assert values == [10, 20, 30, 40, 50, 60]
    assert merges == [[(1, "a"), (2, "a")], [(5, "a"), (6, "a")]]
    assert merged() == before + 4
    assert rows(db) == [1, 2, 3, 4, 5, 6]
    assert committed == ["merged", "one 3", "one 4", "merged"]


@pytest.mark.parametrize("refused", [-1, 13], ids=["declined", "failed"])
def test_a_merge_that_raises_is_undone_and_its_units_run_one_by_one(db, refused):
    before = merged()
    values = in_one_group(db, [(1, "a"), (refused, "a"), (2, "a")])
    assert len(merges) == 1  # tried once, not again for what is left of the run
    assert merged() == before
    assert values[0] == 10 and values[2] == 20
    if refused == 13:
        assert isinstance(values[1], ValueError)  # its own error, alone
        assert rows(db) == [1, 2]
        assert committed == ["one 1", "one 2"]
    else:
        assert values[1] == -10
        assert rows(db) == [-1, 1, 2]
        assert committed == ["one 1", "one -1", "one 2"]


def test_a_merge_fails_a_unit_as_the_unit_alone_would(db):
    before = merged()
    values = in_one_group(db, [(1, "a"), (7, "a"), (2, "a")])
    assert values[0] == 10 and values[2] == 20
    assert isinstance(values[1], ValueError)  # raised to its caller
    assert merged() == before + 3
    assert rows(db) == [1, 2]
    assert committed == ["merged"]
