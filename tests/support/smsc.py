"""A small SMSC for tests and benchmarks: a real SMPP 3.4 server on an ephemeral loopback port.

It has its own few-line PDU encoder and decoder, written from the specification and sharing no
code with ``pigeon.carriers.smpp``, so that it checks the PDUs Pigeon sends instead of echoing
Pigeon's own assumptions back.  It speaks what a connector needs: ``bind_transmitter``,
``bind_receiver`` and ``bind_transceiver``, ``submit_sm`` answered with a message id, a
delivery receipt by ``deliver_sm`` (receipt text and the ``receipted_message_id`` /
``message_state`` TLVs) after a configurable delay, ``enquire_link`` both ways, ``unbind``,
and MO injection.

Switches, all plain attributes that a test may flip while the server runs:

* ``receipt_delay`` — seconds before the receipt (``None``: no receipts at all);
* ``receipt_before_resp`` — send the receipt *before* the ``submit_sm_resp``;
* ``outcomes`` — destination → ``(stat, err)`` of its receipt (default ``DELIVRD``/``000``);
* ``statuses`` — destination → ``command_status`` of its ``submit_sm_resp``;
* ``throttle_every`` — every Nth ``submit_sm`` is answered ``ESME_RTHROTTLED`` (0x58);
* ``drop_after`` — close the connection abruptly on receiving the Nth ``submit_sm`` (counted
  across sessions, once); the submits it had not answered get no answer;
* ``silent`` — take ``submit_sm`` and never answer;
* ``answer_delay`` — answer every ``submit_sm`` this many seconds late;
* ``bind_status`` — answer every bind with this ``command_status`` (e.g. 0x0D bind failed);
* ``garbage_after`` — after the Nth ``submit_sm``, write a malformed PDU instead of answering;
* ``store_and_forward`` — keep a ``deliver_sm`` that no receiver is bound for, or that a
  session lost before answering it, and send it on the next receiver bind (as a real SMSC
  does; off: it is dropped).

What it saw is kept in ``submits`` (every ``submit_sm`` decoded), ``binds``,
``deliver_sm_resps``, ``enquire_links_received``, ``max_outstanding`` (the most ``submit_sm``
one session had taken and not yet answered) and ``sessions`` (live connections).
:meth:`FakeSmsc.settled` is the barrier before checking that nothing more arrives: every
receipt it owes has been sent and every ``deliver_sm`` it sent has been answered.

An exception in the SMSC's own code (asyncio would only log it from a protocol callback) is
kept in ``failures`` and raised again by :meth:`FakeSmsc.stop`, so the test fails.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import struct
import time
from dataclasses import dataclass
from datetime import UTC, datetime

BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015
GENERIC_NACK = 0x80000000
RESPONSE = 0x80000000

_HEADER = struct.Struct(">IIII")
# A whole header claiming a command_length of 8: shorter than the header itself.
GARBAGE = bytes.fromhex("00000008 80000004 00000000 00000007")
_BINDS = {BIND_RECEIVER: "receiver", BIND_TRANSMITTER: "transmitter",
          BIND_TRANSCEIVER: "transceiver"}
# message_state values of SMPP 3.4 §5.2.28, by receipt stat.
_MESSAGE_STATE = {"ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5,
                  "ACCEPTD": 6, "UNKNOWN": 7, "REJECTD": 8}


def pdu(command_id: int, sequence: int, body: bytes = b"", status: int = 0) -> bytes:
    return _HEADER.pack(16 + len(body), command_id, status, sequence) + body


def cstr(value: str | bytes) -> bytes:
    if isinstance(value, str):
        value = value.encode("latin-1")
    return value + b"\x00"


def _take_cstr(body: bytes, at: int) -> tuple[bytes, int]:
    end = body.index(b"\x00", at)
    return body[at:end], end + 1


def _tlvs(body: bytes, at: int) -> dict[int, bytes]:
    found = {}
    while at + 4 <= len(body):
        tag, length = struct.unpack_from(">HH", body, at)
        found[tag] = body[at + 4:at + 4 + length]
        at += 4 + length
    return found


@dataclass
class ReceivedSubmit:
    """One ``submit_sm`` as the SMSC decoded it."""

    session: int
    sequence: int
    service_type: str
    source_addr_ton: int
    source_addr_npi: int
    source_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    destination_addr: str
    esm_class: int
    protocol_id: int
    registered_delivery: int
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes]
    message_id: str | None = None

    @property
    def udh(self) -> bytes:
        if self.esm_class & 0x40:
            return self.short_message[:self.short_message[0] + 1]
        return b""

    @property
    def payload(self) -> bytes:
        return self.short_message[len(self.udh):]

    @property
    def text(self) -> str:
        """The part's text: UCS-2 big-endian for ``data_coding`` 8, else one septet an octet."""
        if self.data_coding == 8:
            return self.payload.decode("utf-16-be")
        return "".join(_GSM7_DECODE.get(pair, "?") for pair in _septets(self.payload))


