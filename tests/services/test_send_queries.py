"""The send path's reads search an index, whatever is stored: their query plans on SQLite."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime

import pytest

from pigeon.services import sending
from pigeon.store.database import Driver


def plan(pigeon, sql: str, params: tuple) -> str:
    database = pigeon.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(database) as raw:
        return " ".join(row[-1] for row in raw.execute(f"EXPLAIN QUERY PLAN {sql}", params))


@pytest.mark.parametrize("count", [1, 2, 10, 100])
@pytest.mark.parametrize("per_template", [True, False], ids=["per template", "per signature"])
def test_the_per_number_count_reads_the_numbers_own_rows(pigeon, count, per_template):
    if not pigeon.db.is_sqlite:
        pytest.skip("reads SQLite's query plans")
    driver = Driver("sqlite")
    phones = {str(13800138000 + n) for n in range(count)}
    sql, params = sending._counted(driver, per_template, 1, 2, phones,
                                   driver.time(datetime(2027, 1, 1, tzinfo=UTC)), 3)
    found = plan(pigeon, sql, params)
    assert "SEARCH messages USING INDEX ix_messages_lookup (account_id=? AND phone=?" in found, \
        found
