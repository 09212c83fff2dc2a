"""Console users: Argon2 hashes, sessions that expire, and the sign-in throttle."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pigeon.core.errors import PigeonError
from pigeon.services import console_users as users


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


def test_the_throttle_counts_failures_per_email_and_forgets_them(pigeon):
    now = pigeon.now()
    for _ in range(users.MAX_FAILURES_PER_EMAIL):
        pigeon.db.read_sync(users.check_throttle, "dev@lark.example", "10.0.0.1", now)
        pigeon.db.write_sync(users.record_failure, "dev@lark.example", "10.0.0.1", now)
    with pytest.raises(PigeonError) as refused:
        pigeon.db.read_sync(users.check_throttle, "DEV@lark.example", "10.0.0.2", now)
    assert refused.value.code == "Throttling.User"
    pigeon.db.read_sync(users.check_throttle, "other@lark.example", "10.0.0.2", now)
    pigeon.db.read_sync(users.check_throttle, "dev@lark.example", "10.0.0.1",
                        now + users.FAILURE_WINDOW + timedelta(seconds=1))