def _septets(payload: bytes):
    index = 0
    while index < len(payload):
        if payload[index] == 0x1B and index + 1 < len(payload):
            yield (0x1B, payload[index + 1])
            index += 2
        else:
            yield payload[index]
            index += 1


# GSM 03.38, written out again here rather than imported: the SMSC is an independent reader.
_GSM7_BASIC = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
               "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
_GSM7_DECODE: dict = {index: char for index, char in enumerate(_GSM7_BASIC)}
_GSM7_DECODE.update({(0x1B, code): char for char, code in {
    "\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C, "~": 0x3D, "]": 0x3E,
    "|": 0x40, "€": 0x65}.items()})


def decode_submit(session: int, sequence: int, body: bytes) -> ReceivedSubmit:
    service_type, at = _take_cstr(body, 0)
    source_ton, source_npi = body[at], body[at + 1]
    source, at = _take_cstr(body, at + 2)
    dest_ton, dest_npi = body[at], body[at + 1]
    dest, at = _take_cstr(body, at + 2)
    esm_class, protocol_id, _priority = body[at], body[at + 1], body[at + 2]
    _schedule, at = _take_cstr(body, at + 3)
    _validity, at = _take_cstr(body, at)
    registered, _replace, data_coding, _default_id, length = body[at:at + 5]
    message = body[at + 5:at + 5 + length]
    return ReceivedSubmit(
        session=session, sequence=sequence, service_type=service_type.decode(),
        source_addr_ton=source_ton, source_addr_npi=source_npi, source_addr=source.decode(),
        dest_addr_ton=dest_ton, dest_addr_npi=dest_npi, destination_addr=dest.decode(),
        esm_class=esm_class, protocol_id=protocol_id, registered_delivery=registered,
        data_coding=data_coding, short_message=message,
        tlvs=_tlvs(body, at + 5 + length))


def deliver_sm_body(*, source: str, destination: str, esm_class: int, data_coding: int,
                    message: bytes, tlvs: dict[int, bytes] | None = None) -> bytes:
    body = (cstr("") + bytes([1, 1]) + cstr(source) + bytes([0, 0]) + cstr(destination)
            + bytes([esm_class, 0, 0]) + cstr("") + cstr("")
            + bytes([0, 0, data_coding, 0, len(message)]) + message)
    for tag, value in (tlvs or {}).items():
        body += struct.pack(">HH", tag, len(value)) + value
    return body


def receipt_text(message_id: str, stat: str, err: str, when: datetime, text: str = "") -> str:
    stamp = when.strftime("%y%m%d%H%M")
    return (f"id:{message_id} sub:001 dlvrd:{'001' if stat == 'DELIVRD' else '000'} "
            f"submit date:{stamp} done date:{stamp} stat:{stat} err:{err} text:{text[:20]}")


