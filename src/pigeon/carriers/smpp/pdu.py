"""SMPP 3.4 PDUs: framing, the encoders and decoders a connector needs, and command statuses.

Only what an ESME sends and receives: binds, ``submit_sm``, ``deliver_sm``, ``enquire_link``,
``unbind``, ``generic_nack`` and their responses.  Decoders raise :class:`PduError` and nothing
else for any input; the session closes the bind on it (the fuzz test in
``tests/carriers/test_smpp.py`` holds the decoders to that).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

GENERIC_NACK = 0x80000000
BIND_RECEIVER = 0x00000001
BIND_TRANSMITTER = 0x00000002
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
UNBIND = 0x00000006
BIND_TRANSCEIVER = 0x00000009
ENQUIRE_LINK = 0x00000015
RESPONSE = 0x80000000

HEADER = struct.Struct(">IIII")
HEADER_SIZE = 16
MAX_PDU_SIZE = 64 * 1024
"""Longer PDUs are refused as malformed.  SMPP sets no limit; the biggest legitimate PDU an
ESME receives (a ``deliver_sm`` with a full ``message_payload``) is far smaller, and a length
field gone wrong must not make the session wait for gigabytes."""

MAX_SEQUENCE = 0x7FFFFFFF

# TLV tags (SMPP 3.4 §5.3.2) that Pigeon reads.
TLV_RECEIPTED_MESSAGE_ID = 0x001E
TLV_SAR_MSG_REF_NUM = 0x020C
TLV_SAR_TOTAL_SEGMENTS = 0x020E
TLV_SAR_SEGMENT_SEQNUM = 0x020F
TLV_MESSAGE_PAYLOAD = 0x0424
TLV_MESSAGE_STATE = 0x0427

# command_status values (SMPP 3.4 §5.1.3) by name.
ESME_ROK = 0x00
ESME_RINVCMDLEN = 0x02
ESME_RINVCMDID = 0x03
ESME_RINVBNDSTS = 0x04
ESME_RSYSERR = 0x08
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58
ESME_RX_T_APPN = 0x64

STATUS_NAMES = {
    0x00: "ESME_ROK", 0x01: "ESME_RINVMSGLEN", 0x02: "ESME_RINVCMDLEN", 0x03: "ESME_RINVCMDID",
    0x04: "ESME_RINVBNDSTS", 0x05: "ESME_RALYBND", 0x06: "ESME_RINVPRTFLG",
    0x07: "ESME_RINVREGDLVFLG", 0x08: "ESME_RSYSERR", 0x0A: "ESME_RINVSRCADR",
    0x0B: "ESME_RINVDSTADR", 0x0C: "ESME_RINVMSGID", 0x0D: "ESME_RBINDFAIL",
    0x0E: "ESME_RINVPASWD", 0x0F: "ESME_RINVSYSID", 0x11: "ESME_RCANCELFAIL",
    0x13: "ESME_RREPLACEFAIL", 0x14: "ESME_RMSGQFUL", 0x15: "ESME_RINVSERTYP",
    0x33: "ESME_RINVNUMDESTS", 0x34: "ESME_RINVDLNAME", 0x40: "ESME_RINVDESTFLAG",
    0x42: "ESME_RINVSUBREP", 0x43: "ESME_RINVESMCLASS", 0x44: "ESME_RCNTSUBDL",
    0x45: "ESME_RSUBMITFAIL", 0x48: "ESME_RINVSRCTON", 0x49: "ESME_RINVSRCNPI",
    0x50: "ESME_RINVDSTTON", 0x51: "ESME_RINVDSTNPI", 0x53: "ESME_RINVSYSTYP",
    0x54: "ESME_RINVREPFLAG", 0x55: "ESME_RINVNUMMSGS", 0x58: "ESME_RTHROTTLED",
    0x61: "ESME_RINVSCHED", 0x62: "ESME_RINVEXPIRY", 0x63: "ESME_RINVDFTMSGID",
    0x64: "ESME_RX_T_APPN", 0x65: "ESME_RX_P_APPN", 0x66: "ESME_RX_R_APPN",
    0x67: "ESME_RQUERYFAIL", 0xC0: "ESME_RINVOPTPARSTREAM", 0xC1: "ESME_ROPTPARNOTALLWD",
    0xC2: "ESME_RINVPARLEN", 0xC3: "ESME_RMISSINGOPTPARAM", 0xC4: "ESME_RINVOPTPARAMVAL",
    0xFE: "ESME_RDELIVERYFAILURE", 0xFF: "ESME_RUNKNOWNERR",
}


def status_name(status: int) -> str:
    return STATUS_NAMES.get(status, f"0x{status:08X}")


class PduError(Exception):
    """A PDU that breaks SMPP 3.4 framing or layout.  ``sequence`` is the sequence number when
    the header could be read (a ``generic_nack`` can then name the request)."""

    def __init__(self, message: str, sequence: int | None = None) -> None:
        super().__init__(message)
        self.sequence = sequence


def encode(command_id: int, sequence: int, body: bytes = b"", status: int = 0) -> bytes:
    return HEADER.pack(HEADER_SIZE + len(body), command_id, status, sequence) + body


def frames(buffer: bytearray) -> Iterator[tuple[int, int, int, bytes]]:
    """Take every complete PDU off the front of ``buffer``: ``(command_id, status, sequence,
    body)``.  An incomplete PDU stays in the buffer for the next read."""
    offset = 0
    size = len(buffer)
    try:
        while size - offset >= HEADER_SIZE:
            length, command_id, status, sequence = HEADER.unpack_from(buffer, offset)
            if length < HEADER_SIZE or length > MAX_PDU_SIZE:
                raise PduError(f"command_length {length} is out of range", sequence)
            if size - offset < length:
                break
            body = bytes(buffer[offset + HEADER_SIZE:offset + length])
            offset += length
            yield command_id, status, sequence, body
    finally:
        del buffer[:offset]


def cstring(value: str, limit: int, field: str) -> bytes:
    """A C-Octet String of at most ``limit`` octets including the NUL (SMPP 3.4 §3.1)."""
    raw = value.encode("latin-1")
    if len(raw) >= limit or b"\x00" in raw:
        raise ValueError(f"{field} must be shorter than {limit} octets and have no NUL")
    return raw + b"\x00"


def bind_body(system_id: str, password: str, system_type: str = "", *,
              addr_ton: int = 0, addr_npi: int = 0, address_range: str = "") -> bytes:
    return (cstring(system_id, 16, "system_id") + cstring(password, 9, "password")
            + cstring(system_type, 13, "system_type")
            + bytes((0x34, addr_ton, addr_npi)) + cstring(address_range, 41, "address_range"))


_SUBMIT_FLAGS = struct.Struct(">BBB")


def submit_sm_body(*, source: bytes, source_ton: int, source_npi: int, destination: bytes,
                   dest_ton: int, dest_npi: int, esm_class: int, registered_delivery: int,
                   data_coding: int, short_message: bytes, service_type: bytes = b"\x00",
                   ) -> bytes:
    """``source``/``destination`` are already C-strings (the connector encodes each address
    once per message, not once per part).  protocol_id, priority, schedule and validity are
    left to the SMSC's defaults."""
    if len(short_message) > 254:
        raise ValueError("short_message is longer than 254 octets")
    return b"".join((
        service_type, bytes((source_ton, source_npi)), source, bytes((dest_ton, dest_npi)),
        destination, bytes((esm_class, 0, 0)), b"\x00\x00",
        bytes((registered_delivery, 0, data_coding, 0, len(short_message))), short_message,
    ))


