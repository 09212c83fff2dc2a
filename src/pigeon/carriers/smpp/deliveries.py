"""What the SMSC delivers: receipts matched to messages, MO messages joined, both queued for
the sink with the ``deliver_sm`` each answers.

Receipts.  A ``deliver_sm`` receipt names a part by ``receipted_message_id`` (or the text's
``id:``).  The connector registers each part's id as its ``submit_sm_resp`` is processed and
settles the message when its submission is over; receipts are applied only to settled
messages (held until then), so a message's receipt never overtakes its ``Submitted``.

* A receipt may arrive before its ``submit_sm_resp`` has been processed (another bind, or an
  SMSC that writes the receipt first): an unknown id waits ``early_wait`` seconds (the response
  timeout and a second: by then every request then in flight is answered or given up) and is
  then handed on unmatched under its own id, marked ``untracked`` — a receipt for a message
  sent before a restart (or by another node) still reaches the delivery service that way, which
  ties it to its message by the part ids stored at submission.
* A multipart message has one receipt, under its first part's id: delivered once every part is
  ``DELIVRD``, failed as soon as one part fails (with that part's code); later receipts of its
  parts are answered and dropped.
* The part ids live in memory (up to ``max_tracked``, oldest dropped first); the connector
  also returns them in :attr:`Submitted.part_ids`, and the dispatcher stores them, so after a
  restart the delivery service combines the parts' ``untracked`` receipts itself.

MO.  Every other ``deliver_sm`` becomes an :class:`Inbound`: ``phone`` is ``source_addr``
without ``+``/``00`` and, for a mainland number, without ``86``; ``dest_code`` is
``destination_addr`` minus the configured ``access_code`` prefix (what follows it is the
signature's extension code), or the whole address when no access code is configured or the
address does not start with it.  Concatenated MO (UDH or ``sar_*`` TLVs) is joined first;
parts still incomplete after ten minutes are handed on as they are.

Every item carries its ``ack`` — ``(session, sequence)`` of the ``deliver_sm`` — and the
connector answers it once the sink has taken the batch.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from pigeon.carriers.base import Inbound, Receipt

from . import pdu
from .text import ReceiptInfo, decode_text, parse_receipt, receipt_outcome, split_udh

log = logging.getLogger("pigeon.carriers.smpp")

Ack = tuple  # (Session, sequence) of the deliver_sm to answer
MO_PARTS_WAIT = 600.0
RETIRED_KEPT = 100_000


@dataclass(eq=False)
class Tracked:
    """One message between submission and its final receipt."""

    message_id: int
    ids: list[str | None]  # the SMSC's id of each part, as the responses come in
    settled: bool = False  # submission over and accepted: receipts may be applied
    carrier_message_id: str = ""
    waiting: set[str] = field(default_factory=set)  # parts without a DELIVRD receipt yet
    held: list[tuple[str, ReceiptInfo, Ack | None]] = field(default_factory=list)


class Deliveries:
    def __init__(self, connector: str, *, deliver: Callable[[Ack | None, object], None],
                 early_wait: float, access_code: str = "", zone: ZoneInfo | None = None,
                 max_tracked: int = 1_000_000) -> None:
        self.connector = connector
        self.deliver = deliver  # queue (ack, Receipt | Inbound | None) for the sink
        self.early_wait = early_wait
        self.access_code = access_code
        self.zone = zone
        self.max_tracked = max_tracked
        self.parts: dict[str, Tracked] = {}
        self.early: dict[str, tuple[ReceiptInfo, Ack, float]] = {}
        self.retired: dict[str, None] = {}
        self.mo_parts: dict[tuple, tuple[float, dict[int, str], list[Ack]]] = {}

    # -- the submission side ----------------------------------------------------------------

    def register(self, part_id: str, tracker: Tracked, seq: int) -> None:
        """Part ``seq`` of ``tracker`` was accepted as ``part_id``."""
        tracker.ids[seq] = part_id
        self.parts[part_id] = tracker
        if len(self.parts) > self.max_tracked:
            self.parts.pop(next(iter(self.parts)))
        if self.early:
            early = self.early.pop(part_id, None)
            if early is not None:
                info, ack, _release = early
                tracker.held.append((part_id, info, ack))

    def accepted(self, tracker: Tracked) -> str:
        """Every part was accepted: apply what was held; the message's carrier id."""
        tracker.settled = True
        tracker.carrier_message_id = tracker.ids[0] or ""
        tracker.waiting = {part_id for part_id in tracker.ids if part_id}
        held, tracker.held = tracker.held, []
        for part_id, info, ack in held:
            self._apply(tracker, part_id, info, ack)
        return tracker.carrier_message_id

    def retire(self, tracker: Tracked) -> None:
        """The message is over (refused, handed back, or finally reported): forget its parts;
        their receipts from now on are answered and dropped."""
        for part_id in tracker.ids:
            if part_id is not None and self.parts.get(part_id) is tracker:
                del self.parts[part_id]
                self.retired[part_id] = None
        for _part_id, _info, ack in tracker.held:
            self.deliver(ack, None)
        tracker.held = []
        while len(self.retired) > RETIRED_KEPT:
            self.retired.pop(next(iter(self.retired)))

    # -- deliver_sm -------------------------------------------------------------------------

    def on_deliver(self, ack: Ack, deliver: pdu.DeliverSm) -> None:
        if deliver.is_receipt:
            info = parse_receipt(deliver)
            if info is None:
                log.warning("%s: receipt without a message id: %r", self.connector,
                            deliver.message[:100])
                self.deliver(ack, None)
            else:
                self._on_receipt(info, ack)
        else:
            self._on_mo(deliver, ack)

    def _on_receipt(self, info: ReceiptInfo, ack: Ack) -> None:
        tracker = self.parts.get(info.message_id)
        if tracker is not None:
            if tracker.settled:
                self._apply(tracker, info.message_id, info, ack)
            else:
                tracker.held.append((info.message_id, info, ack))
        elif info.message_id in self.retired:
            self.deliver(ack, None)
        else:
            old = self.early.pop(info.message_id, None)
            if old is not None:
                self.deliver(old[1], None)
            self.early[info.message_id] = (info, ack, time.monotonic() + self.early_wait)

    def _apply(self, tracker: Tracked, part_id: str, info: ReceiptInfo, ack: Ack | None) -> None:
        outcome = receipt_outcome(info)
        if not outcome.final or part_id not in tracker.waiting:
            self.deliver(ack, None)
            return
        if outcome.delivered:
            tracker.waiting.discard(part_id)
            if tracker.waiting:
                self.deliver(ack, None)
                return
        receipt = Receipt(self.connector, tracker.carrier_message_id, outcome.delivered,
                          outcome.err_code, self.done_at(info), outcome.err_message)
        tracker.waiting = set()
        self.retire(tracker)
        self.deliver(ack, receipt)

    def done_at(self, info: ReceiptInfo) -> datetime:
        """The receipt's ``done date`` read in the SMSC's zone when one is configured; the
        arrival time otherwise (SMPP leaves the zone of that field unsaid)."""
        if self.zone is not None and info.done_date:
            pattern = "%y%m%d%H%M%S" if len(info.done_date) >= 12 else "%y%m%d%H%M"
            try:
                local = datetime.strptime(info.done_date[:12], pattern)
            except ValueError:
                pass
            else:
                return local.replace(tzinfo=self.zone).astimezone(UTC)
        return datetime.now(UTC)

    def _on_mo(self, deliver: pdu.DeliverSm, ack: Ack) -> None:
        concat, payload = split_udh(deliver.esm_class, deliver.message)
        if concat is None and pdu.TLV_SAR_MSG_REF_NUM in deliver.tlvs:
            try:
                concat = (int.from_bytes(deliver.tlvs[pdu.TLV_SAR_MSG_REF_NUM], "big"),
                          deliver.tlvs[pdu.TLV_SAR_TOTAL_SEGMENTS][0],
                          deliver.tlvs[pdu.TLV_SAR_SEGMENT_SEQNUM][0])
            except (KeyError, IndexError):
                concat = None
        text = decode_text(deliver.data_coding, payload)
        if concat is not None and concat[1] > 1:
            reference, total, seq = concat
            key = (deliver.source_addr, deliver.destination_addr, reference, total)
            _started, texts, acks = self.mo_parts.setdefault(key, (time.monotonic(), {}, []))
            texts[seq] = text
            acks.append(ack)
            if len(texts) < total:
                return
            del self.mo_parts[key]
            text = "".join(texts[s] for s in sorted(texts))
            *earlier, ack = acks
            for other in earlier:
                self.deliver(other, None)
        self.deliver(ack, self.inbound(deliver.source_addr, deliver.destination_addr, text))

    def inbound(self, source: str, destination: str, text: str) -> Inbound:
        phone = source.lstrip("+")
        if phone.startswith("00"):
            phone = phone[2:]
        if phone.startswith("86") and len(phone) == 13 and phone[2] == "1":
            phone = phone[2:]
        dest_code = destination
        if self.access_code and destination.startswith(self.access_code):
            dest_code = destination[len(self.access_code):]
        return Inbound(self.connector, phone, dest_code, text, datetime.now(UTC))

    # -- housekeeping -----------------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Hand on early receipts nobody claimed, and MO parts that never completed."""
        for part_id in [k for k, (_i, _a, release) in self.early.items() if release <= now]:
            info, ack, _release = self.early.pop(part_id)
            outcome = receipt_outcome(info)
            receipt = None
            if outcome.final:
                receipt = Receipt(self.connector, part_id, outcome.delivered, outcome.err_code,
                                  self.done_at(info), outcome.err_message, untracked=True)
            self.deliver(ack, receipt)
        for key in [k for k, (started, _t, _a) in self.mo_parts.items()
                    if now - started > MO_PARTS_WAIT]:
            _started, texts, acks = self.mo_parts.pop(key)
            *earlier, last = acks
            for ack in earlier:
                self.deliver(ack, None)
            self.deliver(last, self.inbound(key[0], key[1],
                                            "".join(texts[s] for s in sorted(texts))))
