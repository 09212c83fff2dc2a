"""Phone numbers: the forms SendSms accepts, validation, and the carrier of a mainland number.

Mainland mobiles are validated against the number-segment table in ``core/data/carriers.csv``
(spec/carriers.md) rather than by ``phonenumbers``, whose China data lags behind newly
allocated segments; every other number is validated by ``phonenumbers``.

The forms (spec/dysmsapi.md §2.1):

* mainland: ``13800138000``, ``+13800138000``, ``+8613800138000``, ``008613800138000``,
  ``8613800138000``;
* international (including Hong Kong, Macao and Taiwan): the country code and number, bare or
  after ``+`` or ``00``: ``85291234567``, ``+85291234567``, ``0085291234567``, ``14155552671``.

Eleven digits starting with 1 are ambiguous: a mainland mobile, or a North American number
(country code 1 plus ten digits).  A known mainland segment wins, as on Alibaba, where the bare
11-digit form means mainland; otherwise the number is tried as North American.  So
``14155552671`` (segment 141 is unallocated) is San Francisco, while a North American number
whose first digits collide with a mainland segment (``1305…``, Miami) is read as mainland and
has to be written ``001305…``.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from importlib import resources

import phonenumbers

from pigeon.core.errors import PigeonError

CARRIERS = ("mobile", "unicom", "telecom", "broadnet")
"""Pigeon's carrier codes; the first three are Alibaba's ``OperatorCode`` values."""

MAINLAND_COUNTRY_CODE = 86

# E.164 allows 15 digits after the country code's "+"; anything longer is not a number.
_MAX_DIGITS = 15
_FORM = re.compile(r"(\+|00)?([0-9]+)")


@dataclass(frozen=True)
class Segment:
    """One row of the segment table: numbers starting with ``prefix`` belong to ``carrier``."""

    prefix: str
    carrier: str
    mvno: bool


def _load_segments() -> dict[str, Segment]:
    text = resources.files("pigeon.core").joinpath("data/carriers.csv").read_text("utf-8")
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    segments: dict[str, Segment] = {}
    for row in csv.DictReader(io.StringIO("\n".join(lines))):
        prefix, carrier, mvno = row["prefix"], row["carrier"], row["mvno"]
        # Packaged data: a bad row is a bug in the release, so fail loudly at import.
        if not (
            prefix.isascii()
            and prefix.isdigit()
            and prefix.startswith("1")
            and len(prefix) in (3, 4)
        ):
            raise ValueError(f"carriers.csv: bad prefix {prefix!r}")
        if carrier not in CARRIERS or mvno not in ("true", "false"):
            raise ValueError(f"carriers.csv: bad row {row!r}")
        if prefix in segments:
            raise ValueError(f"carriers.csv: prefix {prefix} listed twice")
        segments[prefix] = Segment(prefix, carrier, mvno == "true")
    return segments


SEGMENTS: dict[str, Segment] = _load_segments()
"""The mainland segment table, by prefix (3 or 4 digits)."""


@dataclass(frozen=True)
class PhoneNumber:
    """A validated recipient.

    ``national`` is the national significant number (11 digits for a mainland mobile);
    ``carrier`` is the mainland carrier by segment, ``None`` for international numbers.
    """

    e164: str
    national: str
    country_code: int
    region: str
    is_mainland: bool
    carrier: str | None

    @property
    def wire(self) -> str:
        """The form Alibaba shows in receipts and QuerySendDetails.

        Mainland: the 11 digits (``13800138000``); international: country code and number
        without ``+`` or ``00`` (``85291234567``).
        """
        return self.national if self.is_mainland else self.e164[1:]


def segment_of(national: str) -> Segment | None:
    """The segment-table row of an 11-digit mainland number, by longest prefix, or ``None``."""
    return SEGMENTS.get(national[:4]) or SEGMENTS.get(national[:3])


def carrier_of(national: str) -> str | None:
    """The carrier code of an 11-digit mainland number by its segment, or ``None``.

    Routing by segment ignores number portability (since 2019 a ported number keeps its
    segment); platforms accept the rare mismatch.
    """
    segment = segment_of(national)
    return segment.carrier if segment else None


def parse_number(text: str) -> PhoneNumber:
    """Parse one recipient in any form of §2.1, or raise ``isv.MOBILE_NUMBER_ILLEGAL``.

    Surrounding whitespace is ignored; anything but ASCII digits after an optional ``+`` or
    ``00`` is rejected (no inner spaces or dashes: no documented form has them).  Mainland
    numbers must be mobiles of an allocated segment; international numbers must be valid for
    ``phonenumbers`` (its number type is not checked: many countries, the US among them, do
    not tell mobiles from landlines by number).
    """
    raw = text.strip()
    match = _FORM.fullmatch(raw)
    if match is None:
        why = "it is empty" if not raw else "use digits only, optionally after + or 00"
        raise _illegal(raw, why)
    prefix, digits = match.groups()
    if len(digits) > _MAX_DIGITS:
        raise _illegal(raw, f"it has {len(digits)} digits, more than E.164 allows")

    if prefix in (None, "+") and len(digits) == 11 and digits[0] == "1":
        if segment_of(digits):
            return _mainland(digits)
        if prefix is None:
            # Not a mainland segment: maybe North American (see the module docstring).
            north_american = _international_or_none(digits)
            if north_american is not None:
                return north_american
            raise _illegal(raw, _why_not_mainland_mobile(digits))
    if digits.startswith(str(MAINLAND_COUNTRY_CODE)):
        national = digits[2:]
        why = _why_not_mainland_mobile(national)
        if why:
            raise _illegal(raw, why)
        return _mainland(national)
    if prefix is None and digits[0] in "01":
        # Bare digits starting with 1 are mainland-shaped; starting with 0, a mainland number
        # in national format (trunk prefix 0), which only landlines have.
        raise _illegal(raw, _why_not_mainland_mobile(digits))
    return _international(raw, digits)


def split_numbers(text: str, limit: int) -> list[str]:
    """Split SendSms's comma-separated ``PhoneNumbers`` into items, in order.

    Items are stripped of surrounding whitespace and empty items are dropped, so a trailing
    comma is harmless; duplicates are kept (deduplicating is the caller's policy).  Only ASCII
    commas separate (a full-width ``，`` stays inside an item, which then fails to parse).
    More than ``limit`` items raise ``isv.MOBILE_COUNT_OVER_LIMIT``; none at all raises
    ``isv.MOBILE_NUMBER_ILLEGAL``.
    """
    items = [item.strip() for item in text.split(",")]
    items = [item for item in items if item]
    if not items:
        raise PigeonError("isv.MOBILE_NUMBER_ILLEGAL", "PhoneNumbers contains no phone number")
    if len(items) > limit:
        raise PigeonError(
            "isv.MOBILE_COUNT_OVER_LIMIT",
            f"PhoneNumbers has {len(items)} numbers; at most {limit} are allowed per request",
        )
    return items


def _mainland(national: str) -> PhoneNumber:
    return PhoneNumber(
        e164=f"+{MAINLAND_COUNTRY_CODE}{national}",
        national=national,
        country_code=MAINLAND_COUNTRY_CODE,
        region="CN",
        is_mainland=True,
        carrier=carrier_of(national),
    )


def _why_not_mainland_mobile(national: str) -> str | None:
    """Why ``national`` is not a mainland mobile number, or ``None`` if it is one."""
    if len(national) == 11 and national[0] == "1":
        if segment_of(national):
            return None
        return f"segment {national[:3]} is not allocated to a mainland mobile carrier"
    if _is_mainland_fixed_line(national):
        return "it is a mainland fixed-line number; only mobile numbers can receive SMS"
    if national[:1] != "1":
        return "mainland mobile numbers start with 1"
    return f"mainland mobile numbers have 11 digits, this one has {len(national)}"


def _is_mainland_fixed_line(national: str) -> bool:
    try:
        number = phonenumbers.parse(national, "CN")
    except phonenumbers.NumberParseException:
        return False
    return (
        phonenumbers.is_valid_number(number)
        and phonenumbers.number_type(number) == phonenumbers.PhoneNumberType.FIXED_LINE
    )


def _international_or_none(digits: str) -> PhoneNumber | None:
    try:
        number = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return _from_phonenumbers(number)


def _international(raw: str, digits: str) -> PhoneNumber:
    try:
        number = phonenumbers.parse("+" + digits)
    except phonenumbers.NumberParseException as exc:
        # Translate the library's error at the boundary; its reason names the problem.
        raise _illegal(raw, _PARSE_REASONS.get(exc.error_type, str(exc))) from None
    if not phonenumbers.is_valid_number(number):
        raise _illegal(raw, f"not a valid number for country code {number.country_code}")
    return _from_phonenumbers(number)


_PARSE_REASONS = {
    phonenumbers.NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
    phonenumbers.NumberParseException.TOO_SHORT_NSN: "too short",
    phonenumbers.NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
    phonenumbers.NumberParseException.TOO_LONG: "too long",
    phonenumbers.NumberParseException.NOT_A_NUMBER: "not a phone number",
}


def _from_phonenumbers(number: phonenumbers.PhoneNumber) -> PhoneNumber:
    return PhoneNumber(
        e164=phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164),
        national=phonenumbers.national_significant_number(number),
        country_code=number.country_code,
        region=phonenumbers.region_code_for_number(number) or "001",
        is_mainland=False,
        carrier=None,
    )


def _illegal(raw: str, why: str) -> PigeonError:
    # The raw text is echoed back, so keep it short.
    shown = (raw if len(raw) <= 32 else raw[:32] + "…") or '""'
    return PigeonError("isv.MOBILE_NUMBER_ILLEGAL", f"{shown} is not a valid mobile number: {why}")
