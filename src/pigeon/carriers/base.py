"""The one small interface between Pigeon and a carrier network.

A connector takes messages (:class:`Outbound`) and says what the carrier did with each
(:class:`Submitted`); later it hands back delivery receipts (:class:`Receipt`) and replies
(:class:`Inbound`) through the :class:`Sink` the dispatcher gives it.  Connectors know nothing
of tenants, billing or the database; the dispatcher and the delivery service do the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Outbound:
    message_id: int
    phone: str  # wire form: 11 digits for mainland, country code + number otherwise
    country_code: int
    carrier: str | None  # mobile | unicom | telecom | broadnet (mainland), else None
    sender: str  # source address: the platform's access code + the signature's extension code
    content: str  # the whole text, signature included
    encoding: str  # mainland | gsm7 | ucs2
    segments: int
    signature_id: int
    template_type: int


@dataclass(frozen=True)
class Submitted:
    """What became of one message at submission.

    ``carrier_message_id`` set: accepted, a receipt will follow.  ``error`` set: refused for
    good with that code.  ``retry``: refused for now (throttled, link down) — try again later.
    ``effect`` runs inside the transaction that records the submission (the simulator keeps
    its network state in the same database, so its submission is exactly-once).
    ``part_ids``: the carrier's id of every part of a message sent in several parts (the first
    is ``carrier_message_id``), stored with the message so that part receipts the connector
    can no longer tie to it (see :attr:`Receipt.untracked`) still find it.
    """

    message_id: int
    carrier_message_id: str | None = None
    error: str | None = None
    error_message: str | None = None
    retry: bool = False
    effect: Callable[[Any], None] | None = field(default=None, compare=False)
    part_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Receipt:
    """A final receipt.  Normally it is the whole message's, under its ``carrier_message_id``
    (for a multipart message the connector has combined its parts' receipts).  ``untracked``:
    the connector did not know the id (a receipt after a restart, or for a message another
    node submitted), so this is the receipt of one submitted part, under that part's id; the
    delivery service combines such receipts using the part ids stored at submission."""

    connector: str
    carrier_message_id: str
    delivered: bool
    err_code: str  # DELIVERED, or the failure code passed through to the tenant
    done_at: datetime
    err_message: str | None = None
    untracked: bool = False


@dataclass(frozen=True)
class Inbound:
    connector: str
    phone: str  # the sender (the end user), wire form
    dest_code: str  # the extension code the user replied to
    content: str
    received_at: datetime


class Sink(Protocol):
    async def receipts(self, receipts: list[Receipt]) -> None: ...

    async def inbound(self, messages: list[Inbound]) -> None: ...


class Connector(Protocol):
    name: str
    kind: str

    async def start(self, sink: Sink) -> None: ...

    async def stop(self) -> None: ...

    async def submit(self, batch: list[Outbound]) -> list[Submitted]: ...

    def up(self) -> bool:
        """Whether a message submitted now can go out (an SMPP connector: a bind that may
        submit is bound).  Routing sends messages only to connectors that are up."""
        ...

    def state(self) -> dict: ...
