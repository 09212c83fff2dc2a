"""Queue mode: the tenants' receipt queues ``Alicom-Queue-<AccountId>-<MessageType>`` and the
temporary credentials that open them (Dybaseapi ``QueryTokenForMnsQueue``).

The reports worker puts a report into its tenant's queue with :func:`enqueue`; the official MNS
clients take it out through the MNS-compatible endpoint (api/mns.py), which calls
:func:`receive`, :func:`delete` and :func:`change_visibility`.  A queue is the set of
``queue_messages`` rows with its name; it exists for every tenant and type, empty until used.

A received message is invisible until ``visible_at`` (now + the visibility timeout) and carries
a fresh receipt handle; deleting it by that handle before then removes it for good.  After
``visible_at`` it is received again, with a new handle, and the old handle is stale
(``MessageNotExist``, as MNS answers).  Messages older than :data:`RETENTION` are never
received again and are removed when their queue next gets a message.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import re
import secrets
import string
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, func, insert, select, update

from pigeon.core.errors import MnsError
from pigeon.services.reports import TYPES
from pigeon.store.secrets import SecretBox
from pigeon.store.tables import accounts, queue_messages, queue_tokens

MESSAGE_TYPES = TYPES  # the report types a tenant can receive, one queue each
QUEUE_PREFIX = "Alicom-Queue-"

# The queue's attributes, as GetQueueAttributes shows them (MNS's defaults).
VISIBILITY_TIMEOUT = timedelta(seconds=30)
RETENTION = timedelta(days=7)  # MNS's longest MessageRetentionPeriod
MAX_MESSAGE_SIZE = 65536
TOKEN_LIFETIME = timedelta(hours=1)
# Expired tokens are kept this long so that using one is told "expired", not "unknown".
EXPIRED_TOKENS_KEPT = timedelta(days=1)

_ALNUM = string.ascii_letters + string.digits
_HANDLE = re.compile(r"[0-9a-f]{40}")
_QUEUE = re.compile(r"Alicom-Queue-([0-9]{1,19})-([A-Za-z]+)")


# -- names and bodies (pure) -------------------------------------------------------------------

def queue_name(account_id: int, message_type: str) -> str:
    return f"{QUEUE_PREFIX}{account_id}-{message_type}"


def parse_queue_name(name: str) -> tuple[int, str] | None:
    """``(account_id, message_type)`` of a receipt queue name, or None for any other name."""
    match = _QUEUE.fullmatch(name)
    if match is None or match.group(2) not in MESSAGE_TYPES:
        return None
    return int(match.group(1)), match.group(2)


def queue_payload(report_type: str, payload: dict) -> dict:
    """A report as queue mode carries it (spec/dysmsapi.md §6.2), from its HTTP push shape.

    The review reports name their ticket ``order_id`` in the queue where the push says
    ``orderId``; SmsUp's ``sequence_id`` is a number in the queue (documented as Double).
    """
    body = dict(payload)
    if report_type in ("SignSmsReport", "TemplateSmsReport") and "orderId" in body:
        body["order_id"] = body.pop("orderId")
    if report_type == "SmsUp":
        sequence = body.get("sequence_id")
        if isinstance(sequence, str) and sequence.isdigit():
            body["sequence_id"] = int(sequence)
    return body


def queue_body(report_type: str, payload: dict) -> str:
    """The JSON text stored for one report (the endpoint sends it Base64-encoded)."""
    return json.dumps(queue_payload(report_type, payload), ensure_ascii=False,
                      separators=(",", ":"))


def is_receipt_handle(text: str) -> bool:
    """Whether ``text`` has the shape of a handle Pigeon gives out (stale or not)."""
    return _HANDLE.fullmatch(text) is not None


def _new_handle() -> str:
    # Hex only: the MNS clients put handles into URLs without encoding them.
    return secrets.token_hex(20)


def _random(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def _digest(security_token: str) -> str:
    return hashlib.sha256(security_token.encode("utf-8")).hexdigest()


# -- waking long polls -------------------------------------------------------------------------

class Doorbell:
    """Wakes the long polls of this process waiting on a queue when a message is put in.

    :func:`enqueue` rings from the writer thread before its transaction commits.  That is early
    enough and never too early for the receive a ring triggers: the receive is a write too, so
    the one writer runs it after the enqueue, on the same connection.  A ring can still be missed
    (an enqueue on another node, a message whose visibility timeout ran out): long polls also
    look at the queue every few moments (api/mns.py), so a ring only makes them quicker.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[_Waiter]] = {}

    @contextlib.contextmanager
    def listen(self, queue: str) -> Iterator[_Waiter]:
        waiter = _Waiter(asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(queue, set()).add(waiter)
        try:
            yield waiter
        finally:
            with self._lock:
                waiting = self._waiters.get(queue)
                if waiting is not None:
                    waiting.discard(waiter)
                    if not waiting:
                        del self._waiters[queue]

    def listeners(self, queue: str) -> int:
        """How many long polls of this process listen on ``queue`` now."""
        with self._lock:
            return len(self._waiters.get(queue, ()))

    def ring(self, queue: str) -> None:
        with self._lock:
            waiting = list(self._waiters.get(queue, ()))
        for waiter in waiting:
            with contextlib.suppress(RuntimeError):  # its loop has closed meanwhile
                waiter.loop.call_soon_threadsafe(waiter.event.set)


@dataclass(eq=False)
class _Waiter:
    loop: asyncio.AbstractEventLoop
    event: asyncio.Event

    async def wait(self, seconds: float) -> bool:
        """Wait until rung or ``seconds`` have passed; True if rung."""
        try:
            async with asyncio.timeout(seconds):
                await self.event.wait()
        except TimeoutError:
            return False
        finally:
            self.event.clear()
        return True


DOORBELL = Doorbell()


# -- putting reports in ------------------------------------------------------------------------

def enqueue(conn: Connection, account_id: int, report_type: str, payload: dict,
            now: datetime) -> None:
    """Put one report (its HTTP push shape) into the tenant's queue for ``report_type``."""
    if report_type not in MESSAGE_TYPES:
        raise ValueError(f"not a queue message type: {report_type!r}")
    queue = queue_name(account_id, report_type)
    # Messages past retention were already unreceivable; drop them.  The index on
    # (queue, visible_at) finds exactly those: a message is never visible before its enqueue.
    conn.execute(delete(queue_messages).where(queue_messages.c.queue == queue,
                                              queue_messages.c.visible_at < now - RETENTION))
    conn.execute(insert(queue_messages).values(
        account_id=account_id, queue=queue, body=queue_body(report_type, payload),
        enqueued_at=now, visible_at=now, receipt_handle=None, dequeue_count=0))
    DOORBELL.ring(queue)


# -- temporary credentials ---------------------------------------------------------------------

@dataclass(frozen=True)
class QueueToken:
    """Temporary credentials for one queue, as QueryTokenForMnsQueue handed them out."""

    access_key_id: str
    account_id: int
    secret: str = field(repr=False)  # plaintext: never logged, never repr'd
    security_token_digest: str = field(repr=False)
    message_type: str
    expires_at: datetime

    @property
    def queue(self) -> str:
        return queue_name(self.account_id, self.message_type)

    def has_security_token(self, security_token: str) -> bool:
        return secrets.compare_digest(_digest(security_token), self.security_token_digest)


def issue_token(conn: Connection, box: SecretBox, account_id: int, message_type: str,
                now: datetime, lifetime: timedelta = TOKEN_LIFETIME) -> dict:
    """New temporary credentials for the tenant's ``message_type`` queue; the only time the
    secret and security token are returned.

    The secret is stored encrypted (it is needed in plain form to check signatures); of the
    security token, which is only ever compared, only its SHA-256 digest is stored.
    """
    if message_type not in MESSAGE_TYPES:
        raise ValueError(f"not a queue message type: {message_type!r}")
    conn.execute(delete(queue_tokens).where(queue_tokens.c.expires_at
                                            < now - EXPIRED_TOKENS_KEPT))
    access_key_id = "STS." + _random(24)
    secret = _random(40)
    security_token = "CAIS" + secrets.token_urlsafe(72)  # STS tokens start so; 100 characters
    expires_at = now + lifetime
    conn.execute(insert(queue_tokens).values(
        access_key_id=access_key_id, account_id=account_id, secret=box.encrypt(secret),
        security_token=_digest(security_token), message_type=message_type,
        expires_at=expires_at, created_at=now))
    return {"access_key_id": access_key_id, "secret": secret,
            "security_token": security_token, "created_at": now, "expires_at": expires_at}


def find_token(conn: Connection, box: SecretBox, access_key_id: str) -> QueueToken | None:
    row = conn.execute(select(queue_tokens).where(
        queue_tokens.c.access_key_id == access_key_id)).mappings().first()
    if row is None:
        return None
    return QueueToken(access_key_id=row["access_key_id"], account_id=row["account_id"],
                      secret=box.decrypt(row["secret"]),
                      security_token_digest=row["security_token"],
                      message_type=row["message_type"], expires_at=row["expires_at"])


# -- taking messages out -----------------------------------------------------------------------

def _received(row) -> dict:
    return {"id": row["id"], "body": row["body"], "receipt_handle": row["receipt_handle"],
            "enqueued_at": row["enqueued_at"], "first_dequeued_at": row["first_dequeued_at"],
            "visible_at": row["visible_at"], "dequeue_count": row["dequeue_count"]}


def _ready(queue: str, now: datetime):
    return (queue_messages.c.queue == queue, queue_messages.c.visible_at <= now,
            queue_messages.c.enqueued_at >= now - RETENTION)


def receive(conn: Connection, queue: str, count: int, now: datetime,
            visibility: timedelta = VISIBILITY_TIMEOUT) -> list[dict]:
    """Claim up to ``count`` visible messages, oldest first: each becomes invisible until
    ``now + visibility`` and gets a new receipt handle and one more dequeue.

    Each claim is an UPDATE conditional on the message still being visible with the dequeue
    count read: of two consumers (or nodes) that picked the same message, one claims it and the
    other's UPDATE matches no row, so a visible message is never handed out twice at once.
    """
    candidates = conn.execute(
        select(queue_messages.c.id, queue_messages.c.dequeue_count)
        .where(*_ready(queue, now)).order_by(queue_messages.c.id).limit(count)).all()
    claimed = []
    for message_id, dequeue_count in candidates:
        result = conn.execute(
            update(queue_messages)
            .where(queue_messages.c.id == message_id,
                   queue_messages.c.dequeue_count == dequeue_count,
                   queue_messages.c.visible_at <= now)
            .values(receipt_handle=_new_handle(), visible_at=now + visibility,
                    dequeue_count=dequeue_count + 1,
                    first_dequeued_at=func.coalesce(queue_messages.c.first_dequeued_at, now)))
        if result.rowcount == 1:
            claimed.append(message_id)
    if not claimed:
        return []
    rows = conn.execute(select(queue_messages).where(queue_messages.c.id.in_(claimed))
                        .order_by(queue_messages.c.id)).mappings()
    return [_received(row) for row in rows]


def ready_count(conn: Connection, queue: str, now: datetime) -> int:
    """How many messages a receive would find now (a read: long polls look before claiming)."""
    return conn.scalar(select(func.count()).select_from(queue_messages)
                       .where(*_ready(queue, now))) or 0


def _held(queue: str, handle: str, now: datetime):
    """The message ``handle`` holds: received with it and still invisible."""
    return (queue_messages.c.queue == queue, queue_messages.c.receipt_handle == handle,
            queue_messages.c.visible_at > now)


def _handle_error(handle: str) -> str:
    return "MessageNotExist" if is_receipt_handle(handle) else "ReceiptHandleError"


def delete_messages(conn: Connection, queue: str, handles: list[str],
                    now: datetime) -> list[tuple[str, str]]:
    """Delete the messages the handles hold; returns ``(handle, MNS code)`` for each handle
    that deleted nothing: ``ReceiptHandleError`` when it is no handle of Pigeon's, else
    ``MessageNotExist`` (deleted already, or stale: its visibility timeout ran out)."""
    failures = []
    for handle in handles:
        deleted = 0
        if is_receipt_handle(handle):
            deleted = conn.execute(delete(queue_messages)
                                   .where(*_held(queue, handle, now))).rowcount
        if not deleted:
            failures.append((handle, _handle_error(handle)))
    return failures


def change_visibility(conn: Connection, queue: str, handle: str, timeout: timedelta,
                      now: datetime) -> dict:
    """Make a received message visible again at ``now + timeout``, under a new handle."""
    new_handle = _new_handle()
    changed = 0
    if is_receipt_handle(handle):
        changed = conn.execute(update(queue_messages).where(*_held(queue, handle, now))
                               .values(receipt_handle=new_handle,
                                       visible_at=now + timeout)).rowcount
    if not changed:
        raise MnsError(_handle_error(handle))
    return {"receipt_handle": new_handle, "visible_at": now + timeout}


def attributes(conn: Connection, queue: str, now: datetime) -> dict:
    """GetQueueAttributes of a tenant's queue: counts and the fixed settings."""
    account_id, _message_type = parse_queue_name(queue)
    created = conn.scalar(select(accounts.c.created_at).where(accounts.c.id == account_id))
    live = (queue_messages.c.queue == queue, queue_messages.c.enqueued_at >= now - RETENTION)
    active = conn.scalar(select(func.count()).select_from(queue_messages)
                         .where(*live, queue_messages.c.visible_at <= now)) or 0
    inactive = conn.scalar(select(func.count()).select_from(queue_messages)
                           .where(*live, queue_messages.c.visible_at > now)) or 0
    return {"queue": queue, "active": active, "inactive": inactive,
            "created_at": created or now}