def _kept(method):
    """Keep an exception of ``method`` (of a session or the SMSC) in ``FakeSmsc.failures``,
    then raise it on."""
    @functools.wraps(method)
    def run(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except Exception as exc:
            getattr(self, "smsc", self).failures.append(exc)
            raise
    return run


@dataclass
class Bind:
    session: int
    mode: str
    system_id: str
    password: str
    system_type: str
    interface_version: int


class _Session(asyncio.Protocol):
    def __init__(self, smsc: FakeSmsc, number: int) -> None:
        self.smsc = smsc
        self.number = number
        self.buffer = bytearray()
        self.transport: asyncio.Transport | None = None
        self.bound: str | None = None
        self.outstanding = 0
        self.sequence = itertools.count(1)
        self.waiting: dict[int, asyncio.Future] = {}
        self.delivering: dict[int, bytes] = {}  # deliver_sm bodies not answered yet
        self.out: list[bytes] = []
        self.flush_scheduled = False

    # -- plumbing ---------------------------------------------------------------------------

    def connection_made(self, transport) -> None:
        self.transport = transport
        self.smsc.sessions.add(self)

    def connection_lost(self, exc) -> None:
        self.smsc.sessions.discard(self)
        if self.smsc.store_and_forward:
            self.smsc.held.extend(self.delivering.values())
        for future in self.waiting.values():
            if not future.done():
                future.cancel()

    def send(self, data: bytes) -> None:
        # Answers to one read go out in one write, as a busy SMSC's would.
        self.out.append(data)
        if not self.flush_scheduled:
            self.flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self.flush_scheduled = False
        if self.out and self.transport is not None and not self.transport.is_closing():
            self.transport.write(b"".join(self.out))
        self.out.clear()

    def request(self, command_id: int, body: bytes) -> asyncio.Future:
        sequence = next(self.sequence)
        future = asyncio.get_running_loop().create_future()
        self.waiting[sequence] = future
        if command_id == DELIVER_SM:
            self.delivering[sequence] = body
        self.send(pdu(command_id, sequence, body))
        return future

    def drop(self) -> None:
        self.out.clear()
        if self.transport is not None:
            self.transport.abort()

    @_kept
    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= 16:
            length, command_id, status, sequence = _HEADER.unpack_from(self.buffer)
            if length < 16 or length > 65536:
                self.drop()
                return
            if len(self.buffer) < length:
                return
            body = bytes(self.buffer[16:length])
            del self.buffer[:length]
            self.handle(command_id, status, sequence, body)
            if self.transport is None or self.transport.is_closing():
                return

    # -- the protocol -----------------------------------------------------------------------

    def handle(self, command_id: int, status: int, sequence: int, body: bytes) -> None:
        smsc = self.smsc
        if command_id & RESPONSE:
            future = self.waiting.pop(sequence, None)
            self.delivering.pop(sequence, None)
            if command_id == DELIVER_SM | RESPONSE:
                smsc.deliver_sm_resps[(self.number, sequence)] = status
            if future is not None and not future.done():
                future.set_result(status)
            return
        if command_id in _BINDS:
            system_id, at = _take_cstr(body, 0)
            password, at = _take_cstr(body, at)
            system_type, at = _take_cstr(body, at)
            smsc.binds.append(Bind(self.number, _BINDS[command_id], system_id.decode(),
                                   password.decode(), system_type.decode(), body[at]))
            answer = smsc.bind_status
            if answer == 0 and (system_id.decode(), password.decode()) != (
                    smsc.system_id, smsc.password):
                answer = 0x0E  # ESME_RINVPASWD
            self.send(pdu(command_id | RESPONSE, sequence, cstr("FakeSMSC"), answer))
            if answer == 0:
                self.bound = _BINDS[command_id]
                if self.bound in ("receiver", "transceiver"):
                    held, smsc.held = smsc.held, []
                    for held_body in held:
                        smsc.deliver_sms_sent += 1
                        self.request(DELIVER_SM, held_body)
            return
        if command_id == ENQUIRE_LINK:
            smsc.enquire_links_received += 1
            self.send(pdu(ENQUIRE_LINK | RESPONSE, sequence))
            return
        if command_id == UNBIND:
            self.send(pdu(UNBIND | RESPONSE, sequence))
            self.flush()
            self.bound = None
            self.transport.close()
            return
        if command_id == SUBMIT_SM:
            self.submit(sequence, body)
            return
        self.send(pdu(GENERIC_NACK, sequence, status=0x03))  # ESME_RINVCMDID

    def submit(self, sequence: int, body: bytes) -> None:
        smsc = self.smsc
        if self.bound not in ("transmitter", "transceiver"):
            self.send(pdu(SUBMIT_SM | RESPONSE, sequence, status=0x04))  # ESME_RINVBNDSTS
            return
        submit = decode_submit(self.number, sequence, body)
        smsc.submits.append(submit)
        smsc.submitted_at.append(time.monotonic())
        smsc.submit_count += 1
        count = smsc.submit_count
        if smsc.drop_after is not None and count >= smsc.drop_after:
            smsc.drop_after = None
            self.drop()
            return
        if smsc.garbage_after is not None and count >= smsc.garbage_after:
            smsc.garbage_after = None
            self.send(GARBAGE)
            return
        if smsc.silent:
            return
        self.outstanding += 1
        smsc.max_outstanding = max(smsc.max_outstanding, self.outstanding)
        if smsc.answer_delay:
            asyncio.get_running_loop().call_later(smsc.answer_delay, self.answer, submit, count)
        else:
            self.answer(submit, count)

    @_kept
    def answer(self, submit: ReceivedSubmit, count: int) -> None:
        smsc = self.smsc
        self.outstanding -= 1
        if self.transport is None or self.transport.is_closing():
            return
        status = smsc.statuses.get(submit.destination_addr, 0)
        if smsc.throttle_every and count % smsc.throttle_every == 0:
            status = 0x58
        if status:
            self.send(pdu(SUBMIT_SM | RESPONSE, submit.sequence, status=status))
            return
        submit.message_id = message_id = f"{smsc.prefix}{next(smsc.ids):08X}"
        resp = pdu(SUBMIT_SM | RESPONSE, submit.sequence, cstr(message_id))
        if smsc.receipt_delay is None or not submit.registered_delivery & 0x01:
            self.send(resp)
            return
        if smsc.receipt_before_resp:
            smsc.send_receipt(submit, now=True)
            self.send(resp)
        else:
            self.send(resp)
            smsc.send_receipt(submit)


class FakeSmsc:
    """The SMSC.  ``async with FakeSmsc() as smsc:`` listens on ``127.0.0.1:smsc.port``."""

    def __init__(self, *, system_id: str = "pigeon", password: str = "secret",
                 receipt_delay: float | None = 0.0, prefix: str = "M") -> None:
        self.system_id = system_id
        self.password = password
        self.prefix = prefix
        self.receipt_delay = receipt_delay
        self.receipt_before_resp = False
        self.receipt_tlvs = True
        self.outcomes: dict[str, tuple[str, str]] = {}
        self.statuses: dict[str, int] = {}
        self.throttle_every = 0
        self.drop_after: int | None = None
        self.garbage_after: int | None = None
        self.silent = False
        self.answer_delay = 0.0
        self.store_and_forward = False
        self.held: list[bytes] = []  # deliver_sm bodies for the next receiver (store_and_forward)
        self.bind_status = 0
        self.submits: list[ReceivedSubmit] = []
        self.submitted_at: list[float] = []  # when each of submits arrived (time.monotonic())
        self.submit_count = 0
        self.binds: list[Bind] = []
        self.deliver_sm_resps: dict[tuple[int, int], int] = {}
        self.enquire_links_received = 0
        self.max_outstanding = 0
        self.deliver_sms_sent = 0
        self.receipts_scheduled = 0  # receipts waiting for their receipt_delay
        self.failures: list[Exception] = []
        self.sessions: set[_Session] = set()
        self.ids = itertools.count(1)
        self._numbers = itertools.count(1)
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> FakeSmsc:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Session(self, next(self._numbers)), "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        """Close the port and every session; raise the first of ``failures``."""
        if self._server is not None:
            self._server.close()
            for session in list(self.sessions):
                session.drop()
            await self._server.wait_closed()
            self._server = None
        if self.failures:
            raise AssertionError(f"the test SMSC failed {len(self.failures)} time(s)") \
                from self.failures[0]

    async def __aenter__(self) -> FakeSmsc:
        return await self.start()

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    # -- what a test does to the SMSC -------------------------------------------------------

    def receivers(self) -> list[_Session]:
        return [s for s in self.sessions if s.bound in ("receiver", "transceiver")]

    def send_receipt(self, submit: ReceivedSubmit, *, now: bool = False) -> None:
        stat, err = self.outcomes.get(submit.destination_addr, ("DELIVRD", "000"))
        text = receipt_text(submit.message_id, stat, err, datetime.now(UTC))
        tlvs = None
        if self.receipt_tlvs:
            tlvs = {0x001E: cstr(submit.message_id),
                    0x0427: bytes([_MESSAGE_STATE.get(stat, 7)])}
        body = deliver_sm_body(source=submit.destination_addr, destination=submit.source_addr,
                               esm_class=0x04, data_coding=0, message=text.encode(), tlvs=tlvs)
        if now or not self.receipt_delay:
            self._deliver(body, submit.session)
        else:
            self.receipts_scheduled += 1
            asyncio.get_running_loop().call_later(self.receipt_delay, self._deliver_later,
                                                  body, submit.session)

    def _deliver_later(self, body: bytes, prefer: int) -> None:
        self.receipts_scheduled -= 1
        self._deliver(body, prefer)

    @_kept
    def _deliver(self, body: bytes, prefer: int | None = None) -> asyncio.Future | None:
        receivers = self.receivers()
        if not receivers:
            if self.store_and_forward:
                self.held.append(body)
            return None
        session = next((s for s in receivers if s.number == prefer), receivers[0])
        self.deliver_sms_sent += 1
        return session.request(DELIVER_SM, body)

    def settled(self) -> bool:
        """Every receipt owed is sent and every ``deliver_sm`` sent is answered (the connector
        answers one once its sink has taken what it carried)."""
        return self.receipts_scheduled == 0 and len(self.deliver_sm_resps) == \
            self.deliver_sms_sent

    async def inject_mo(self, source: str, destination: str, text: str) -> int:
        """Send an MO ``deliver_sm`` (UCS-2 unless the text is ASCII); the deliver_sm_resp
        status."""
        if text.isascii():
            coding, message = 0, text.encode("ascii")
        else:
            coding, message = 8, text.encode("utf-16-be")
        body = deliver_sm_body(source=source, destination=destination, esm_class=0,
                               data_coding=coding, message=message)
        future = self._deliver(body)
        if future is None:
            raise RuntimeError("no receiver bound")
        async with asyncio.timeout(5):
            return await future

    async def enquire_link(self) -> list[int]:
        """Send ``enquire_link`` on every session; the statuses of the answers."""
        futures = [s.request(ENQUIRE_LINK, b"") for s in list(self.sessions) if s.bound]
        async with asyncio.timeout(5):
            return list(await asyncio.gather(*futures))

    def send_garbage(self, data: bytes = GARBAGE) -> None:
        for session in list(self.sessions):
            session.send(data)

    def drop_all(self) -> None:
        for session in list(self.sessions):
            session.drop()

    def messages(self) -> dict[str, list[ReceivedSubmit]]:
        """The submits grouped into messages: by concatenation reference, else alone."""
        grouped: dict[str, list[ReceivedSubmit]] = {}
        for submit in self.submits:
            udh = submit.udh
            if udh:
                key = f"{submit.destination_addr}/{udh[3]}"
            else:
                key = f"{submit.destination_addr}/{submit.session}/{submit.sequence}"
            grouped.setdefault(key, []).append(submit)
        return grouped


__all__ = ["FakeSmsc", "ReceivedSubmit"]