def address(value: str) -> bytes:
    return cstring(value, 21, "address")


class _Reader:
    __slots__ = ("body", "at")

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.at = 0

    def cstring(self, limit: int) -> str:
        end = self.body.find(b"\x00", self.at, self.at + limit)
        if end < 0:
            raise PduError("C-Octet String without its NUL within its size")
        value = self.body[self.at:end].decode("latin-1")
        self.at = end + 1
        return value

    def octets(self, count: int) -> bytes:
        if self.at + count > len(self.body):
            raise PduError("PDU body is shorter than its fields")
        value = self.body[self.at:self.at + count]
        self.at += count
        return value

    def tlvs(self) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        body = self.body
        while self.at < len(body):
            if self.at + 4 > len(body):
                raise PduError("truncated optional parameter")
            tag, length = struct.unpack_from(">HH", body, self.at)
            self.at += 4
            found[tag] = self.octets(length)
        return found


def message_id(body: bytes) -> str:
    """The ``message_id`` of a ``submit_sm_resp`` (an empty body when the status is an error)."""
    if not body:
        return ""
    return _Reader(body).cstring(65)


def bind_resp_system_id(body: bytes) -> str:
    return _Reader(body).cstring(16) if body else ""


@dataclass(frozen=True, slots=True)
class DeliverSm:
    service_type: str
    source_addr_ton: int
    source_addr_npi: int
    source_addr: str
    dest_addr_ton: int
    dest_addr_npi: int
    destination_addr: str
    esm_class: int
    protocol_id: int
    data_coding: int
    short_message: bytes
    tlvs: dict[int, bytes]

    @property
    def is_receipt(self) -> bool:
        """SMSC delivery receipt (message type bits 2–5 = 0001, SMPP 3.4 §5.2.12); 0x20
        (intermediate notification) counts too, its ``stat`` says it is not final."""
        return self.esm_class & 0x3C in (0x04, 0x20)

    @property
    def message(self) -> bytes:
        """The message octets: ``short_message``, or the ``message_payload`` TLV."""
        return self.short_message or self.tlvs.get(TLV_MESSAGE_PAYLOAD, b"")


# Field sizes of SMPP 3.4 §4.6.1 are 6 and 21; some SMSCs send longer addresses (alphanumeric
# or with prefixes), so the reader accepts up to 65 and only insists on the terminating NUL.
_LOOSE = 65


def decode_deliver_sm(body: bytes) -> DeliverSm:
    reader = _Reader(body)
    service_type = reader.cstring(_LOOSE)
    source_ton, source_npi = reader.octets(2)
    source = reader.cstring(_LOOSE)
    dest_ton, dest_npi = reader.octets(2)
    destination = reader.cstring(_LOOSE)
    esm_class, protocol_id, _priority = reader.octets(3)
    reader.cstring(17)  # schedule_delivery_time
    reader.cstring(17)  # validity_period
    _registered, _replace, data_coding, _default_id, length = reader.octets(5)
    short_message = reader.octets(length)
    return DeliverSm(service_type, source_ton, source_npi, source, dest_ton, dest_npi,
                     destination, esm_class, protocol_id, data_coding, short_message,
                     reader.tlvs())
