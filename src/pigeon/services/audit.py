"""The audit trail: every administrative change — who made it, from where, when, and the
state before and after — in one tamper-evident chain (:mod:`pigeon.core.audit_chain`).

**Who.**  The services that make administrative changes (accounts and suspensions, AccessKeys,
limits, the whitelist, IP allow-lists, prices, packages and top-ups, connectors and routes,
console users and their sign-ins, reviews and carrier registration, alert settings, report
settings) call :func:`record` in the transaction of the change itself: the entry exists if and
only if the change does.  They do not take "who" as an argument: whoever runs them says who
they are once, in a context variable (:func:`acting`) — the CLI for its command (the OS user
and the host), the console for its request (the signed-in user and their address), the RPC
endpoint for its request (the AccessKey and the caller's address), a worker for its loop.  The
database writer runs each unit of work in its caller's context, so the variable reaches the
transaction on whatever thread writes (:class:`pigeon.store.database.Database`).

**One chain across processes and nodes.**  An entry's hash covers the previous entry's, so
appending is "read the last entry, write the next": :func:`record` first takes the
:data:`pigeon.store.locks.AUDIT` lock (PostgreSQL: a transaction-level advisory lock every
node's writer honours; SQLite: the database's one write lock already serialises it), then
reads the head and appends — two appends can never both follow the same entry, and the
unique ``seq`` would refuse it if they did.  One chain rather than one per writer: a single
order is what an auditor reads, and ``pigeon audit verify`` checks it in one pass.  The lock
is cheap because administrative changes are rare; under the writer's group commit only the
first unit of a transaction may wait for it (a later one is run again first in the next
transaction: :mod:`pigeon.store.locks`).

**Secrets** never enter an entry: keys named like secrets are dropped from before and after
(:func:`scrub`) — a new AccessKey's entry names its id, never its secret.

**Retention.**  Entries older than ``PIGEON_AUDIT_RETENTION`` are dropped oldest first
(:func:`purge_chunk`), and each drop appends an ``audit.pruned`` entry naming the last entry
dropped, from which :func:`verify` checks what remains.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
from collections.abc import Iterator
from contextvars import ContextVar, Token
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from pigeon import clock
from pigeon.core import audit_chain
from pigeon.store import locks
from pigeon.store.tables import audit_entries

KINDS = ("cli", "console", "api", "system")
PAGE = 50
CHUNK = 5000

_SECRET_WORDS = ("secret", "password", "token", "csrf", "private")


@dataclass(frozen=True)
class Actor:
    """Who makes a change, and from where."""

    kind: str  # one of KINDS
    name: str  # the OS user, the console user's email, the AccessKeyId, the worker
    source: str  # the host, the client's address, the node
    account_id: int | None = None  # a tenant's user or key: their account


_ACTOR: ContextVar[Actor | None] = ContextVar("pigeon_audit_actor", default=None)


def acting(actor: Actor) -> Token:
    """From here on (this task or thread, and the writes it hands the writer), changes are
    made by ``actor``; :func:`done` with the token undoes it."""
    return _ACTOR.set(actor)


def done(token: Token) -> None:
    """Undo :func:`acting`."""
    _ACTOR.reset(token)


@contextlib.contextmanager
def as_actor(actor: Actor) -> Iterator[None]:
    token = _ACTOR.set(actor)
    try:
        yield
    finally:
        _ACTOR.reset(token)


def current() -> Actor:
    """Who is acting now: as set by :func:`acting`, else Pigeon itself on this host."""
    return _ACTOR.get() or system("pigeon")


def cli() -> Actor:
    """The operator at a ``pigeon`` command: the OS user, on this host (and the SSH client's
    address when the session came over SSH)."""
    try:
        user = getpass.getuser()
    except Exception:  # no name for this uid (a container)
        user = f"uid:{os.getuid()}"
    source = socket.gethostname()
    ssh = os.environ.get("SSH_CLIENT", "").split()
    if ssh:
        source += f" (ssh from {ssh[0]})"
    return Actor("cli", user, source)


OPERATOR = " (operator)"
"""After an operator's email: the console's operators and tenants' users are both
``console``."""


def console(user: dict, address: str) -> Actor:
    """A signed-in console user (an operator, or a tenant's user) at ``address``."""
    if user.get("operator"):
        return Actor("console", user["email"] + OPERATOR, address)
    return Actor("console", user["email"], address, user.get("account_id"))


def for_tenant(entry: dict) -> dict:
    """An entry as its tenant sees it: who at the platform's side made a change (an operator,
    a command, Pigeon itself) is "the platform", from nowhere in particular."""
    if entry["actor_kind"] in ("cli", "system") or entry["actor"].endswith(OPERATOR):
        after = entry["after"]
        if isinstance(after, dict):  # a review's decider, a protection's lifter: the same
            after = {k: v for k, v in after.items()
                     if k not in ("decided_by", "lifted_by", "note")}
        return entry | {"actor_kind": "platform", "actor": "Pigeon operator"
                        if entry["actor_kind"] != "system" else "Pigeon", "source": "",
                        "after": after}
    return entry


def api(access_key_id: str, account_id: int, address: str | None) -> Actor:
    return Actor("api", access_key_id, address or "unknown", account_id)


def system(worker: str) -> Actor:
    """Pigeon itself (the automatic reviewer, the registrar, retention) on this host."""
    return Actor("system", worker, f"{socket.gethostname()}:{os.getpid()}")


def scrub(value: Any) -> Any:
    """``value`` without any key that names a secret (at any depth), as JSON keeps it."""
    if isinstance(value, dict):
        return {key: scrub(item) for key, item in value.items()
                if not any(word in str(key).lower() for word in _SECRET_WORDS)}
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    return value


def record(conn: Connection, action: str, target: str, *, account_id: int | None = None,
           before: Any = None, after: Any = None, now: datetime | None = None,
           actor: Actor | None = None) -> int:
    """Append an entry for ``action`` on ``target`` (``kind:id``) in ``conn``'s transaction;
    its ``seq``.  Takes the audit lock first (see the module's note)."""
    who = actor or current()
    locks.lock(conn, locks.AUDIT, 0)
    head = conn.execute(select(audit_entries.c.seq, audit_entries.c.hash)
                        .order_by(audit_entries.c.seq.desc()).limit(1)).first()
    entry = {
        "seq": head.seq + 1 if head else 1,
        "at": now or clock.utcnow(),
        "actor_kind": who.kind, "actor": who.name[:255], "source": who.source[:255],
        "account_id": account_id, "action": action, "target": target[:255],
        "before": audit_chain.plain(scrub(before)), "after": audit_chain.plain(scrub(after)),
        "prev_hash": head.hash if head else audit_chain.GENESIS,
    }
    entry["hash"] = audit_chain.entry_hash(entry)
    conn.execute(insert(audit_entries).values(**entry))
    return entry["seq"]


# -- reading ---------------------------------------------------------------------------------

def _shown(row) -> dict:
    entry = dict(row)
    entry.pop("id", None)
    return entry


def entries(conn: Connection, *, account_id: int | None = None, action: str | None = None,
            actor: str | None = None, before_seq: int | None = None,
            limit: int = PAGE) -> list[dict]:
    """The newest entries first (those with a ``seq`` below ``before_seq``: the next page),
    of one account, one action (or a prefix of actions: ``account.``), one actor."""
    query = select(audit_entries).order_by(audit_entries.c.seq.desc()).limit(limit)
    if account_id is not None:
        query = query.where(audit_entries.c.account_id == account_id)
    if action:
        query = query.where(audit_entries.c.action.startswith(action, autoescape=True)
                            if action.endswith(".") else audit_entries.c.action == action)
    if actor:
        query = query.where(audit_entries.c.actor == actor)
    if before_seq is not None:
        query = query.where(audit_entries.c.seq < before_seq)
    return [_shown(row) for row in conn.execute(query).mappings()]


def _anchor(conn: Connection) -> tuple[int, str]:
    """Where the remaining chain starts: after the last entry the newest ``audit.pruned``
    entry says was dropped, or from the beginning."""
    after = conn.scalar(select(audit_entries.c.after)
                        .where(audit_entries.c.action == audit_chain.PRUNED)
                        .order_by(audit_entries.c.seq.desc()).limit(1))
    if isinstance(after, dict) and "through_seq" in after:
        return int(after["through_seq"]), str(after["through_hash"])
    return 0, audit_chain.GENESIS


def _all(conn: Connection, page: int = 1000) -> Iterator[dict]:
    last = -1
    while True:
        rows = conn.execute(select(audit_entries).where(audit_entries.c.seq > last)
                            .order_by(audit_entries.c.seq).limit(page)).mappings().all()
        if not rows:
            return
        for row in rows:
            yield dict(row)
        last = rows[-1]["seq"]


def verify(conn: Connection) -> audit_chain.Verdict:
    """Check the whole chain that remains (see :func:`pigeon.core.audit_chain.verify`)."""
    start_seq, start_hash = _anchor(conn)
    return audit_chain.verify(_all(conn), start_seq, start_hash)


# -- retention -------------------------------------------------------------------------------

def purge_chunk(conn: Connection, cutoff: datetime, now: datetime, chunk: int = CHUNK) -> int:
    """Drop up to ``chunk`` of the oldest entries written before ``cutoff``, and record the
    drop (``audit.pruned``: the last entry dropped, so the rest still verifies); how many
    went.  The newest entry is never dropped: the chain goes on from it."""
    locks.lock(conn, locks.AUDIT, 0)
    newest = conn.scalar(select(func.max(audit_entries.c.seq)))
    doomed = conn.execute(select(audit_entries.c.seq, audit_entries.c.hash)
                          .where(audit_entries.c.at < cutoff, audit_entries.c.seq < newest)
                          .order_by(audit_entries.c.seq).limit(chunk)).all() \
        if newest is not None else []
    # Oldest first and without a gap: stop at the first entry that must stay.
    first = conn.scalar(select(func.min(audit_entries.c.seq)))
    keep = []
    for number, (seq, digest) in enumerate(doomed):
        if seq != first + number:
            break
        keep.append((seq, digest))
    if not keep:
        return 0
    through_seq, through_hash = keep[-1]
    conn.execute(delete(audit_entries).where(audit_entries.c.seq <= through_seq))
    record(conn, audit_chain.PRUNED, "audit", now=now, actor=system("retention"),
           after={"through_seq": through_seq, "through_hash": through_hash,
                  "entries": len(keep), "cutoff": cutoff.isoformat()})
    return len(keep)


async def purge(db, now: datetime, keep: timedelta | None, chunk: int = CHUNK) -> int:
    """Drop what is older than ``keep`` (None: keep everything), a chunk per write."""
    if keep is None:
        return 0
    total = 0
    while True:
        gone = await db.write(purge_chunk, now - keep, now, chunk)
        total += gone
        if gone < chunk:
            return total
