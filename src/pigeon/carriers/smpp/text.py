"""What travels inside the PDUs: message text, concatenation headers, receipts and MO text.

* ``gsm7`` messages go with ``data_coding`` 0 as unpacked GSM 03.38 septets, one per octet,
  extension characters as ESC (0x1B) + septet — the usual reading of "SMSC default alphabet";
  the SMSC packs them for the air interface.  A 153-character part with its UDH is therefore
  159 octets in ``short_message`` (SMPP allows 254).
* ``ucs2`` and ``mainland`` messages go with ``data_coding`` 8, UTF-16 big-endian (mainland
  Chinese text is never GSM-7).  67 code units and the UDH make 140 octets.
* Parts come from :func:`pigeon.core.segments.split_for_carrier`, so one PDU per billed segment;
  several parts carry the 6-octet UDH ``05 00 03 ref total seq`` and ``esm_class`` 0x40.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pigeon.core.segments import GSM7_BASIC, GSM7_ESCAPE, GSM7_EXTENSION, split_for_carrier

from .pdu import TLV_MESSAGE_STATE, TLV_RECEIPTED_MESSAGE_ID, DeliverSm

DATA_CODING = {"gsm7": 0x00, "ucs2": 0x08, "mainland": 0x08}
ESM_UDHI = 0x40

_GSM7_ENCODE: dict[str, bytes] = {
    char: bytes((septet,)) for septet, char in enumerate(GSM7_BASIC) if septet != GSM7_ESCAPE
} | {char: bytes((GSM7_ESCAPE, septet)) for char, septet in GSM7_EXTENSION.items()}
_GSM7_DECODE: dict[int, str] = {
    septet: char for septet, char in enumerate(GSM7_BASIC) if septet != GSM7_ESCAPE}
_GSM7_EXTENSION_DECODE = {septet: char for char, septet in GSM7_EXTENSION.items()}


def encode_gsm7(text: str) -> bytes:
    """Unpacked GSM 03.38 septets; ``ValueError`` for a character outside the alphabet."""
    try:
        return b"".join([_GSM7_ENCODE[char] for char in text])
    except KeyError as exc:
        raise ValueError(f"{exc.args[0]!r} is not in the GSM-7 alphabet") from None


def decode_gsm7(data: bytes) -> str:
    chars = []
    escape = False
    for octet in data:
        if escape:
            chars.append(_GSM7_EXTENSION_DECODE.get(octet, " "))
            escape = False
        elif octet == GSM7_ESCAPE:
            escape = True
        else:
            chars.append(_GSM7_DECODE.get(octet & 0x7F, "?"))
    return "".join(chars)


@dataclass(frozen=True, slots=True)
class Part:
    esm_class: int
    data_coding: int
    short_message: bytes


def message_parts(content: str, encoding: str, reference: int) -> list[Part]:
    """The ``submit_sm`` parts of one message; ``reference`` (0–255) ties them together."""
    # The common case first, without counting character by character: a text that fits one
    # segment (70 UTF-16 code units, 160 septets) is one part — split_for_carrier's own rule.
    if encoding == "gsm7":
        try:
            septets = encode_gsm7(content)
        except ValueError:
            septets = None
        if septets is not None and len(septets) <= 160:
            return [Part(0, 0x00, septets)]
    else:
        units = content.encode("utf-16-be")
        if len(units) <= 140:
            return [Part(0, 0x08, units)]
    if encoding == "gsm7":
        try:
            texts = split_for_carrier(content, "gsm7")
        except ValueError:
            # Counted as GSM-7 but not GSM-7 after all: send it as UCS-2 rather than mangle it.
            encoding = "ucs2"
    if encoding != "gsm7":
        encoding = "mainland" if encoding == "mainland" else "ucs2"
        texts = split_for_carrier(content, encoding)
    coding = DATA_CODING[encoding]
    encode = encode_gsm7 if coding == 0 else _ucs2
    if len(texts) == 1:
        return [Part(0, coding, encode(texts[0]))]
    total = len(texts)
    return [Part(ESM_UDHI, coding, bytes((5, 0, 3, reference & 0xFF, total, seq)) + encode(text))
            for seq, text in enumerate(texts, start=1)]


def _ucs2(text: str) -> bytes:
    return text.encode("utf-16-be")


def decode_text(data_coding: int, data: bytes) -> str:
    """MO text by ``data_coding``: 8 UCS-2, 1 ASCII, 0 GSM-7 (one septet an octet), 3 and
    the others (binary, national sets) as Latin-1 so that no octet is lost."""
    coding = data_coding
    if coding & 0xF0 == 0xF0:  # the GSM 03.38 "message class" group: bit 2 says 8-bit data
        coding = 0x04 if coding & 0x04 else 0x00
    if coding == 0x08:
        return data[: len(data) & ~1].decode("utf-16-be", errors="replace")
    if coding == 0x01:
        return data.decode("ascii", errors="replace")
    if coding == 0x00:
        return decode_gsm7(data)
    return data.decode("latin-1")


def split_udh(esm_class: int, message: bytes) -> tuple[tuple[int, int, int] | None, bytes]:
    """``((reference, total, seq) or None, payload)`` of a message that may carry a UDH.

    Both concatenation elements are read: 8-bit (IEI 0x00) and 16-bit (IEI 0x08) references.
    """
    if not esm_class & ESM_UDHI or not message:
        return None, message
    length = message[0]
    header, payload = message[1:1 + length], message[1 + length:]
    concat = None
    at = 0
    while at + 2 <= len(header):
        iei, size = header[at], header[at + 1]
        element = header[at + 2:at + 2 + size]
        if iei == 0x00 and size == 3 and len(element) == 3:
            concat = (element[0], element[1], element[2])
        elif iei == 0x08 and size == 4 and len(element) == 4:
            concat = ((element[0] << 8) | element[1], element[2], element[3])
        at += 2 + size
    return concat, payload


@dataclass(frozen=True, slots=True)
class ReceiptInfo:
    message_id: str
    stat: str
    err: str
    done_date: str | None


_FIELD = re.compile(r"\b(id|stat|err|done date|text):(\S*)", re.IGNORECASE)
_STATES = {1: "ENROUTE", 2: "DELIVRD", 3: "EXPIRED", 4: "DELETED", 5: "UNDELIV", 6: "ACCEPTD",
           7: "UNKNOWN", 8: "REJECTD"}
STANDARD_STATS = frozenset(_STATES.values())
_NOT_FINAL = frozenset({"ENROUTE", "ACCEPTD"})


def parse_receipt(deliver: DeliverSm) -> ReceiptInfo | None:
    """The receipt in a ``deliver_sm``: the text (``id:… stat:… err:…``) and the TLVs.

    ``receipted_message_id`` wins over the text's ``id`` (the text's id is informative only in
    SMPP 3.4 Appendix B, and some SMSCs print it in decimal while ``submit_sm_resp`` gave hex);
    ``stat`` wins over ``message_state``, which fills in when the text has none.  ``None`` when
    neither names a message.
    """
    fields: dict[str, str] = {}
    for match in _FIELD.finditer(deliver.message.decode("latin-1")):
        key = match[1].lower()
        if key == "text":
            break  # the rest is message text, which may itself contain "stat:"
        fields.setdefault(key, match[2])
    tlv_id = deliver.tlvs.get(TLV_RECEIPTED_MESSAGE_ID)
    message_id = tlv_id.rstrip(b"\x00").decode("latin-1") if tlv_id else fields.get("id", "")
    stat = fields.get("stat", "").upper()
    if not stat:
        state = deliver.tlvs.get(TLV_MESSAGE_STATE)
        stat = _STATES.get(state[0], "UNKNOWN") if state else "UNKNOWN"
    if not message_id:
        return None
    return ReceiptInfo(message_id, stat, fields.get("err", ""), fields.get("done date"))


@dataclass(frozen=True, slots=True)
class Outcome:
    final: bool
    delivered: bool
    err_code: str
    err_message: str | None


def receipt_outcome(info: ReceiptInfo) -> Outcome:
    """What a receipt means for the message.

    * ``DELIVRD`` → delivered, ``err_code`` ``DELIVERED``.
    * ``ENROUTE`` / ``ACCEPTD`` → not final (intermediate notifications): ignored.
    * A ``stat`` outside SMPP's seven (a Chinese carrier's ``MK:0001``, ``MI:0013``…) is the
      code, passed through as Alibaba does.
    * Otherwise a carrier code in ``err`` (it has letters, e.g. ``err:MK:0005``) is the code;
      else the ``stat`` itself (``UNDELIV``, ``EXPIRED``, ``REJECTD``, ``DELETED``,
      ``UNKNOWN``).  ``err_message`` keeps both raw fields.
    """
    stat, err = info.stat, info.err
    if stat == "DELIVRD":
        return Outcome(True, True, "DELIVERED", None)
    if stat in _NOT_FINAL:
        return Outcome(False, False, stat, None)
    message = f"stat:{stat} err:{err}" if err else f"stat:{stat}"
    if stat and stat not in STANDARD_STATS:
        return Outcome(True, False, stat, message)
    if any(char.isalpha() for char in err):
        return Outcome(True, False, err, message)
    return Outcome(True, False, stat or "UNKNOWN", message)
