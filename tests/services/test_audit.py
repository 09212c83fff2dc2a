"""The audit trail in the database: one entry per change, in the change's own transaction,
one chain however many writers append at once, tampering found by ``verify``, and retention
that keeps what remains verifiable."""

from __future__ import annotations

import threading
from datetime import timedelta

from sqlalchemy import select, update

from pigeon.app import Pigeon
from pigeon.core.errors import PigeonError
from pigeon.services import accounts, audit
from pigeon.store.tables import audit_entries

WHO = audit.Actor("cli", "alice", "host-1")


def entries(pigeon, **filters) -> list[dict]:
    return pigeon.db.read_sync(audit.entries, limit=1000, **filters)


def test_a_change_is_recorded_with_who_where_before_and_after(pigeon):
    with audit.as_actor(WHO):
        made = pigeon.db.write_sync(accounts.create_account, "Lark", pigeon.now())
        account_id = int(made["AccountId"])
        key = pigeon.db.write_sync(accounts.create_access_key, pigeon.box, account_id,
                                   pigeon.now())
        pigeon.db.write_sync(accounts.set_account_status, account_id, "suspended")
    created, key_made, suspended = reversed(entries(pigeon, account_id=account_id))
    assert (created["action"], created["actor_kind"], created["actor"], created["source"]) == \
        ("account.create", "cli", "alice", "host-1")
    assert (suspended["action"], suspended["target"], suspended["before"],
            suspended["after"]) == ("account.suspend", f"account:{account_id}",
                                    {"Status": "active"}, {"Status": "suspended"})
    assert key_made["after"] == {"AccessKeyId": key["AccessKeyId"], "Status": "enabled"}
    assert key["AccessKeySecret"] not in str(entries(pigeon))  # never a secret


def test_a_change_that_fails_leaves_no_entry(pigeon):
    before = len(entries(pigeon))
    try:
        pigeon.db.write_sync(accounts.set_account_status, 1234567890123456, "suspended")
    except PigeonError:
        pass
    assert len(entries(pigeon)) == before


def test_a_modified_entry_breaks_the_chain_and_verify_says_where(pigeon):
    with audit.as_actor(WHO):
        for name in ("A", "B", "C", "D"):
            pigeon.db.write_sync(accounts.create_account, name, pigeon.now())
    assert pigeon.db.read_sync(audit.verify).ok
    pigeon.db.write_sync(lambda conn: conn.execute(
        update(audit_entries).where(audit_entries.c.seq == 3).values(actor="mallory")))
    verdict = pigeon.db.read_sync(audit.verify)
    assert (verdict.ok, verdict.broken_at, verdict.checked) == (False, 3, 2)


def test_writers_appending_at_once_keep_one_chain(settings):
    # Two Pigeons on one database (two nodes: two writers, two connections), eight threads.
    first, second = Pigeon(settings), Pigeon(settings)
    try:
        def work(pigeon, n):
            with audit.as_actor(audit.Actor("cli", f"worker-{n}", "host")):
                for i in range(10):
                    pigeon.db.write_sync(accounts.create_account, f"T{n}-{i}", pigeon.now())

        threads = [threading.Thread(target=work, args=((first, second)[n % 2], n))
                   for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        verdict = first.db.read_sync(audit.verify)
        assert (verdict.ok, verdict.checked) == (True, 80)
        seqs = first.db.read_sync(lambda conn: conn.scalars(
            select(audit_entries.c.seq).order_by(audit_entries.c.seq)).all())
        assert seqs == list(range(1, 81))
    finally:
        first.close()
        second.close()


def test_retention_drops_old_entries_and_what_remains_still_verifies(pigeon):
    old = pigeon.now() - timedelta(days=500)
    with audit.as_actor(WHO):
        for name in ("A", "B", "C"):
            pigeon.db.write_sync(accounts.create_account, name, old)
        pigeon.db.write_sync(accounts.create_account, "D", pigeon.now())
    import asyncio

    async def purge():
        pigeon.db.attach()
        try:
            return await audit.purge(pigeon.db, pigeon.now(), timedelta(days=400), chunk=2)
        finally:
            pigeon.db.detach()

    assert asyncio.run(purge()) == 3
    actions = [e["action"] for e in reversed(entries(pigeon))]
    assert actions == ["account.create", "audit.pruned", "audit.pruned"]
    verdict = pigeon.db.read_sync(audit.verify)
    assert (verdict.ok, verdict.checked) == (True, 3)
    # The first entry that remains must be the one after those dropped: removing it is found.
    pigeon.db.write_sync(lambda conn: conn.execute(
        audit_entries.delete().where(audit_entries.c.action == "account.create")))
    assert not pigeon.db.read_sync(audit.verify).ok
