"""Console users, their sessions and the sign-in throttle.

A console user is a tenant's user (``account_id`` set: that account's pages only) or an
operator (``account_id`` NULL: the review pages and every tenant).  Passwords are hashed with
Argon2id (argon2-cffi's defaults); hashing and checking take tens of milliseconds of CPU on
purpose, so callers run :func:`hash_password` and :func:`verify_password` off the event loop
and outside database transactions, and the transactions here only read and write rows.

A session is a random token in an HttpOnly cookie; the database keeps only its SHA-256, so a
copy of the database opens no session.  Each session has its own CSRF token, which every form
posts back.

Sign-in is throttled by email and by client address: after :data:`MAX_FAILURES_PER_EMAIL`
(or :data:`MAX_FAILURES_PER_CLIENT`) failures within :data:`FAILURE_WINDOW`, attempts are
refused until the oldest failure leaves the window — also with the right password, so that a
guesser learns nothing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from pigeon.core.errors import PigeonError
from pigeon.services.accounts import require_account
from pigeon.store.tables import console_sessions, console_sign_in_failures, console_users

SESSION_LIFETIME = timedelta(hours=12)
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_EMAIL = 5
MAX_FAILURES_PER_CLIENT = 20
MIN_PASSWORD_LENGTH = 10

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_hasher = PasswordHasher()
# Checked when the email is unknown, so that an unknown email costs as long as a wrong password.
_DUMMY_HASH = _hasher.hash("pigeon: no such user")


def normalize_email(email: str) -> str:
    """The stored form of an email address (trimmed, lower-case), or ``isv.INVALID_PARAMETERS``."""
    text = (email or "").strip().lower()
    if len(text) > 254 or not _EMAIL.fullmatch(text):
        raise PigeonError("isv.INVALID_PARAMETERS", f"{email!r} is not an email address.")
    return text


def hash_password(password: str) -> str:
    """The Argon2id hash of a new password; ``isv.INVALID_PARAMETERS`` if it is too short."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"A console password has at least {MIN_PASSWORD_LENGTH} characters.")
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; a missing user (``None``) costs the same and is False."""
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and \
            password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def _public(row) -> dict:
    return {"id": row["id"], "account_id": row["account_id"], "email": row["email"],
            "operator": row["account_id"] is None, "created_at": row["created_at"]}


def create_user(conn: Connection, account_id: int | None, email: str, password_hash: str,
                now: datetime) -> dict:
    """A console user of ``account_id`` (``None``: an operator), with a hash from
    :func:`hash_password`.  An email signs in to one user only."""
    email = normalize_email(email)
    if account_id is not None:
        require_account(conn, account_id)
    try:
        with conn.begin_nested():
            user_id = conn.execute(insert(console_users).values(
                account_id=account_id, email=email, password_hash=password_hash,
                created_at=now)).inserted_primary_key[0]
    except IntegrityError:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"A console user {email} exists already.") from None
    return {"id": user_id, "account_id": None if account_id is None else str(account_id),
            "email": email, "operator": account_id is None}


def list_users(conn: Connection, account_id: int | None = None) -> list[dict]:
    """Console users, of one account when ``account_id`` is given; never their hashes."""
    query = select(console_users).order_by(console_users.c.id)
    if account_id is not None:
        query = query.where(console_users.c.account_id == account_id)
    return [_public(row) for row in conn.execute(query).mappings()]


def password_hash_of(conn: Connection, email: str) -> tuple[int | None, str | None]:
    """``(user id, hash)`` of the email's user, ``(None, None)`` for an unknown email."""
    try:
        email = normalize_email(email)
    except PigeonError:
        return None, None
    row = conn.execute(select(console_users.c.id, console_users.c.password_hash)
                       .where(console_users.c.email == email)).first()
    return (None, None) if row is None else (row.id, row.password_hash)


# -- throttle ------------------------------------------------------------------------------------

def check_throttle(conn: Connection, email: str, client: str, now: datetime) -> None:
    """``Throttling.User`` when the email or the client failed too often recently."""
    since = now - FAILURE_WINDOW
    email = (email or "").strip().lower()[:254]
    by_email = conn.scalar(select(func.count()).select_from(console_sign_in_failures).where(
        console_sign_in_failures.c.email == email,
        console_sign_in_failures.c.created_at > since))
    by_client = conn.scalar(select(func.count()).select_from(console_sign_in_failures).where(
        console_sign_in_failures.c.client == client[:64],
        console_sign_in_failures.c.created_at > since))
    if by_email >= MAX_FAILURES_PER_EMAIL or by_client >= MAX_FAILURES_PER_CLIENT:
        minutes = int(FAILURE_WINDOW.total_seconds() // 60)
        raise PigeonError("Throttling.User",
                          f"Too many failed sign-ins; try again in {minutes} minutes.")


def record_failure(conn: Connection, email: str, client: str, now: datetime) -> None:
    conn.execute(delete(console_sign_in_failures).where(
        console_sign_in_failures.c.created_at <= now - FAILURE_WINDOW))
    conn.execute(insert(console_sign_in_failures).values(
        email=(email or "").strip().lower()[:254], client=client[:64], created_at=now))


# -- sessions ------------------------------------------------------------------------------------

def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(conn: Connection, user_id: int, now: datetime) -> tuple[str, str]:
    """A new session for the user: ``(cookie token, CSRF token)``.  Expired sessions go."""
    conn.execute(delete(console_sessions).where(console_sessions.c.expires_at <= now))
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    conn.execute(insert(console_sessions).values(
        id=_token_id(token), user_id=user_id, csrf=csrf, expires_at=now + SESSION_LIFETIME,
        created_at=now))
    return token, csrf


def session_user(conn: Connection, token: str, now: datetime) -> dict | None:
    """The signed-in user of a cookie token (with ``csrf``), or None: unknown or expired."""
    if not token or len(token) > 100:
        return None
    row = conn.execute(
        select(console_users, console_sessions.c.csrf)
        .join(console_sessions, console_sessions.c.user_id == console_users.c.id)
        .where(console_sessions.c.id == _token_id(token),
               console_sessions.c.expires_at > now)).mappings().first()
    if row is None:
        return None
    return {**_public(row), "csrf": row["csrf"]}


def close_session(conn: Connection, token: str) -> None:
    conn.execute(delete(console_sessions).where(console_sessions.c.id == _token_id(token)))
