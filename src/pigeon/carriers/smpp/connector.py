"""The SMPP connector: binds kept up, messages submitted, receipts and replies handed back.

What :meth:`SmppConnector.submit` answers for each message (one :class:`Submitted` each, in
order):

* every part answered ``ESME_ROK`` → ``carrier_message_id`` = the message id the SMSC gave the
  **first** part.  The connector maps the ids of all parts to the message and reports one
  receipt for it under that id: delivered once every part is ``DELIVRD``, failed as soon as
  one part fails (with that part's code).  A multipart message's ``part_ids`` lists every
  part's id, for the dispatcher to store (receipts after a restart, see :mod:`.deliveries`).
* a part refused for good (``ESME_RINVDSTADR`` 0x0B, ``ESME_RSUBMITFAIL`` 0x45, …) → ``error``
  from :data:`SUBMIT_ERRORS` (``INVALID_NUMBER`` for a bad destination), else
  ``SMPP:0x%08X``; ``error_message`` names the SMPP status.
* a part refused for now (``ESME_RTHROTTLED`` 0x58, ``ESME_RMSGQFUL`` 0x14, ``ESME_RSYSERR``
  0x08, ``ESME_RX_T_APPN`` 0x64, ``ESME_RINVBNDSTS`` 0x04) → ``retry=True``.  Throttling also
  pauses the connector's sending (doubling from 0.1 s up to 5 s while it lasts).
* no bind up (within ``bind_wait``) → ``retry=True``: nothing was sent, so retrying is safe.
* sent but never answered (``response_timeout`` passed, or the bind dropped with the request
  outstanding) → ``retry=True`` with ``error_message`` saying so.  **The SMSC may have taken
  such a message**: SMPP has no way to ask, so retrying it may deliver it twice.  This is the
  only case where Pigeon can send a message twice.

Long messages: the parts of one message go out together; when one part of a multipart message
is throttled its siblings may already be accepted, and handing the whole message back for a
retry would send those again, so a throttled part is resubmitted here after the pause (up to
``part_retries`` times) before the message is given up as ``retry``.

Receipts and MO: see :mod:`.deliveries`.  ``deliver_sm_resp`` is sent once the sink has taken
the batch a receipt or MO is in; a sink failure answers ``ESME_RX_T_APPN`` (0x64) so that the
SMSC delivers it again.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from zoneinfo import ZoneInfo

from pigeon import metrics
from pigeon.carriers.base import Inbound, Outbound, Receipt, Sink, Submitted

from . import pdu
from .deliveries import Deliveries, Tracked
from .session import BindRefused, LinkError, Session
from .text import message_parts

log = logging.getLogger("pigeon.carriers.smpp")

THROTTLED = frozenset({pdu.ESME_RTHROTTLED, pdu.ESME_RMSGQFUL})
RETRYABLE = THROTTLED | {pdu.ESME_RSYSERR, pdu.ESME_RX_T_APPN, pdu.ESME_RINVBNDSTS}
SUBMIT_ERRORS = {
    0x0B: "INVALID_NUMBER",  # ESME_RINVDSTADR
    0x50: "INVALID_NUMBER",  # ESME_RINVDSTTON
    0x51: "INVALID_NUMBER",  # ESME_RINVDSTNPI
}
"""SMPP refusals with an Alibaba receipt-code counterpart (spec/dysmsapi.md §4.4); any other
permanent refusal is reported as ``SMPP:0x%08X``."""

BIND_MODES = ("transceiver", "transmitter+receiver")
_NO_ANSWER = -1  # a part sent and not answered
_NO_BIND = -2  # a part never sent: no bind was up


def submit_error(status: int) -> str:
    return SUBMIT_ERRORS.get(status) or f"SMPP:0x{status:08X}"


class TokenBucket:
    """Messages per second, paced with a burst of a tenth of a second's worth (at least one),
    and never more than ``rate`` within any :data:`WINDOW` — what a carrier counts, whatever
    the burst and the timing of the wake-ups — plus a pause that throttling answers impose on
    top."""

    WINDOW = 1.02
    """Seconds: one, and a margin for the network's jitter on the way to the SMSC."""

    def __init__(self, rate: float | None) -> None:
        self.rate = rate
        self.capacity = max(1.0, rate / 10) if rate else 0.0
        self.tokens = self.capacity
        self.stamp = time.monotonic()
        self.paused_until = 0.0
        # When the last `rate` messages went: the oldest must be a WINDOW ago for one more.
        self.sent: deque[float] = deque(maxlen=max(1, int(rate))) if rate else deque()

    def delay(self) -> float:
        """Take a token, or say how long to wait before asking again."""
        now = time.monotonic()
        if now < self.paused_until:
            return self.paused_until - now
        if not self.rate:
            return 0.0
        sent = self.sent
        if len(sent) == sent.maxlen and now - sent[0] < self.WINDOW:
            return self.WINDOW - (now - sent[0])
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            sent.append(now)
            return 0.0
        return (1 - self.tokens) / self.rate

    def pause(self, seconds: float) -> None:
        self.paused_until = max(self.paused_until, time.monotonic() + seconds)


