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


@pytest.mark.parametrize("per_template", [True, False], ids=["per template", "per signature"])
def test_on_postgresql_the_count_stays_an_index_lookup_as_messages_grow_from_none(
        pigeon, per_template):
    """psycopg prepares a statement run five times on a connection, and PostgreSQL may then
    keep one generic plan, costed with the statistics of that moment.  Costed on an empty
    table, the count's plan walked every message of the signature (ix_messages_signature): a
    SendSms cost 0.3 ms more at 2,000 stored messages and 2.5 ms at 16,000.  Pigeon's
    connections plan each execution for its values (store/database.py, _CUSTOM_PLANS)."""
    if pigeon.db.is_sqlite:
        pytest.skip("PostgreSQL's plan cache")
    since = datetime(2027, 1, 1, tzinfo=UTC)

    def count_then_grow_then_explain(conn):
        driver = Driver.of(conn)
        sql, params = sending._counted(driver, per_template, 1, 2, {"13800138000"},
                                       driver.time(since), 3)
        conn.exec_driver_sql(
            "INSERT INTO accounts (id, name, status, created_at) VALUES (1, 'Lark', 'active', "
            "now())")
        messages = (
            "INSERT INTO messages (biz_id, account_id, phone, country_code, carrier, "
            "signature_id, sign_name, template_id, template_code, template_type, content, "
            "segments, encoding, extend_code, status, attempts, price, charged, created_at) "
            "SELECT 'b' || g, 1, (13900000000 + g)::text, 86, 'mobile', 2, 's', 3, 'SMS_3', 3, "
            "'c', 1, 'mainland', '', 'queued', 0, 45, true, '2027-01-02' "
            "FROM generate_series(%d, %d) AS g")
        # A new deployment: a message at a time while psycopg prepares the count (at its fifth
        # run) and PostgreSQL, five runs of the prepared statement later, weighs a generic
        # plan for it; then thousands more messages.
        for n in range(1, 21):
            conn.exec_driver_sql(messages % (n, n))
            driver.run(conn, None, sql, params)
        conn.exec_driver_sql(messages % (21, 5000))
        name = conn.exec_driver_sql(
            "SELECT name FROM pg_prepared_statements WHERE statement LIKE 'SELECT phone%%'"
        ).scalar_one()
        values = ", ".join(f"'{value.isoformat()}'" if isinstance(value, datetime)
                           else repr(value) for value in params)
        return " ".join(row[0] for row in conn.exec_driver_sql(
            f"EXPLAIN EXECUTE {name}({values})"))

    found = pigeon.db.write_sync(count_then_grow_then_explain)
    assert "ix_messages_lookup" in found, found
