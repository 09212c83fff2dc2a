"""A tenant's money is debited at the end of the writer's group (``sending._settle``): the
calls of one group count what the earlier ones owe, and a debit another node made meanwhile
undoes the group, which runs again under the account's lock — never overdrawn."""

from __future__ import annotations

import psycopg
import pytest

from pigeon import metrics
from pigeon.core import pricing
from pigeon.core.errors import PigeonError
from pigeon.services import billing, sending
from pigeon.store.database import CAUTIOUS
from tests.support.sending import money_of, ready_to_send
from tests.support.writer import one_group

PRICE = pricing.DEFAULT_PRICES[pricing.NOTIFICATION]  # one segment's


@pytest.fixture
def sender(pigeon, server, tenant, core_sdk):
    return ready_to_send(pigeon, core_sdk, tenant.account_id, balance_cny=0)


def call(sender, phone: str) -> sending.SendRequest:
    return sending.SendRequest(template_code=sender.notice, recipients=[
        sending.Recipient(phone=phone, sign_name=sender.sign, params={"order": "A1"})])


def test_the_calls_of_one_group_count_what_the_earlier_ones_owe(pigeon, sender):
    pigeon.db.write_sync(billing.topup, sender.account_id, PRICE, pigeon.now())
    now = pigeon.now()
    with one_group(pigeon.db):  # the two calls queue for one group
        first, second = (pigeon.db.submit_write(sending.accept, pigeon.send_policy,
                                                sender.account_id, call(sender, phone), now)
                         for phone in ("13800138000", "13900139000"))
    assert set(first.result(30)) == {"BizId"}
    with pytest.raises(PigeonError) as refused:
        second.result(30)
    assert refused.value.code == "isv.AMOUNT_NOT_ENOUGH"
    assert money_of(pigeon, sender.account_id) == (0, -PRICE, 1)


def test_a_debit_made_elsewhere_meanwhile_runs_the_group_again_under_the_lock(
        pigeon, sender, database_url):
    if pigeon.db.is_sqlite:
        pytest.skip("SQLite: the writer's transaction holds the only write lock; no one else "
                    "can debit meanwhile")
    pigeon.db.write_sync(billing.topup, sender.account_id, PRICE, pigeon.now())
    other = psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://"),
                            autocommit=True)
    other.execute("SET statement_timeout = '10s'")  # a lock held by the group would fail it
    runs: list[bool] = []
    conflicts = metrics.REGISTRY.get_sample_value("pigeon_db_group_conflicts_total") or 0

    def send_while_another_node_spends(conn):
        runs.append(bool(conn.info.get(CAUTIOUS)))
        answer = sending.accept(conn, pigeon.send_policy, sender.account_id,
                                call(sender, "13800138000"), pigeon.now())
        if len(runs) == 1:  # the call read the balance; another node spends it, and commits
            other.execute("UPDATE balances SET amount = 0 WHERE account_id = %s",
                          (sender.account_id,))
        return answer

    try:
        with pytest.raises(PigeonError) as refused:
            pigeon.db.write_sync(send_while_another_node_spends)
    finally:
        other.close()
    assert refused.value.code == "isv.AMOUNT_NOT_ENOUGH"
    assert runs == [False, True]  # undone at the group's end, then decided under the lock
    assert money_of(pigeon, sender.account_id) == (0, 0, 0)
    assert metrics.REGISTRY.get_sample_value("pigeon_db_group_conflicts_total") == conflicts + 1


def test_a_groups_ledger_rows_are_written_in_inserts_of_bounded_size(pigeon, sender,
                                                                   monkeypatch):
    monkeypatch.setattr(sending, "_LEDGER_ROWS", 7)  # 15 rows: 7 + 7 + 1
    pigeon.db.write_sync(billing.topup, sender.account_id, 100_000, pigeon.now())
    now = pigeon.now()
    calls = [sending.SendRequest(template_code=sender.notice, recipients=[
        sending.Recipient(phone=f"1380013{first + n:04d}", sign_name=sender.sign,
                          params={"order": "A1"}) for n in range(5)])
        for first in (0, 5, 10)]  # 15 messages in one group
    with one_group(pigeon.db):
        accepted = [pigeon.db.submit_write(sending.accept, pigeon.send_policy,
                                           sender.account_id, request, now)
                    for request in calls]
    assert all(set(future.result(30)) == {"BizId"} for future in accepted)
    assert money_of(pigeon, sender.account_id) == (100_000 - 15 * PRICE, -15 * PRICE, 15)
