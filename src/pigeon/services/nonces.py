"""Signature nonces: a signed request is accepted once per AccessKey within the signature
window — on any node, and after a restart.

The database is the one store every node shares: a nonce is used by inserting its row, and a
second insert of the same (AccessKeyId, nonce) finds it (the primary key decides, atomically,
whichever node wins).  A row is a 16-byte digest of the pair and its expiry, whatever the
nonce's length; :func:`purge` drops rows past their expiry.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, select

from pigeon.core.errors import PigeonError
from pigeon.store.database import Declined, Driver, Raised, mergeable, savepoint
from pigeon.store.tables import nonces

PURGE_CHUNK = 10_000


@dataclass(frozen=True)
class Nonce:
    """One request's nonce, as stored: the digest of the pair, and until when it is kept."""

    digest: bytes
    expires_at: datetime

    @classmethod
    def of(cls, access_key_id: str, nonce: str, expires_at: datetime) -> Nonce:
        digest = hashlib.sha256(f"{access_key_id}\0{nonce}".encode()).digest()[:16]
        return cls(digest, expires_at)


# A row past its expiry that purge() has not reached yet counts as no row.  RETURNING tells
# whether the statement wrote, the same way on both databases.
_USE = ("INSERT INTO nonces (digest, expires_at) VALUES (?, ?) ON CONFLICT (digest) "
        "DO UPDATE SET expires_at = excluded.expires_at WHERE nonces.expires_at < ? "
        "RETURNING 1")


_WORK = "pigeon_work"
_SAVEPOINT = f"SAVEPOINT {_WORK}"
_RELEASE = f"RELEASE SAVEPOINT {_WORK}"


def _use_params(driver: Driver, nonce: Nonce, now: datetime) -> tuple:
    return nonce.digest, driver.time(nonce.expires_at), driver.time(now)


def _use_all(conn: Connection, calls: list[tuple]) -> None:
    """Record the nonces of ``calls`` (each starting ``nonce, now``) by one statement.
    Declines (the calls run one by one: which one is the replay is theirs to tell) unless
    every one is new."""
    driver = Driver.of(conn)
    if len({nonce.digest for nonce, *_ in calls}) != len(calls):
        raise Declined("one nonce twice")
    params: list[Any] = []
    for nonce, *_ in calls:
        params += (nonce.digest, driver.time(nonce.expires_at))
    # Expired before the earliest call: expired for each (later nows only add expiries).
    params.append(driver.time(min(now for _, now, *_ in calls)))
    if len(driver.run(conn, "nonces", _use_rows(len(calls)), params)) != len(calls):
        raise Declined("a nonce is not new")


def _use_key(nonce: Nonce, now: datetime) -> str:
    return "use"  # any calls of use() queued together


def _used_all(conn: Connection, calls: list[tuple[Nonce, datetime]]) -> list[bool]:
    _use_all(conn, calls)
    return [True] * len(calls)


@mergeable(_use_key, _used_all)
def use(conn: Connection, nonce: Nonce, now: datetime) -> bool:
    """Record the nonce; False if it is recorded already and not expired at ``now`` (the
    request is a replay).  Calls queued together run as one statement
    (store.database.mergeable)."""
    driver = Driver.of(conn)
    return bool(driver.run(conn, "nonces", _USE, _use_params(driver, nonce, now)))


@dataclass(frozen=True)
class Refused:
    """What :func:`first_use` returns when the work refused the request: the nonce stays
    recorded, the work's writes are undone, and the caller raises ``error``."""

    error: PigeonError


def _merge_key(nonce: Nonce, now: datetime, work: Callable[..., Any], *args: Any) -> Any:
    """:func:`first_use` calls merge where their works do (``work.merge_key``)."""
    key_of = getattr(work, "merge_key", None)
    key = None if key_of is None else key_of(*args)
    return None if key is None else (work, key)


def _first_use_all(conn: Connection, calls: list[tuple]) -> list[Any]:
    """:func:`first_use` for calls whose works merge (``work.merge(conn, [args, …])``, which
    gives each call's value, or its failure as :class:`~pigeon.store.database.Raised` having
    written nothing for it): their nonces in one statement.  Declines where one nonce is not
    new — one by one, the replay is told from the rest exactly."""
    _use_all(conn, calls)
    work = calls[0][2]
    values = work.merge(conn, [call[3:] for call in calls])
    if any(isinstance(value, Raised) and not isinstance(value.error, PigeonError)
           for value in values):
        raise Declined("a work failed")  # alone, its nonce is undone with it
    return [Refused(value.error) if isinstance(value, Raised) else value for value in values]


def _use_rows(count: int) -> str:
    return _USE.replace("VALUES (?, ?)", "VALUES " + ", ".join(["(?, ?)"] * count))


@mergeable(_merge_key, _first_use_all)
def first_use(conn: Connection, nonce: Nonce, now: datetime, work: Callable[..., Any],
              *args: Any) -> Any:
    """``work(conn, *args)`` for a request whose nonce is recorded in the same transaction —
    one write for both, the send path's way (api/rpc/endpoint.py).  ``SignatureNonceUsed``
    (raised: nothing is written) if the nonce is not new.  A refusal of the work (a
    PigeonError) undoes its writes and not the nonce — a refused request replayed later must
    not be accepted then — and comes back as :class:`Refused`.  Calls queued together whose
    works merge (store.database.mergeable: SendSms) run as one."""
    driver = Driver.of(conn)
    # The nonce and the work's savepoint in one round trip; the savepoint, left set when the
    # work succeeds, ends with the unit's savepoint or the transaction.
    used, _ = driver.run_all(conn, [("nonces", _USE, _use_params(driver, nonce, now)),
                                    (None, _SAVEPOINT, ())])
    if not used:
        conn.connection.dbapi_connection.execute(_RELEASE)
        raise PigeonError("SignatureNonceUsed")
    try:
        with savepoint(conn, _WORK, begun=True, release=False):
            return work(conn, *args)
    except PigeonError as error:
        return Refused(error)


def purge(conn: Connection, now: datetime, chunk: int = PURGE_CHUNK) -> int:
    """Delete up to ``chunk`` expired nonces; how many (call again while it returns
    ``chunk``)."""
    expired = (select(nonces.c.digest).where(nonces.c.expires_at < now)
               .limit(chunk).scalar_subquery())
    return conn.execute(delete(nonces).where(nonces.c.digest.in_(expired))).rowcount or 0
