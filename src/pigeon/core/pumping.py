"""SMS pumping: the patterns an ``otp_pumping`` rule looks for, and the protections that stop
an attack at acceptance.  Pure: the service groups the OTP traffic and counts; these decide.

Patterns (:func:`pumping_findings`): OTP sends to many distinct numbers of one mainland number
range (the number's first ``prefix`` digits) or of one foreign country, one caller IP reaching
many numbers, and many numbers that never complete verification — judged per range or country
from the conversions the tenant reports (SmsConversionIntl, :func:`count_unconverted`), or, for
a tenant that reports none, approximated account-wide by numbers that never come back after
their OTP (:func:`count_unverified`).

Protections (:func:`check_otp`): a blocked range or country refuses an OTP request with a
number in it; a throttle refuses one that would take the account's OTP messages of the last
minute past its limit.  Both answer ``isv.BUSINESS_LIMIT_CONTROL``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pigeon.core.alert_rules import MAINLAND, Finding, ProtectionPlan, format_duration
from pigeon.core.errors import PigeonError

# -- SMS pumping ------------------------------------------------------------------------------


@dataclass(frozen=True)
class OtpTraffic:
    """OTP sends in a rule's window, counted by the service.

    ``ranges``: distinct mainland numbers per range (the number's first ``prefix`` digits);
    ``countries``: distinct numbers per foreign country code; ``ips``: distinct numbers per
    caller IP; ``followed``: (numbers checked, numbers that never came back) from
    :func:`count_unverified`; ``conversions``: the tenant reports conversions, and
    ``unconverted`` holds, per ``range:<prefix>`` or ``country:<code>``, (numbers checked,
    numbers without a reported conversion) from :func:`count_unconverted` — then ``followed``
    is not used.  The service may leave out groups below the smallest threshold.
    """

    ranges: Mapping[str, int] = field(default_factory=dict)
    countries: Mapping[int, int] = field(default_factory=dict)
    ips: Mapping[str, int] = field(default_factory=dict)
    followed: tuple[int, int] = (0, 0)
    conversions: bool = False
    unconverted: Mapping[str, tuple[int, int]] = field(default_factory=dict)


def group_of(phone: str, country_code: int, prefix: int) -> str:
    """The group a number is judged in: ``range:<first prefix digits>`` on the mainland,
    ``country:<code>`` abroad."""
    if country_code == MAINLAND:
        return f"range:{phone[:prefix]}"
    return f"country:{country_code}"


def count_unconverted(otp_sends: Iterable[tuple[str, int]], converted: Iterable[str],
                      prefix: int) -> dict[str, tuple[int, int]]:
    """Per group (:func:`group_of`), (numbers, numbers that never completed verification)
    among the OTP sends given as (phone, country code): a number completed it when the tenant
    reported a conversion (``Delivered=true``) for one of its messages — ``converted``.  Only
    sends whose follow-up period is over should be given."""
    done = set(converted)
    groups: dict[str, set[str]] = {}
    for phone, country_code in otp_sends:
        groups.setdefault(group_of(phone, country_code, prefix), set()).add(phone)
    return {group: (len(phones), len(phones - done)) for group, phones in groups.items()}


def count_unverified(otp_sends: Iterable[tuple[str, datetime]],
                     later: Mapping[str, Iterable[datetime]],
                     follow_up: timedelta) -> tuple[int, int]:
    """(numbers, numbers that never came back) among the OTP sends given.

    Pigeon has no verification signal (Alibaba's API has none for mainland OTP), so "never
    completed verification" is approximated: a number that got an OTP and then no other message
    of the account — no second OTP, no notification — within ``follow_up`` never came back.
    ``later`` holds, per number, the times of every message of the account to it; only OTP sends
    whose follow-up period is over should be given.
    """
    first: dict[str, datetime] = {}
    for phone, at in otp_sends:
        if phone not in first or at < first[phone]:
            first[phone] = at
    never = 0
    for phone, at in first.items():
        if not any(at < other <= at + follow_up for other in later.get(phone, ())):
            never += 1
    return len(first), never


def pumping_findings(traffic: OtpTraffic, params: Mapping, now: datetime) -> list[Finding]:
    """The pumping patterns ``traffic`` shows, each with the protection ``params`` ask for."""
    protect = bool(params["protect"])
    lasts = params.get("protect_for")
    until = now + timedelta(seconds=lasts) if lasts else None
    window = format_duration(params["window"])

    def plan(kind: str, scope: str | None, limit: int | None = None) -> ProtectionPlan | None:
        return ProtectionPlan(kind, scope, limit, until) if protect else None

    found: list[Finding] = []
    for prefix, numbers in sorted(traffic.ranges.items()):
        if numbers >= params["range_numbers"]:
            found.append(Finding(
                "otp_pumping", f"range:{prefix}", "OTP burst to one number range",
                f"{numbers} distinct numbers in range {prefix} got OTP messages in the last "
                f"{window} (threshold {params['range_numbers']}).",
                {"pattern": "range", "range": prefix, "numbers": numbers,
                 "threshold": params["range_numbers"], "window": window},
                plan("range", prefix)))
    for country, numbers in sorted(traffic.countries.items()):
        if country != MAINLAND and numbers >= params["country_numbers"]:
            found.append(Finding(
                "otp_pumping", f"country:{country}", "OTP burst to one country",
                f"{numbers} distinct numbers in country +{country} got OTP messages in the "
                f"last {window} (threshold {params['country_numbers']}).",
                {"pattern": "country", "country_code": country, "numbers": numbers,
                 "threshold": params["country_numbers"], "window": window},
                plan("country", str(country))))
    for ip, numbers in sorted(traffic.ips.items()):
        if params["ip_numbers"] is not None and numbers >= params["ip_numbers"]:
            found.append(Finding(
                "otp_pumping", f"ip:{ip}", "OTP fan-out from one caller IP",
                f"Calls from {ip} sent OTP messages to {numbers} distinct numbers in the last "
                f"{window} (threshold {params['ip_numbers']}).",
                {"pattern": "ip", "ip": ip, "numbers": numbers,
                 "threshold": params["ip_numbers"], "window": window},
                plan("throttle", None, params["throttle"])))
    def unverified(checked: int, never: int) -> bool:
        return bool(checked and params["unverified_numbers"] is not None
                    and never >= params["unverified_numbers"]
                    and never / checked >= params["unverified_ratio"])

    follow_up = format_duration(params["follow_up"])
    if traffic.conversions:
        for group, (checked, never) in sorted(traffic.unconverted.items()):
            if not unverified(checked, never):
                continue
            kind, _, scope = group.partition(":")
            where = f"range {scope}" if kind == "range" else f"country +{scope}"
            found.append(Finding(
                "otp_pumping", f"unverified:{group}", "OTP numbers that never verify",
                f"{never} of {checked} numbers in {where} that got an OTP completed no "
                f"verification within {follow_up}, by the conversions the account reports "
                f"({100 * never / checked:.0f}%).",
                {"pattern": "unverified", "source": "conversions", kind: scope,
                 "numbers": checked, "unverified": never,
                 "threshold": params["unverified_numbers"],
                 "ratio": round(never / checked, 3), "follow_up": follow_up},
                plan(kind, scope)))
        return found
    checked, never = traffic.followed
    if unverified(checked, never):
        found.append(Finding(
            "otp_pumping", "unverified", "OTP numbers that never come back",
            f"{never} of {checked} numbers that got an OTP had no other message within "
            f"{follow_up} ({100 * never / checked:.0f}%).",
            {"pattern": "unverified", "source": "follow_up", "numbers": checked,
             "unverified": never, "threshold": params["unverified_numbers"],
             "ratio": round(never / checked, 3)},
            plan("throttle", None, params["throttle"])))
    return found


# -- protection at acceptance -----------------------------------------------------------------


@dataclass(frozen=True)
class ActiveProtection:
    id: int
    kind: str  # range | country | throttle
    scope: str | None
    limit: int | None


@dataclass(frozen=True)
class Recipient:
    wire: str
    country_code: int
    is_mainland: bool


PROTECTION_CODE = "isv.BUSINESS_LIMIT_CONTROL"


def blocked_by(protection: ActiveProtection, number: Recipient) -> bool:
    if protection.kind == "range":
        return number.is_mainland and number.wire.startswith(protection.scope or "\0")
    if protection.kind == "country":
        return not number.is_mainland and str(number.country_code) == protection.scope
    return False


def check_otp(protections: Iterable[ActiveProtection], numbers: list[Recipient], *,
              sent_last_minute: int | None = None) -> None:
    """Refuse an OTP request that an active protection stops, with
    ``isv.BUSINESS_LIMIT_CONTROL`` (the whole request, like an account cap: one ``Code``).

    A blocked range or country refuses any request with a number in it; a throttle refuses
    a request that would take the account's OTP messages of the last minute
    (``sent_last_minute``, counted by the service) past its limit.
    """
    protections = list(protections)
    for protection in protections:
        for number in numbers:
            if blocked_by(protection, number):
                where = (f"range {protection.scope}" if protection.kind == "range"
                         else f"country +{protection.scope}")
                raise PigeonError(
                    PROTECTION_CODE,
                    f"OTP messages to {where} are blocked by SMS-pumping protection "
                    f"{protection.id} ({number.wire}); the account can lift it "
                    f"(pigeon alerts protection lift).")
    for protection in protections:
        if protection.kind == "throttle" and protection.limit is not None \
                and (sent_last_minute or 0) + len(numbers) > protection.limit:
            raise PigeonError(
                PROTECTION_CODE,
                f"OTP messages are throttled to {protection.limit} a minute by SMS-pumping "
                f"protection {protection.id}; {sent_last_minute or 0} were sent in the last "
                f"minute (触发分钟级流控Permits:{protection.limit}).")


def needs_otp_count(protections: Iterable[ActiveProtection]) -> bool:
    return any(p.kind == "throttle" for p in protections)
