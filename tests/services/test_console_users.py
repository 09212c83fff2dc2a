"""Console users: Argon2 hashes, sessions that expire, and the sign-in throttle."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from pigeon.core.errors import PigeonError
from pigeon.services import console_users as users
from pigeon.store.database import Database


def test_passwords_are_stored_as_argon2_hashes_and_checked(pigeon, tenant):
    password_hash = users.hash_password("correct horse battery")
    assert password_hash.startswith("$argon2id$")
    pigeon.db.write_sync(users.create_user, tenant.account_id, " Dev@Lark.example ",
                         password_hash, pigeon.now())
    user_id, stored = pigeon.db.read_sync(users.password_hash_of, "dev@lark.example")
    assert stored == password_hash and user_id is not None
    assert users.verify_password(stored, "correct horse battery")
    assert not users.verify_password(stored, "correct horse battery!")
    assert not users.verify_password(None, "correct horse battery")
    assert [u["email"] for u in pigeon.db.read_sync(users.list_users, tenant.account_id)] == \
        ["dev@lark.example"]


def test_short_passwords_bad_emails_and_unknown_accounts_are_refused(pigeon):
    with pytest.raises(PigeonError, match="at least 10"):
        users.hash_password("short")
    with pytest.raises(PigeonError, match="not an email"):
        pigeon.db.write_sync(users.create_user, None, "nobody", "x", pigeon.now())
    with pytest.raises(PigeonError, match="does not exist"):
        pigeon.db.write_sync(users.create_user, 1234567890123456, "a@b.example", "x",
                             pigeon.now())


def test_a_session_lasts_its_lifetime_then_opens_nothing(pigeon, tenant):
    created = pigeon.db.write_sync(users.create_user, tenant.account_id, "dev@lark.example",
                                   users.hash_password("correct horse battery"), pigeon.now())
    now = pigeon.now()
    token, csrf = pigeon.db.write_sync(users.open_session, created["id"], now)
    seen = pigeon.db.read_sync(users.session_user, token, now + timedelta(hours=1))
    assert seen["csrf"] == csrf and seen["account_id"] == tenant.account_id
    assert not seen["operator"]
    later = now + users.SESSION_LIFETIME + timedelta(seconds=1)
    assert pigeon.db.read_sync(users.session_user, token, later) is None


def attempt(pigeon, email: str, client: str, now, db=None) -> int | None:
    """One sign-in attempt as the console makes it: its id if its password may be checked
    (then it counts as a failure until :func:`users.end_attempt` says otherwise), None if the
    throttle refused it (and recorded nothing)."""
    try:
        return (db or pigeon.db).write_sync(users.begin_attempt, email, client, now)
    except PigeonError as refused:
        assert refused.code == "Throttling.User" and "try again in" in refused.message
        return None


def test_one_email_from_one_address_cools_down_after_five_failures(pigeon):
    now = pigeon.now()
    for _ in range(users.MAX_FAILURES_PER_PAIR):
        assert attempt(pigeon, "dev@lark.example", "10.0.0.1", now) is not None
    assert attempt(pigeon, "DEV@lark.example ", "10.0.0.1", now) is None
    # Nobody else is concerned: the same email elsewhere, another email at the same address.
    assert attempt(pigeon, "dev@lark.example", "10.0.0.2", now) is not None
    assert attempt(pigeon, "ops@pigeon.example", "10.0.0.1", now) is not None
    later = now + users.FAILURE_WINDOW + timedelta(seconds=1)
    assert attempt(pigeon, "dev@lark.example", "10.0.0.1", later) is not None


def test_many_failures_from_many_addresses_slow_an_email_to_one_attempt_a_minute(pigeon):
    now = pigeon.now()
    for n in range(users.MAX_FAILURES_PER_EMAIL):
        assert attempt(pigeon, "dev@lark.example", f"10.0.0.{n}", now) is not None
    assert attempt(pigeon, "dev@lark.example", "10.0.1.1", now) is None
    minute = now + users.EMAIL_PACE + timedelta(seconds=1)
    assert attempt(pigeon, "dev@lark.example", "10.0.1.1", minute) is not None
    assert attempt(pigeon, "dev@lark.example", "10.0.1.2", minute) is None


def test_forty_attempts_racing_from_two_processes_get_exactly_five_checks(pigeon):
    # A second Database is a second process (or node): its own writer and connection.
    other = Database(pigeon.database_url).start()
    now = pigeon.now()
    try:
        with ThreadPoolExecutor(20) as pool:
            ids = list(pool.map(lambda db: attempt(pigeon, "dev@lark.example", "10.0.0.1",
                                                   now, db), [pigeon.db, other] * 20))
    finally:
        other.close()
    assert len([i for i in ids if i is not None]) == users.MAX_FAILURES_PER_PAIR
    assert attempt(pigeon, "dev@lark.example", "10.0.0.1", now) is None  # cooling down


def test_signing_in_forgets_the_address_failures_for_that_email(pigeon):
    now = pigeon.now()
    for _ in range(users.MAX_FAILURES_PER_PAIR - 1):
        attempt(pigeon, "dev@lark.example", "10.0.0.1", now)
    good = attempt(pigeon, "dev@lark.example", "10.0.0.1", now)
    pigeon.db.write_sync(users.end_attempt, good, "dev@lark.example", "10.0.0.1",
                         signed_in=True)
    for _ in range(users.MAX_FAILURES_PER_PAIR):
        assert attempt(pigeon, "dev@lark.example", "10.0.0.1", now) is not None
