"""One SMPP bind: a TCP connection, its sequence numbers, its window of outstanding requests.

The session is an :class:`asyncio.Protocol`, not a stream reader: responses are matched to
their requests inside ``data_received`` and hand their result to a callback, without a task or
a future per message, and everything written during one turn of the event loop leaves in one
``write`` — that is what keeps a connector at thousands of messages per second on one core.

Failure policy (after Kannel's default ``wait-ack-expire`` 0x00):

* a request unanswered after ``response_timeout`` closes the bind; its requests and every
  other one still outstanding are reported unanswered (``status None``) — the SMSC may or may
  not have taken them, SMPP offers no way to ask;
* ``enquire_link`` goes out after ``enquire_link_interval`` seconds without traffic from the
  SMSC; the SMSC's own ``enquire_link`` and ``unbind`` are answered;
* a malformed PDU is answered with ``generic_nack`` when its sequence number can be read and
  the bind is closed: after a framing error nothing later on the stream can be trusted.

Socket errors become :class:`LinkError`, a refused bind :class:`BindRefused`; nothing else
leaves this module.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from . import pdu
from .pdu import PduError

log = logging.getLogger("pigeon.carriers.smpp")

BIND_COMMANDS = {
    "transceiver": pdu.BIND_TRANSCEIVER,
    "transmitter": pdu.BIND_TRANSMITTER,
    "receiver": pdu.BIND_RECEIVER,
}

# ``on_done(status, body)``: status None means no answer (timed out, or the bind went down).
ResponseCallback = Callable[[int | None, bytes], None]


class LinkError(Exception):
    """The bind could not be opened, or it is gone."""


class BindRefused(LinkError):
    def __init__(self, status: int) -> None:
        super().__init__(f"bind refused: {pdu.status_name(status)} (0x{status:08X})")
        self.status = status


class Session(asyncio.Protocol):
    def __init__(self, *, mode: str, label: str, response_timeout: float,
                 enquire_link_interval: float,
                 on_deliver: Callable[[Session, int, pdu.DeliverSm], None],
                 on_slots: Callable[[], None]) -> None:
        self.mode = mode
        self.label = label
        self.response_timeout = response_timeout
        self.enquire_link_interval = enquire_link_interval
        self.on_deliver = on_deliver
        self.on_slots = on_slots
        self.can_submit = mode in ("transceiver", "transmitter")
        self.transport: asyncio.Transport | None = None
        self.bound = False
        self.outstanding = 0  # submit_sm awaiting their response
        self.submitted = 0
        self.close_reason: str | None = None
        self._buffer = bytearray()
        self._sequence = 0
        # sequence → (deadline, callback, is_submit); insertion order is send order, which is
        # what lets the timeout sweep stop at the first request still in time.
        self._pending: dict[int, tuple[float, ResponseCallback, bool]] = {}
        self._out: list[bytes] = []
        self._flush_scheduled = False
        self._last_heard = time.monotonic()
        self._enquiring = False
        self._keepalive: asyncio.Task | None = None
        self._loop = asyncio.get_running_loop()
        self.closed: asyncio.Future[None] = self._loop.create_future()

    # -- opening and closing ----------------------------------------------------------------

    @classmethod
    async def open(cls, host: str, port: int, *, mode: str, system_id: str, password: str,
                   system_type: str, connect_timeout: float, **options) -> Session:
        """Connect and bind; raises :class:`LinkError` (or :class:`BindRefused`)."""
        loop = asyncio.get_running_loop()
        session = cls(mode=mode, **options)
        try:
            async with asyncio.timeout(connect_timeout):
                await loop.create_connection(lambda: session, host, port)
        except (OSError, TimeoutError) as exc:
            raise LinkError(f"cannot connect to {host}:{port}: {exc or 'timed out'}") from None
        body = pdu.bind_body(system_id, password, system_type)
        try:
            status, _ = await session.call(BIND_COMMANDS[mode], body, connect_timeout)
        except BaseException:  # cancelled (the connector stopping): leave no socket behind
            session.abort("cancelled while binding")
            raise
        if status is None:
            session.abort(session.close_reason or "no answer to the bind")
            raise LinkError(f"{host}:{port} did not answer the bind: {session.close_reason}")
        if status != pdu.ESME_ROK:
            session.abort("bind refused")
            raise BindRefused(status)
        session.bound = True
        session._keepalive = loop.create_task(session._keep_alive())
        return session

    async def unbind(self, timeout: float = 1.0) -> None:
        """Leave politely: ``unbind``, wait briefly for ``unbind_resp``, close."""
        if self.transport is None or self.transport.is_closing():
            return
        self.bound = False
        await self.call(pdu.UNBIND, b"", timeout)
        self.abort("unbound")

    def abort(self, reason: str) -> None:
        if self.close_reason is None:
            self.close_reason = reason
        self.bound = False
        if self.transport is not None:
            self._flush()
            # abort(), not close(): close() waits for the peer to read what is buffered, and a
            # peer that has stopped reading would keep the outstanding requests hanging.
            self.transport.abort()

    # -- requests ---------------------------------------------------------------------------

    def _next_sequence(self) -> int:
        self._sequence = self._sequence % pdu.MAX_SEQUENCE + 1
        return self._sequence

    def request(self, command_id: int, body: bytes, on_done: ResponseCallback,
                timeout: float | None = None) -> None:
        """Send a request; ``on_done`` gets its response (or ``None``, exactly once)."""
        if self.transport is None or self.transport.is_closing():
            on_done(None, b"")
            return
        sequence = self._next_sequence()
        is_submit = command_id == pdu.SUBMIT_SM
        if is_submit:
            self.outstanding += 1
            self.submitted += 1
        deadline = time.monotonic() + (self.response_timeout if timeout is None else timeout)
        self._pending[sequence] = (deadline, on_done, is_submit)
        self._send(pdu.encode(command_id, sequence, body))

    async def call(self, command_id: int, body: bytes, timeout: float) -> tuple[int | None, bytes]:
        future: asyncio.Future[tuple[int | None, bytes]] = self._loop.create_future()

        def done(status: int | None, body: bytes) -> None:
            if not future.done():
                future.set_result((status, body))

        self.request(command_id, body, done, timeout)
        try:
            async with asyncio.timeout(timeout + 1):
                return await asyncio.shield(future)
        except TimeoutError:
            return None, b""

    def respond(self, command_id: int, sequence: int, status: int = 0, body: bytes = b"") -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._send(pdu.encode(command_id, sequence, body, status))

    def _send(self, data: bytes) -> None:
        # Whatever is written in one turn of the loop leaves in one write (one syscall).
        self._out.append(data)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._out:
            data = b"".join(self._out)
            self._out.clear()
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(data)

    # -- asyncio.Protocol -------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.bound = False
        if self.close_reason is None:
            self.close_reason = f"connection lost: {exc}" if exc else "closed by the SMSC"
        if self._keepalive is not None:
            self._keepalive.cancel()
        pending, self._pending = self._pending, {}
        self._out.clear()
        had_submits = self.outstanding > 0
        self.outstanding = 0
        for _deadline, on_done, _is_submit in pending.values():
            on_done(None, b"")
        if not self.closed.done():
            self.closed.set_result(None)
        if had_submits or self.can_submit:
            self.on_slots()

    def data_received(self, data: bytes) -> None:
        self._last_heard = time.monotonic()
        self._buffer += data
        freed = False
        try:
            for command_id, status, sequence, body in pdu.frames(self._buffer):
                if command_id & pdu.RESPONSE:
                    entry = self._pending.pop(sequence, None)
                    if entry is None:
                        continue  # an answer to nothing we asked: ignore it (SMPP 3.4 §2.9)
                    if entry[2]:
                        self.outstanding -= 1
                        freed = True
                    entry[1](status, body)
                elif command_id == pdu.DELIVER_SM:
                    try:
                        deliver = pdu.decode_deliver_sm(body)
                    except PduError as exc:
                        exc.sequence = sequence
                        raise
                    self.on_deliver(self, sequence, deliver)
                elif command_id == pdu.ENQUIRE_LINK:
                    self.respond(pdu.ENQUIRE_LINK | pdu.RESPONSE, sequence)
                elif command_id == pdu.UNBIND:
                    self.respond(pdu.UNBIND | pdu.RESPONSE, sequence)
                    self.abort("unbound by the SMSC")
                    break
                else:
                    self.respond(pdu.GENERIC_NACK, sequence, pdu.ESME_RINVCMDID)
                if self.transport is None or self.transport.is_closing():
                    break
        except PduError as exc:
            log.warning("%s: malformed PDU from the SMSC (%s); closing the bind", self.label, exc)
            if exc.sequence is not None:
                self.respond(pdu.GENERIC_NACK, exc.sequence, pdu.ESME_RINVCMDLEN)
            self.abort(f"malformed PDU: {exc}")
        except Exception:  # a bug here must cost a reconnect, never the worker
            log.exception("%s: error handling PDUs; closing the bind", self.label)
            self.abort("internal error")
        if freed:
            self.on_slots()

    # -- keep-alive and response timeouts ---------------------------------------------------

    async def _keep_alive(self) -> None:
        tick = max(0.01, min(1.0, self.response_timeout / 4, self.enquire_link_interval / 4))
        while self.transport is not None and not self.transport.is_closing():
            await asyncio.sleep(tick)
            now = time.monotonic()
            for deadline, _on_done, _is_submit in self._pending.values():
                if deadline <= now:
                    log.warning("%s: no response within %.1fs; closing the bind", self.label,
                                self.response_timeout)
                    self.abort("response timeout")
                    return
                break  # the oldest request is in time, so are the others
            if not self._enquiring and now - self._last_heard >= self.enquire_link_interval:
                self._enquiring = True
                self.request(pdu.ENQUIRE_LINK, b"", self._enquire_answered)

    def _enquire_answered(self, status: int | None, body: bytes) -> None:
        self._enquiring = False
