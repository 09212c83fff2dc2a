"""What a message costs and where the money comes from: resource packages first, then balance.

Money is an integer number of milli-CNY (thousandths of a yuan: 0.045 CNY is ``45``), so sums
are exact and Alibaba's three-decimal prices fit.  A message is billed per segment
(spec/dysmsapi.md §7.4).  Resource-package quota is consumed before the balance (seed document,
"Transparent pricing"); package units are prepaid, so the parts they cover cost nothing more.

The functions plan and never touch a database: :func:`plan_charge` decides which packages and
how much balance one message uses, :func:`apply` gives the packages and balance after a charge
(or a refund), :func:`refund` inverts a charge when a carrier reports a failure (failed mainland
messages are not charged, spec §7.7).  The service writes what they return.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from pigeon.core.errors import PigeonError
from pigeon.core.limits import INTERNATIONAL, NOTIFICATION, OTP, PROMOTIONAL, TEMPLATE_TYPES

DEFAULT_PRICES: dict[int, int] = {
    OTP: 45,
    NOTIFICATION: 45,
    PROMOTIONAL: 55,
    INTERNATIONAL: 300,
}
"""Price per segment in milli-CNY by template type.

OTP and notification 0.045 CNY, promotional 0.055 CNY: Alibaba's published starting prices.
International 0.300 CNY is Pigeon's own flat default — Alibaba prices international messages
per destination country — for operators to replace with their carrier's rates.
"""

PACKAGE_KINDS: dict[str, frozenset[int]] = {
    "general": frozenset({OTP, NOTIFICATION}),
    "otp": frozenset({OTP}),
    "notification": frozenset({NOTIFICATION}),
    "promotional": frozenset({PROMOTIONAL}),
}
"""The template types each kind of resource package pays for.

