"""Console users, their sessions and the sign-in throttle.

A console user is a tenant's user (``account_id`` set: that account's pages only) or an
operator (``account_id`` NULL: the review pages and every tenant).  Passwords are hashed with
Argon2id (argon2-cffi's defaults); hashing and checking take tens of milliseconds of CPU on
purpose, so callers run :func:`hash_password` and :func:`verify_password` off the event loop
and outside database transactions, and the transactions here only read and write rows.

A session is a random token in an HttpOnly cookie; the database keeps only its SHA-256, so a
copy of the database opens no session.  Each session has its own CSRF token, which every form
posts back.

Sign-in is throttled, and the database decides, for every process and node at once
(:func:`begin_attempt`, :func:`end_attempt`):

* **An email from one address** (the client behind ``PIGEON_TRUSTED_PROXIES``): after
  :data:`MAX_FAILURES_PER_PAIR` failures within :data:`FAILURE_WINDOW`, its attempts are
  refused until the oldest failure leaves the window (a cool-down) — also with the right
  password, so that a guesser learns nothing.  Others behind the same address, with their own
  emails, are not concerned: an office behind one NAT is not locked out by one guesser.
* **An email from anywhere**: past :data:`MAX_FAILURES_PER_EMAIL` failures within the window,
  one attempt per :data:`EMAIL_PACE` (a slower backoff): guessers spread over many addresses
  get a few tries an hour, and the owner still gets in.
* **Password checks**, per process: :data:`MAX_CHECKS_AT_ONCE` at once (Argon2 costs tens of
  milliseconds of CPU each, on purpose), one at a time per address with at most
  :data:`MAX_CHECKS_WAITING` waiting behind it: a flood from one address takes its turns, not
  the machine (console/auth.py).

An attempt is decided and recorded in one step, under a lock on its email
(:data:`~pigeon.store.locks.SIGN_IN`): attempts racing one another, from any process or node,
are counted one after the other, so a limit of five lets exactly five have their passwords
checked, however many arrive at once.  A refused attempt leaves no row; an allowed one is a row
*before* its password is checked (a failure, unless it turns out otherwise), and stays for the
window when it fails.  An allowed attempt that is not checked after all (too many at once from
its address) removes its row; a successful one removes itself and its address's earlier
failures for that email.  Rows are the same for unknown emails: the throttle tells nobody
which emails exist.
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
from pigeon.services import audit
from pigeon.services.accounts import require_account
from pigeon.store import locks
from pigeon.store.tables import console_sessions, console_sign_in_failures, console_users

SESSION_LIFETIME = timedelta(hours=12)
FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_PAIR = 5
MAX_FAILURES_PER_EMAIL = 10
EMAIL_PACE = timedelta(minutes=1)
MAX_CHECKS_AT_ONCE = 2
MAX_CHECKS_WAITING = 50
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
    made = {"id": user_id, "account_id": None if account_id is None else str(account_id),
            "email": email, "operator": account_id is None}
    audit.record(conn, "user.create", f"user:{email}", account_id=account_id, after=made,
                 now=now)
    return made


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

_attempts = console_sign_in_failures  # rows: attempts in progress, and failed ones


def _key(email: str, client: str) -> tuple[str, str]:
    return (email or "").strip().lower()[:254], (client or "unknown")[:64]


def begin_attempt(conn: Connection, email: str, client: str, now: datetime) -> int:
    """Record an attempt to sign in as ``email`` from ``client`` whose password may be checked
    now, and return its id (for :func:`end_attempt`); ``Throttling.User`` when the throttle
    refuses it (then nothing is recorded)."""
    email, client = _key(email, client)
    locks.lock(conn, locks.SIGN_IN, locks.text_ident(email))
    conn.execute(delete(_attempts).where(_attempts.c.created_at <= now - FAILURE_WINDOW))
    window = now - FAILURE_WINDOW
    by_email = _attempts.c.email == email
    pair = conn.execute(select(func.count(), func.min(_attempts.c.created_at)).where(
        by_email, _attempts.c.client == client, _attempts.c.created_at > window)).one()
    if pair[0] >= MAX_FAILURES_PER_PAIR:
        raise _throttled(pair[1] + FAILURE_WINDOW - now)
    anywhere = conn.scalar(select(func.count()).select_from(_attempts).where(
        by_email, _attempts.c.created_at > window))
    if anywhere >= MAX_FAILURES_PER_EMAIL and conn.scalar(
            select(func.count()).select_from(_attempts).where(
                by_email, _attempts.c.created_at > now - EMAIL_PACE)):
        raise _throttled(EMAIL_PACE)
    return conn.execute(insert(_attempts).values(email=email, client=client, created_at=now)
                        ).inserted_primary_key[0]


def end_attempt(conn: Connection, attempt_id: int, email: str, client: str, *,
                signed_in: bool) -> None:
    """The attempt's password was not checked after all (``signed_in`` False): it never
    happened.  It signed in: it and the address's earlier failures for the email are
    forgotten."""
    if signed_in:
        email, client = _key(email, client)
        conn.execute(delete(_attempts).where(_attempts.c.email == email,
                                             _attempts.c.client == client))
        user = conn.execute(select(console_users.c.id, console_users.c.account_id)
                            .where(console_users.c.email == email)).first()
        audit.record(conn, "user.sign_in", f"user:{email}",
                     account_id=user.account_id if user else None,
                     actor=audit.Actor("console", email, client,
                                       user.account_id if user else None))
    else:
        conn.execute(delete(_attempts).where(_attempts.c.id == attempt_id))


def _throttled(wait: timedelta) -> PigeonError:
    minutes = max(1, -(-int(wait.total_seconds()) // 60))
    return PigeonError("Throttling.User",
                       f"Too many failed sign-ins; try again in {minutes} "
                       f"minute{'s' if minutes > 1 else ''}.")


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
    user = conn.execute(select(console_users.c.email, console_users.c.account_id)
                        .join(console_sessions, console_sessions.c.user_id == console_users.c.id)
                        .where(console_sessions.c.id == _token_id(token))).first()
    conn.execute(delete(console_sessions).where(console_sessions.c.id == _token_id(token)))
    if user is not None:
        audit.record(conn, "user.sign_out", f"user:{user.email}", account_id=user.account_id)