@dataclass
class _Bind:
    mode: str
    number: int
    session: Session | None = None
    since: float | None = None
    last_error: str | None = None
    connects: int = 0


class _Round:
    """The parts sent in one pass of :meth:`SmppConnector.submit`, answered by callbacks."""

    __slots__ = ("results", "remaining", "future")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.results: dict[tuple[int, int], tuple[int, str]] = {}
        self.remaining = 0
        self.future = loop.create_future()

    def done(self, key: tuple[int, int], status: int, detail: str = "") -> None:
        self.results[key] = (status, detail)
        self.remaining -= 1
        if self.remaining == 0 and not self.future.done():
            self.future.set_result(None)


class SmppConnector:
    """An SMPP 3.4 client connector (ESME) for one SMSC account.

    ``binds`` sessions (each a transceiver, or a transmitter and a receiver with
    ``bind_mode="transmitter+receiver"``), each with ``window`` requests outstanding at most;
    ``tps`` caps the messages (PDUs) per second over all binds.
    """

    kind = "smpp"

    def __init__(self, name: str, host: str, port: int, system_id: str, password: str,
                 system_type: str = "", *, tps: float | None = None, window: int = 10,
                 binds: int = 1, bind_mode: str = "transceiver",
                 enquire_link_interval: float = 30.0, response_timeout: float = 10.0,
                 connect_timeout: float = 10.0, bind_wait: float = 5.0,
                 reconnect_delay: tuple[float, float] = (0.25, 30.0), part_retries: int = 3,
                 access_code: str = "", source_ton: int | None = None,
                 source_npi: int | None = None, dest_ton: int = 1, dest_npi: int = 1,
                 service_type: str = "", timezone: str | None = None,
                 max_tracked: int = 1_000_000) -> None:
        if bind_mode not in BIND_MODES:
            raise ValueError(f"bind_mode must be one of {', '.join(BIND_MODES)}")
        if window < 1 or binds < 1:
            raise ValueError("window and binds must be at least 1")
        pdu.bind_body(system_id, password, system_type)  # ValueError now, not at each bind
        self.name = name
        self.host = host
        self.port = port
        self.system_id = system_id
        self.password = password
        self.system_type = system_type
        self.tps = tps
        self.window = window
        self.binds = binds
        self.bind_mode = bind_mode
        self.enquire_link_interval = enquire_link_interval
        self.response_timeout = response_timeout
        self.connect_timeout = connect_timeout
        self.bind_wait = bind_wait
        self.reconnect_delay = reconnect_delay
        self.part_retries = part_retries
        self.access_code = access_code
        self.source_ton = source_ton
        self.source_npi = source_npi
        self.dest_ton = dest_ton
        self.dest_npi = dest_npi
        self.service_type = pdu.cstring(service_type, 6, "service_type")

        self._sink: Sink | None = None
        self._running = False
        self._tasks: list[asyncio.Task] = []
        modes = (["transceiver"] if bind_mode == "transceiver"
                 else ["transmitter", "receiver"])
        self._binds = [_Bind(mode, number) for number in range(binds) for mode in modes]
        self._bucket = TokenBucket(tps)
        self._throttle_backoff = 0.0
        self._changed: asyncio.Event | None = None
        self._reference = random.randrange(256)
        self._queued = 0
        self._accepted = 0
        self._samples: deque[tuple[float, int]] = deque(maxlen=11)
        self._deliveries: list[tuple[tuple | None, object]] = []  # (ack, item) for the sink
        self._delivery_ready: asyncio.Event | None = None
        self._incoming = Deliveries(
            name, deliver=self._deliver, early_wait=response_timeout + 1,
            access_code=access_code, zone=ZoneInfo(timezone) if timezone else None,
            max_tracked=max_tracked)

    # -- life cycle -------------------------------------------------------------------------

    async def start(self, sink: Sink) -> None:
        """Start keeping the binds up; returns at once (see :meth:`wait_bound`)."""
        if self._running:
            return
        self._sink = sink
        self._running = True
        self._changed = asyncio.Event()
        self._delivery_ready = asyncio.Event()
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._supervise(bind)) for bind in self._binds]
        self._tasks.append(loop.create_task(self._pump()))
        self._tasks.append(loop.create_task(self._housekeeping()))

    async def wait_bound(self, timeout: float = 10.0, count: int | None = None) -> bool:
        """Wait until ``count`` binds (default: all) are up; whether they are."""
        wanted = len(self._binds) if count is None else count
        deadline = time.monotonic() + timeout
        while sum(1 for b in self._binds if b.session and b.session.bound) < wanted:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def stop(self) -> None:
        """Unbind every session, hand the last receipts to the sink, stop."""
        if not self._running:
            return
        self._running = False
        supervisors = self._tasks[:len(self._binds)]
        for task in supervisors:
            task.cancel()
        await asyncio.gather(*supervisors, return_exceptions=True)
        await self._drain_deliveries()
        await asyncio.gather(*(b.session.unbind() for b in self._binds if b.session),
                             return_exceptions=True)
        for task in self._tasks[len(self._binds):]:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        self._wake()

    async def _supervise(self, bind: _Bind) -> None:
        """Keep one bind up: connect, bind, wait for the end, back off, again."""
        low, high = self.reconnect_delay
        delay = low
        label = f"{self.name}#{bind.number}/{bind.mode}"
        while self._running:
            try:
                session = await Session.open(
                    self.host, self.port, mode=bind.mode, system_id=self.system_id,
                    password=self.password, system_type=self.system_type,
                    connect_timeout=self.connect_timeout, label=label,
                    response_timeout=self.response_timeout,
                    enquire_link_interval=self.enquire_link_interval,
                    on_deliver=self._on_deliver, on_slots=self._wake)
            except LinkError as exc:
                bind.last_error = str(exc)
                metrics.connector_bind_error(self.name)
                level = logging.WARNING if isinstance(exc, BindRefused) else logging.INFO
                log.log(level, "%s: %s", label, exc)
            else:
                bind.session, bind.since, bind.last_error = session, time.time(), None
                bind.connects += 1
                self._wake()
                log.info("%s: bound to %s:%s", label, self.host, self.port)
                # Cancelled by stop(), which unbinds the session itself.
                await asyncio.shield(session.closed)
                lived = time.time() - bind.since
                bind.session, bind.since = None, None
                bind.last_error = session.close_reason
                if self._running:  # not our own unbind at stop()
                    metrics.connector_bind_error(self.name)
                log.warning("%s: bind closed: %s", label, session.close_reason)
                if lived > 10:
                    delay = low
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(high, delay * 2)

    # -- submitting -------------------------------------------------------------------------

    def _wake(self) -> None:
        if self._changed is not None:
            self._changed.set()

    def _pick(self) -> Session | None:
        best = None
        for bind in self._binds:
            session = bind.session
            if (session is not None and session.bound and session.can_submit
                    and session.outstanding < self.window
                    and (best is None or session.outstanding < best.outstanding)):
                best = session
        return best

    async def _slot(self, wait: list[float | None]) -> Session | None:
        """A bound session with room in its window; ``None`` if no bind comes up in time.

        ``wait`` is the submit call's own: the first part that finds no bind waits up to
        ``bind_wait``; once that has run out, the call's remaining parts fail at once.
        """
        while True:
            session = self._pick()
            if session is not None:
                wait[0] = None
                return session
            if not self._running:
                return None
            timeout = None
            if not any(b.session and b.session.bound and b.session.can_submit
                       for b in self._binds):
                if wait[0] is None:
                    wait[0] = time.monotonic() + self.bind_wait
                timeout = wait[0] - time.monotonic()
                if timeout <= 0:
                    return None
            self._changed.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._changed.wait()
            except TimeoutError:
                return None

    def _destination(self, out: Outbound) -> bytes:
        phone = out.phone.lstrip("+")
        if out.country_code == 86 and len(phone) == 11:
            phone = "86" + phone
        return pdu.address(phone)

    def _source(self, sender: str) -> tuple[bytes, int, int]:
        if sender and not sender.isdigit():
            ton, npi = 5, 0  # alphanumeric
        else:
            ton, npi = 0, 1
        if self.source_ton is not None:
            ton = self.source_ton
        if self.source_npi is not None:
            npi = self.source_npi
        return pdu.address(sender), ton, npi

    def _bodies(self, out: Outbound) -> list[bytes]:
        self._reference = (self._reference + 1) & 0xFF
        parts = message_parts(out.content, out.encoding, self._reference)
        source, source_ton, source_npi = self._source(out.sender)
        destination = self._destination(out)
        return [pdu.submit_sm_body(
            source=source, source_ton=source_ton, source_npi=source_npi,
            destination=destination, dest_ton=self.dest_ton, dest_npi=self.dest_npi,
            esm_class=part.esm_class, registered_delivery=1, data_coding=part.data_coding,
            short_message=part.short_message, service_type=self.service_type)
            for part in parts]

    async def submit(self, batch: list[Outbound]) -> list[Submitted]:
        """Submit each message; one :class:`Submitted` per message, in order (see the module
        docstring for what each outcome means)."""
        loop = asyncio.get_running_loop()
        results: list[Submitted | None] = [None] * len(batch)
        bodies: dict[int, list[bytes]] = {}
        trackers: dict[int, Tracked] = {}
        for index, out in enumerate(batch):
            try:
                bodies[index] = self._bodies(out)
            except ValueError as exc:
                results[index] = Submitted(out.message_id, error="isv.INVALID_PARAMETERS",
                                           error_message=f"cannot be sent over SMPP: {exc}")
                continue
            trackers[index] = Tracked(out.message_id, [None] * len(bodies[index]))
        outcome: dict[tuple[int, int], tuple[int, str]] = {}
        todo = [(index, seq) for index, parts in bodies.items() for seq in range(len(parts))]
        bind_wait: list[float | None] = [None]
        for attempt in range(self.part_retries + 1):
            if not todo:
                break
            round_ = _Round(loop)
            round_.remaining = len(todo) + 1  # the extra one is released after the loop
            self._queued += len(todo)
            sent = 0
            try:
                for key in todo:
                    await self._send_part(key, bodies[key[0]][key[1]], trackers[key[0]],
                                          round_, bind_wait)
                    sent += 1
                    self._queued -= 1
            finally:
                self._queued -= len(todo) - sent
            round_.done((-1, -1), 0)
            await round_.future
            del round_.results[(-1, -1)]
            outcome.update(round_.results)
            # A throttled part of a multipart message whose other parts went through is sent
            # again here: handing the message back would send the accepted parts twice.
            todo = [key for key, (status, _) in round_.results.items()
                    if status in THROTTLED and attempt < self.part_retries
                    and len(bodies[key[0]]) > 1
                    and all(outcome[(key[0], seq)][0] in (pdu.ESME_ROK, *THROTTLED)
                            for seq in range(len(bodies[key[0]])))]
        for index, out in enumerate(batch):
            if results[index] is None:
                statuses = [outcome[(index, seq)] for seq in range(len(bodies[index]))]
                results[index] = self._settle(out, trackers[index], statuses)
        return results  # type: ignore[return-value]

    async def _send_part(self, key: tuple[int, int], body: bytes, tracker: Tracked,
                         round_: _Round, bind_wait: list[float | None]) -> None:
        while (delay := self._bucket.delay()) > 0:
            await asyncio.sleep(delay)
        session = await self._slot(bind_wait)
        if session is None:
            round_.done(key, _NO_BIND, "no bind is up")
            return
        session.request(pdu.SUBMIT_SM, body, partial(self._answered, key, tracker, round_))

    def _answered(self, key: tuple[int, int], tracker: Tracked, round_: _Round,
                  status: int | None, body: bytes) -> None:
        if status is None:
            metrics.connector_answer(self.name, "timeout")
            round_.done(key, _NO_ANSWER, "sent, but no submit_sm_resp (timeout or link lost)")
            return
        metrics.connector_answer(self.name, "ok" if status == pdu.ESME_ROK else
                                 "throttled" if status in THROTTLED else "refused")
        if status == pdu.ESME_ROK:
            try:
                part_id = pdu.message_id(body)
            except pdu.PduError:
                part_id = ""
            if not part_id:
                round_.done(key, pdu.ESME_RSYSERR, "submit_sm_resp without a message_id")
                return
            self._incoming.register(part_id, tracker, key[1])
            self._accepted += 1
            self._throttle_backoff = 0.0
        elif status in THROTTLED:
            self._throttle_backoff = min(5.0, max(0.1, self._throttle_backoff * 2))
            self._bucket.pause(self._throttle_backoff)
        round_.done(key, status)

    def _settle(self, out: Outbound, tracker: Tracked,
                statuses: list[tuple[int, str]]) -> Submitted:
        permanent = [status for status, _ in statuses
                     if status not in (pdu.ESME_ROK, _NO_ANSWER, _NO_BIND, *RETRYABLE)]
        if permanent:
            self._incoming.retire(tracker)
            status = permanent[0]
            return Submitted(out.message_id, error=submit_error(status),
                             error_message=f"{pdu.status_name(status)}: the SMSC refused "
                                           f"submit_sm (0x{status:08X})")
        pending = [(status, detail) for status, detail in statuses if status != pdu.ESME_ROK]
        if pending:
            self._incoming.retire(tracker)
            status, detail = pending[0]
            if status >= 0 and not detail:
                detail = f"{pdu.status_name(status)} (0x{status:08X}): try again later"
            if len(statuses) > 1 and any(s == pdu.ESME_ROK for s, _ in statuses):
                detail += "; parts already accepted will be sent again"
            return Submitted(out.message_id, retry=True, error_message=detail)
        carrier_id = self._incoming.accepted(tracker)
        parts = tuple(part_id or "" for part_id in tracker.ids) if len(tracker.ids) > 1 else ()
        return Submitted(out.message_id, carrier_message_id=carrier_id, part_ids=parts)

    # -- what the SMSC delivers --------------------------------------------------------------

    def _on_deliver(self, session: Session, sequence: int, deliver: pdu.DeliverSm) -> None:
        self._incoming.on_deliver((session, sequence), deliver)

    def _deliver(self, ack: tuple | None, item: object) -> None:
        self._deliveries.append((ack, item))
        if self._delivery_ready is not None:
            self._delivery_ready.set()

    async def _pump(self) -> None:
        """Hand receipts and MO to the sink in batches, then answer their ``deliver_sm``."""
        while True:
            await self._delivery_ready.wait()
            self._delivery_ready.clear()
            await self._drain_deliveries()

    async def _drain_deliveries(self) -> None:
        while self._deliveries:
            batch, self._deliveries = self._deliveries, []
            receipts = [item for _ack, item in batch if isinstance(item, Receipt)]
            inbound = [item for _ack, item in batch if isinstance(item, Inbound)]
            status = pdu.ESME_ROK
            try:
                if receipts:
                    await self._sink.receipts(receipts)
                if inbound:
                    await self._sink.inbound(inbound)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: the sink failed; the SMSC will deliver again", self.name)
                status = pdu.ESME_RX_T_APPN
            for ack, _item in batch:
                if ack is not None:
                    session, sequence = ack
                    session.respond(pdu.DELIVER_SM | pdu.RESPONSE, sequence, status, b"\x00")

    async def _housekeeping(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            now = time.monotonic()
            self._samples.append((now, self._accepted))
            self._incoming.tick(now)

    # -- state ------------------------------------------------------------------------------

    def up(self) -> bool:
        """A bind that may submit is bound (what routing asks before sending here)."""
        return self._running and any(b.session is not None and b.session.bound
                                     and b.session.can_submit for b in self._binds)

    def state(self) -> dict:
        """Live state for ``pigeon connector list`` and metrics."""
        throughput = 0.0
        if len(self._samples) >= 2:
            (t0, n0), (t1, n1) = self._samples[0], self._samples[-1]
            throughput = (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0
        binds = [{
            "mode": b.mode,
            "bound": bool(b.session and b.session.bound),
            "outstanding": b.session.outstanding if b.session else 0,
            "since": (datetime.fromtimestamp(b.since, UTC).isoformat() if b.since else None),
            "connects": b.connects,
            "last_error": b.last_error,
        } for b in self._binds]
        return {
            "kind": self.kind,
            "name": self.name,
            "address": f"{self.host}:{self.port}",
            "running": self._running,
            "up": self.up(),
            "bound": sum(1 for b in binds if b["bound"]),
            "binds": binds,
            "window": self.window,
            "tps": self.tps,
            "outstanding": sum(b["outstanding"] for b in binds),
            "queue": self._queued,
            "throughput": round(throughput, 1),
            "accepted": self._accepted,
            "awaiting_receipts": len(self._incoming.parts),
            "early_receipts": len(self._incoming.early),
        }
