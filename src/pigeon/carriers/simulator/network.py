"""The simulated carrier network's rules: what happens to a message, decided from its number.

Pure: no clock, no database, no randomness of its own (callers pass the jitter and the random
bits), so the rules are tested as tables and documented in ``docs/simulator.md``.

Magic numbers.  A mainland number whose last eight digits are ``0013800`` followed by a digit
D — ``13800138001`` (China Mobile), ``18600138001`` (China Unicom), ``18900138001`` (China
Telecom), ``19200138001`` (China Broadnet) — meets the fate :data:`MAGIC` gives D.  Every other
number, ``13800138000`` and ``…0013800 9`` included, is delivered.

Carrier registration.  A mainland carrier delivers a signature's messages only once the
signature's real-name registration with that carrier is complete (RegisterStatus 3, or 1 while
the carrier verifies it); otherwise the receipt says ``PORT_NOT_REGISTERED``.  China Broadnet's
numbers ride on China Mobile's network, so they need the China Mobile registration.
International numbers need none.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

DELIVERED_CODE = "DELIVERED"

MAGIC_MARK = "0013800"
"""Digits 4–10 of a magic number (``138 0013 800D``); the last digit D picks the fate."""

USABLE_REGISTRATIONS = frozenset({3, 1})
"""RegisterStatus values a carrier delivers under: 3 registered, 1 verifying."""

REGISTERED_WITH = {"mobile": "mobile", "unicom": "unicom", "telecom": "telecom",
                   "broadnet": "mobile"}
"""The carrier whose registration a number's messages need, by the number's carrier."""

JITTER = 0.2
"""Receipts arrive within ±20 % of their nominal delay."""


@dataclass(frozen=True)
class Fate:
    """What the network does with one message.

    ``err_code`` is what the tenant sees (``DELIVERED`` or a failure code), ``stat`` the raw
    SMPP/CMPP receipt state, ``text`` the description (``err_msg``).  ``delay`` scales the
    receipt delay; ``receipt`` False means no receipt ever comes; ``refused`` means the carrier
    refuses the submission itself (no receipt, the message fails at once); ``throttled_once``
    means the carrier asks to slow down at the first submission and accepts the next one.
    """

    err_code: str
    stat: str
    text: str
    delay: float = 1.0
    receipt: bool = True
    refused: bool = False
    throttled_once: bool = False

    @property
    def delivered(self) -> bool:
        return self.err_code == DELIVERED_CODE


DELIVERED = Fate(DELIVERED_CODE, "DELIVRD", "用户接收成功")
PORT_NOT_REGISTERED = Fate("PORT_NOT_REGISTERED", "REJECTD",
                           "签名未在该运营商完成实名报备（端口未报备）")

MAGIC: dict[str, Fate] = {
    "1": Fate("MK:0001", "UNDELIV", "空号：用户不存在"),
    "2": Fate("MOBILE_NOT_ON_SERVICE", "UNDELIV", "停机、欠费或不在服务区"),
    "3": Fate("MOBILE_IN_BLACK", "UNDELIV", "号码在运营商黑名单中"),
    "4": Fate("UNDELIV", "UNDELIV", "运营商投递失败"),
    # The handset stays off until the message's validity period runs out: the receipt is late.
    "5": Fate("EXPIRED", "EXPIRED", "短信超过有效期未送达（关机或不在服务区）", delay=10.0),
    "6": Fate("REQUEST_SUCCESS", "", "运营商未返回回执", receipt=False),
    # The SMSC refuses the destination at submit time (SMPP ESME_RINVDSTADR).
    "7": Fate("INVALID_NUMBER", "REJECTD", "运营商拒绝提交：号码无效", receipt=False,
              refused=True),
    # The SMSC answers ESME_RTHROTTLED once; the dispatcher's retry gets through.
    "8": Fate(DELIVERED_CODE, "DELIVRD", "用户接收成功", throttled_once=True),
}
"""Magic numbers' fates by their last digit (0 and 9 are ordinary, delivered numbers)."""

DESCRIPTIONS: dict[str, str] = {f.err_code: f.text for f in (*MAGIC.values(), DELIVERED,
                                                            PORT_NOT_REGISTERED) if f.receipt}
"""The description (``err_msg``) of every code a simulator receipt can carry."""


def magic_fate(phone: str) -> Fate | None:
    """The fate of a magic number (wire form), or ``None`` for an ordinary number."""
    if len(phone) != 11 or phone[0] != "1" or phone[3:10] != MAGIC_MARK:
        return None
    return MAGIC.get(phone[10])


def fate(phone: str, carrier: str | None, registrations: Mapping[str, int]) -> Fate:
    """What the network does with a message to ``phone`` (wire form) of mainland ``carrier``
    (``None``: international) under a signature whose registrations are ``registrations``
    (carrier → RegisterStatus).

    Order of checks, as a real network makes them: the gateway refuses a bad destination at
    submission; then the carrier checks the signature's registration; then the handset decides.
    """
    magic = magic_fate(phone) if carrier is not None else None
    if magic is not None and magic.refused:
        return magic
    needed = REGISTERED_WITH.get(carrier) if carrier else None
    if needed is not None and registrations.get(needed) not in USABLE_REGISTRATIONS:
        return PORT_NOT_REGISTERED
    return magic or DELIVERED


def receipt_delay(base: timedelta, fate: Fate, jitter: float) -> timedelta:
    """When the receipt of ``fate`` arrives after submission: ``base`` × the fate's factor,
    moved by ``jitter`` (from −1 to 1) by at most :data:`JITTER` of itself."""
    return base * fate.delay * (1 + JITTER * max(-1.0, min(1.0, jitter)))


def message_id(bits: int) -> str:
    """A carrier message id from 80 bits: 20 hex digits, like many SMSCs' ids."""
    return f"{bits & (2**80 - 1):020x}"


def timed_message_id(now: datetime, random_bits: int) -> str:
    """A carrier message id that sorts by time: the milliseconds of ``now`` in the high 48
    bits, 32 random bits below.  Each message's id goes into an index of carrier ids
    (receipts look it up); ids that follow one another are written at its end, on a page in
    memory, where random ids would each touch a page of their own — many, once millions of
    messages are stored."""
    millis = int(now.timestamp() * 1000) & (2**48 - 1)
    return message_id((millis << 32) | (random_bits & (2**32 - 1)))
