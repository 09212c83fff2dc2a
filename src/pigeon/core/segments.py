"""Message length and billed segments as Alibaba counts them, and the parts a carrier sends.

The rules (spec/dysmsapi.md §7.4, spec/carriers.md "Length and segments"): the length is the
signature with its brackets plus the rendered template text, at most 500.

* Mainland: every character counts 1; ≤ 70 is one segment, longer messages go 67 per segment.
* International: text entirely in the GSM-7 alphabet counts 1 per character and 2 for the
  extension characters; ≤ 160 is one segment, else 153 per segment.  Any other character makes
  the whole message UCS-2: ≤ 70 is one segment, else 67 per segment.

Segments are counted by packing the text into the parts a carrier actually sends
(:func:`split_for_carrier`), so the billed count always equals the number of PDUs: a GSM-7
escape pair or a UTF-16 surrogate pair is never split, and when one would straddle a part
boundary it moves whole to the next part (which can cost one segment more than
``ceil(length / 153)``).

Characters outside the Basic Multilingual Plane (emoji such as 😀, rare CJK ideographs) count
2, on the mainland as in UCS-2: they take two UTF-16 code units — four of the 140 bytes of a
PDU — so counting them 1 would bill one segment for a 70-character message the carrier has to
send as two.  For all other text, "characters" and UTF-16 code units are the same thing.
Alibaba does not document its count for such characters (it rejects emoji in signatures).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pigeon.core.errors import PigeonError

Encoding = Literal["mainland", "gsm7", "ucs2"]

MAX_MESSAGE_LENGTH = 500
"""The most characters a message may have, signature and brackets included."""

# GSM 03.38 default alphabet, indexed by septet value; 0x1B is the escape to the extension
# table, not a character of its own.
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
GSM7_ESCAPE = 0x1B
# The extension table: each character is sent as ESC + this septet, so it counts 2.
GSM7_EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}

_GSM7_COST = {char: 1 for char in GSM7_BASIC if char != "\x1b"} | dict.fromkeys(GSM7_EXTENSION, 2)

# (one-segment maximum, per-part maximum once split): a part loses 6 bytes to the UDH.
_LIMITS: dict[str, tuple[int, int]] = {
    "mainland": (70, 67),
    "gsm7": (160, 153),
    "ucs2": (70, 67),
}


@dataclass(frozen=True)
class Segmentation:
    """How a message is counted: ``length`` in billing characters, ``segments`` billed."""

    text: str
    length: int
    encoding: Encoding
    segments: int


def signature_brackets(sign_name: str, *, international: bool) -> str:
    """The signature as it appears in the message: ``【签名】``, or ``[Sign]`` for a
    pure-English (ASCII) signature sent to an international number."""
    if international and sign_name.isascii():
        return f"[{sign_name}]"
    return f"【{sign_name}】"


def signed_text(sign_name: str, content: str, *, international: bool) -> str:
    """The full message text: the bracketed signature, then the rendered template text."""
    return signature_brackets(sign_name, international=international) + content


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` is in the GSM-7 alphabet or its extension."""
    return all(char in _GSM7_COST for char in text)


def count_segments(text: str, *, international: bool) -> Segmentation:
    """Count ``text`` (signature included) as Alibaba bills it; at least one segment."""
    if not international:
        encoding: Encoding = "mainland"
    elif is_gsm7(text):
        encoding = "gsm7"
    else:
        encoding = "ucs2"
    length = _length(text, encoding)
    single, _ = _LIMITS[encoding]
    segments = 1 if length <= single else len(_pack(text, encoding))
    return Segmentation(text=text, length=length, encoding=encoding, segments=segments)


def check_length(seg: Segmentation) -> None:
    """Raise ``isv.PARAM_LENGTH_LIMIT`` if the message is longer than 500 characters.

    The template alone was held to 500 characters when it was added
    (``isv.TEMPLATE_OVER_LIMIT``, a management-time code), so a message that is too long at
    send time was made so by its variable values: ``isv.PARAM_LENGTH_LIMIT`` ("a variable value
    is too long") is the documented code that points the caller at what to shorten.
    ``isv.SMS_CONTENT_ILLEGAL`` would read as content moderation.  The length compared is
    ``seg.length`` (as billed: GSM-7 extension and non-BMP characters count 2).
    """
    if seg.length > MAX_MESSAGE_LENGTH:
        raise PigeonError(
            "isv.PARAM_LENGTH_LIMIT",
            f"The message is {seg.length} characters long with its signature and variables "
            f"filled in; at most {MAX_MESSAGE_LENGTH} are allowed",
        )


def split_for_carrier(text: str, encoding: Encoding) -> list[str]:
    """The parts a carrier protocol sends for ``text``; they concatenate back to ``text``.

    A text within one segment is one part.  Longer texts are split for concatenated SMS with a
    6-byte UDH: 153 septets per GSM-7 part (an escape pair stays whole), 67 UTF-16 code units
    per UCS-2 part (a surrogate pair stays whole).  ``"mainland"`` splits as UCS-2, which is how
    mainland messages travel (CMPP ``Msg_Fmt`` 8, SMPP ``data_coding`` 8), so the parts match
    the billed segments.  Raises ``ValueError`` for ``"gsm7"`` with a non-GSM-7 character.
    """
    if encoding == "gsm7" and not is_gsm7(text):
        raise ValueError("text has characters outside the GSM-7 alphabet")
    single, _ = _LIMITS[encoding]
    if _length(text, encoding) <= single:
        return [text]
    return _pack(text, encoding)


def _cost_function(encoding: Encoding) -> Callable[[str], int]:
    if encoding == "gsm7":
        return _GSM7_COST.__getitem__
    return _utf16_units


def _length(text: str, encoding: Encoding) -> int:
    """``text``'s length as billed: GSM-7 septets, else UTF-16 code units."""
    if encoding == "gsm7":
        return sum(map(_GSM7_COST.__getitem__, text))
    if not text or max(text) <= "\uffff":  # all in the BMP (every SMS, nearly): one unit each
        return len(text)
    return sum(map(_utf16_units, text))


def _utf16_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def _pack(text: str, encoding: Encoding) -> list[str]:
    """Greedily fill parts of the per-part maximum; a character never straddles two parts."""
    cost = _cost_function(encoding)
    _, capacity = _LIMITS[encoding]
    parts: list[str] = []
    start, used = 0, 0
    for index, char in enumerate(text):
        size = cost(char)
        if used + size > capacity:
            parts.append(text[start:index])
            start, used = index, 0
        used += size
    parts.append(text[start:])
    return parts