A general package covers OTP and notification messages, as Alibaba's "国内通用短信" packages
do; no package covers international messages.
"""


def covers(kind: str, template_type: int) -> bool:
    """Whether a package of ``kind`` pays for messages of ``template_type``."""
    if kind not in PACKAGE_KINDS:
        raise ValueError(f"unknown package kind {kind!r}; expected one of "
                         f"{', '.join(PACKAGE_KINDS)}")
    return template_type in PACKAGE_KINDS[kind]


@dataclass(frozen=True)
class Package:
    """A resource package: ``remaining`` segments usable until ``expires_at`` (excluded)."""

    id: int
    kind: str
    remaining: int
    expires_at: datetime

    def __post_init__(self) -> None:
        covers(self.kind, OTP)  # validates the kind
        if self.remaining < 0:
            raise ValueError(f"package {self.id} has a negative remaining {self.remaining}")

    def usable(self, template_type: int, now: datetime) -> bool:
        """Covers the type, has units left, and has not expired: expiry at ``now`` is expired."""
        return covers(self.kind, template_type) and self.remaining > 0 and now < self.expires_at


@dataclass(frozen=True)
class ChargePart:
    """``units`` segments paid by one package (``amount`` 0) or by the balance (``None``).

    In a refund both numbers are negative: units go back to the package, money to the balance.
    """

    package_id: int | None
    units: int
    amount: int


@dataclass(frozen=True)
class Charge:
    """How one message (or one refund) is paid: the parts in the order they were taken."""

    parts: tuple[ChargePart, ...]
    total_amount: int

    @property
    def units(self) -> int:
        return sum(part.units for part in self.parts)


def format_cny(milli: int) -> str:
    """Milli-CNY as yuan with three decimals: ``45`` → ``"0.045"``, ``-1500`` → ``"-1.500"``."""
    sign = "-" if milli < 0 else ""
    yuan, thousandths = divmod(abs(milli), 1000)
    return f"{sign}{yuan}.{thousandths:03d}"


def _by_expiry(packages: Iterable[Package], template_type: int, now: datetime) -> list[Package]:
    # Earliest expiry first so that no quota is left to lapse; ties by id (oldest package).
    return sorted((p for p in packages if p.usable(template_type, now)),
                  key=lambda p: (p.expires_at, p.id))


def plan_charge(template_type: int, segments: int, price: int, packages: Sequence[Package],
                balance: int, now: datetime) -> Charge:
    """Plan the payment of one message of ``segments`` segments at ``price`` per segment.

    Unexpired covering packages are used first, earliest expiry first (ties by id), one after
    another until the segments are paid — a message may spill across packages and then into
    the balance.  A package expiring exactly at ``now`` is expired.  Segments no package pays
    cost ``price`` each from ``balance``; if that is short, ``isv.AMOUNT_NOT_ENOUGH`` says how
    much is missing.  A price of 0 needs no balance.  The inputs are not changed.
    """
    if template_type not in TEMPLATE_TYPES:
        raise ValueError(f"unknown template type {template_type!r}")
    if segments < 1:
        raise ValueError(f"a message has at least one segment, got {segments}")
    if price < 0:
        raise ValueError(f"a price cannot be negative, got {price}")
    parts: list[ChargePart] = []
    left = segments
    for package in _by_expiry(packages, template_type, now):
        if not left:
            break
        units = min(package.remaining, left)
        parts.append(ChargePart(package.id, units, 0))
        left -= units
    if left:
        amount = left * price
        if amount > 0 and amount > balance:
            raise _not_enough(amount, balance)
        parts.append(ChargePart(None, left, amount))
    return Charge(tuple(parts), sum(part.amount for part in parts))


def _not_enough(amount: int, balance: int) -> PigeonError:
    return PigeonError(
        "isv.AMOUNT_NOT_ENOUGH",
        f"The account balance is insufficient: {format_cny(amount)} CNY is due from the "
        f"balance, which holds {format_cny(balance)} CNY; {format_cny(amount - balance)} CNY "
        f"is missing.",
    )


def apply(charge: Charge | Iterable[ChargePart], packages: Sequence[Package],
          balance: int) -> tuple[list[Package], int]:
    """The packages and balance after ``charge`` (or after the parts of a :func:`refund`).

    Each part's units come off its package's ``remaining`` and its amount off the balance;
    refund parts are negative, so they give back.  Packages keep their order; the inputs are
    not changed.  A part naming an unknown package, or taking more than a package has left
    (a plan made against stale packages), raises :class:`ValueError`.
    """
    parts = charge.parts if isinstance(charge, Charge) else tuple(charge)
    taken: dict[int, int] = {}
    for part in parts:
        if part.package_id is None:
            balance -= part.amount
        else:
            taken[part.package_id] = taken.get(part.package_id, 0) + part.units
    by_id = {package.id: package for package in packages}
    unknown = set(taken) - set(by_id)
    if unknown:
        raise ValueError(f"the charge names unknown packages {sorted(unknown)}")
    updated = []
    for package in packages:
        units = taken.get(package.id, 0)
        if units > package.remaining:
            raise ValueError(f"package {package.id} has {package.remaining} units left, "
                             f"the charge takes {units}")
        updated.append(replace(package, remaining=package.remaining - units) if units
                       else package)
    return updated, balance


def plan_batch(template_type: int, segments: Sequence[int], price: int,
               packages: Sequence[Package], balance: int,
               now: datetime) -> list[Charge]:
    """Plan one charge per message of one request, each seeing what the earlier ones used.

    ``segments`` has one entry per message (per number).  The plans are those of calling
    :func:`plan_charge` then :func:`apply` message after message, so each message has its own
    charge to refund.  A request the packages and balance cannot pay in full is refused whole
    with ``isv.AMOUNT_NOT_ENOUGH`` naming what the whole request is missing: Alibaba answers
    one ``Code`` per request, and sending only the first numbers would leave the caller unable
    to tell which got the message.
    """
    if not segments:
        return []
    if len(segments) == 1:  # (every SendSms to one number: its plan is the whole request's)
        return [plan_charge(template_type, segments[0], price, packages, balance, now)]
    # Messages of one request share type and price, so paying them one after another uses
    # the packages exactly as paying their sum at once does: one plan tells if all fit.
    plan_charge(template_type, sum(segments), price, packages, balance, now)
    charges = []
    current = list(packages)
    for count in segments:
        charge = plan_charge(template_type, count, price, current, balance, now)
        current, balance = apply(charge, current, balance)
        charges.append(charge)
    return charges


def refund(charge_parts: Charge | Iterable[ChargePart]) -> list[ChargePart]:
    """The parts that undo a charge: the same packages and balance, units and amount negated.

    Applying a charge and then its refund (:func:`apply`) gives back the exact packages and
    balance.  Units return to their package even if it has expired meanwhile, where they stay
    unusable: a refund restores what was taken, it does not extend a package.
    """
    parts = charge_parts.parts if isinstance(charge_parts, Charge) else charge_parts
    return [ChargePart(part.package_id, -part.units, -part.amount) for part in parts]


_CNY = re.compile(r"^\s*([0-9]{1,15})(?:\.([0-9]{1,3}))?\s*$")


def parse_cny(text: str) -> int:
    """Yuan as an operator writes them → milli-CNY: ``"100"`` → ``100000``, ``"12.5"`` →
    ``12500``, ``"0.045"`` → ``45``.

    At most three decimals (a milli-yuan is the smallest unit Pigeon counts), no sign, no
    thousands separators; anything else raises :class:`ValueError` saying what is expected.
    """
    match = _CNY.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"expected an amount in CNY such as 100, 12.5 or 0.045 (at most three "
                         f"decimals), got {text!r}")
    yuan, fraction = match.groups()
    return int(yuan) * 1000 + int((fraction or "").ljust(3, "0"))
