"""Sending limits: per-number frequency control, account caps and promotional quiet hours.

Per-number frequency control (spec/dysmsapi.md §7.3, seed document "Limitations"):

* OTP templates (type 0): 1 per minute, 5 per hour, 10 per day, counted per signature and
  number — every OTP template of a signature shares the count.
* Notification (1) and promotional (2) templates: 50 per day, counted per signature, template
  and number.
* International templates (3) and non-mainland numbers are never limited; whitelisted numbers
  bypass the limits.

The minute and hour are *clock* windows in the platform zone (14:03:00–14:03:59, not "the last
60 seconds"); the day is a *rolling* 24 hours.  A message counts from the moment it is accepted,
whatever its receipt says.  The service counts what is already accepted in each of the
:func:`windows` and asks :func:`check_number`; both are pure.

Account caps (``isv.DAY_LIMIT_CONTROL`` / ``isv.MONTH_LIMIT_CONTROL``) count the account's
messages since the start of the platform-zone calendar day and month (:func:`day_start`,
:func:`month_start`).  Quiet hours (:func:`check_quiet_hours`) keep promotional messages from
being sent at night; that one is Pigeon's policy, not Alibaba behaviour (spec §7.6).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from pigeon.core.errors import PigeonError
from pigeon.core.schedule import DEFAULT_QUIET_HOURS, Calendar, in_quiet_hours

OTP = 0
NOTIFICATION = 1
PROMOTIONAL = 2
INTERNATIONAL = 3
TEMPLATE_TYPES = (OTP, NOTIFICATION, PROMOTIONAL, INTERNATIONAL)
"""``TemplateType`` in Alibaba's public numbering (spec/dysmsapi.md, enum table)."""

Scope = Literal["signature", "signature+template"]

_ONE_DAY = timedelta(hours=24)
_RESOLUTION = timedelta(microseconds=1)


def _check_template_type(template_type: int) -> None:
    if template_type not in TEMPLATE_TYPES:
        raise ValueError(f"unknown template type {template_type!r}; expected one of "
                         f"{', '.join(map(str, TEMPLATE_TYPES))}")


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {moment!r}")


# -- per-number limits ------------------------------------------------------------------------


@dataclass(frozen=True)
class NumberLimits:
    """How many messages one number may receive; the defaults are the platform maximums."""

    otp_per_minute: int = 1
    otp_per_hour: int = 5
    otp_per_day: int = 10
    other_per_day: int = 50


PLATFORM_LIMITS = NumberLimits()
"""Alibaba's published per-number limits, which no tenant may raise."""

_DESCRIPTIONS = {
    "otp_per_minute": "OTP messages per minute",
    "otp_per_hour": "OTP messages per hour",
    "otp_per_day": "OTP messages per 24 hours",
    "other_per_day": "notification or promotional messages per template per 24 hours",
}


def tightened(defaults: NumberLimits = PLATFORM_LIMITS, *,
              otp_per_minute: int | None = None,
              otp_per_hour: int | None = None,
              otp_per_day: int | None = None,
              other_per_day: int | None = None) -> NumberLimits:
    """``defaults`` with the given limits lowered; ``None`` keeps a limit as it is.

    A tenant may only tighten: a value above ``defaults`` raises ``isv.INVALID_PARAMETERS``
    naming the maximum, and so does a value below 1 (to stop sending a type, don't send it;
    a limit of 0 would answer every message with a rate-limit error).
    """
    given = {"otp_per_minute": otp_per_minute, "otp_per_hour": otp_per_hour,
             "otp_per_day": otp_per_day, "other_per_day": other_per_day}
    changes: dict[str, int] = {}
    for name, value in given.items():
        if value is None:
            continue
        maximum = getattr(defaults, name)
        what = _DESCRIPTIONS[name]
        if isinstance(value, bool) or not isinstance(value, int):
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"{name} must be a whole number, got {value!r}.")
        if value > maximum:
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"{name} may only be lowered: the platform maximum for {what} "
                              f"to one number is {maximum}, got {value}.")
        if value < 1:
            raise PigeonError("isv.INVALID_PARAMETERS",
                              f"{name} must be at least 1 (the platform maximum for {what} "
                              f"to one number is {maximum}), got {value}.")
        changes[name] = value
    return replace(defaults, **changes)


@dataclass(frozen=True)
class Counts:
    """Messages already accepted for one scope in each window (see :class:`Windows`).

    For notification and promotional templates only ``day`` matters; the service may leave
    ``minute`` and ``hour`` at 0.
    """

    minute: int
    hour: int
    day: int


@dataclass(frozen=True)
class Windows:
    """The start instants (UTC) of the windows a message is counted in.

    Every start is *inclusive*: the service counts the messages accepted at or after it (one
    query each, ``accepted_at >= start``).  ``day`` is ``now − 24 h + 1 µs``: datetimes
    resolve microseconds, so "at or after ``day``" means exactly "less than 24 hours old" — a
    message stops counting 24 hours after it was accepted, to the microsecond.
    """

    minute: datetime
    hour: datetime
    day: datetime

    def counts(self, accepted_at: Iterable[datetime]) -> Counts:
        """The :class:`Counts` of the given acceptance instants (those up to ``now``).

        The reference for the service's queries, and what a caller holding the instants in
        memory uses.
        """
        minute = hour = day = 0
        for moment in accepted_at:
            minute += moment >= self.minute
            hour += moment >= self.hour
            day += moment >= self.day
        return Counts(minute=minute, hour=hour, day=day)


def windows(now: datetime, zone: ZoneInfo) -> Windows:
    """The windows of a message sent at ``now``: clock minute and hour in ``zone``, rolling day.

    With ``Asia/Shanghai`` and ``now`` at 14:03:59 local, the minute starts at 14:03:00 and the
    hour at 14:00:00 local (06:03 and 06:00 UTC); one second later a new minute begins.  Clock
    windows follow the local clock, so in a zone offset by half an hour the hour starts on the
    local hour, not the UTC one.
    """
    _require_aware(now, "now")
    local = now.astimezone(zone)
    return Windows(
        minute=local.replace(second=0, microsecond=0).astimezone(UTC),
        hour=local.replace(minute=0, second=0, microsecond=0).astimezone(UTC),
        day=(now - _ONE_DAY + _RESOLUTION).astimezone(UTC),
    )


def scope(template_type: int) -> Scope:
    """What the service counts a message against, besides the number.

    ``"signature"`` for OTP (every OTP template of the signature shares the count),
    ``"signature+template"`` for the others.  International templates are never limited
    (:func:`applies` is false for them) and need no count at all.
    """
    _check_template_type(template_type)
    return "signature" if template_type == OTP else "signature+template"


def applies(template_type: int, *, mainland: bool, whitelisted: bool) -> bool:
    """Whether per-number limits apply at all, so the service can skip counting when not.

    Only mainland numbers are limited, never for international templates, never when the
    number is on the tenant's whitelist.
    """
    _check_template_type(template_type)
    return mainland and not whitelisted and template_type != INTERNATIONAL


def _refuse(level: str, permits: int) -> PigeonError:
    # Alibaba's exact wording (spec §4.3): SDK callers match on these messages.
    return PigeonError("isv.BUSINESS_LIMIT_CONTROL", f"触发{level}级流控Permits:{permits}")


def check_number(template_type: int, counts: Counts, limits: NumberLimits = PLATFORM_LIMITS,
                 *, mainland: bool, whitelisted: bool) -> None:
    """Allow one more message to this scope, or raise ``isv.BUSINESS_LIMIT_CONTROL``.

    ``counts`` are the messages already accepted; a window is full when its count has reached
    its limit.  The message is Alibaba's: ``触发分钟级流控Permits:1``, ``触发小时级流控Permits:5``,
    ``触发天级流控Permits:10`` (``Permits:50`` for notification and promotional), the number being
    the limit in force — a tightened one if the tenant lowered it.

    When several windows are full, the longest one is reported (day, then hour, then minute):
    it says when a retry can succeed, where "minute" would invite a retry that fails again.
    """
    if not applies(template_type, mainland=mainland, whitelisted=whitelisted):
        return
    if template_type != OTP:
        if counts.day >= limits.other_per_day:
            raise _refuse("天", limits.other_per_day)
        return
    if counts.day >= limits.otp_per_day:
        raise _refuse("天", limits.otp_per_day)
    if counts.hour >= limits.otp_per_hour:
        raise _refuse("小时", limits.otp_per_hour)
    if counts.minute >= limits.otp_per_minute:
        raise _refuse("分钟", limits.otp_per_minute)


# -- account caps -----------------------------------------------------------------------------


def check_account(day_count: int, month_count: int, *, day_limit: int | None,
                  month_limit: int | None, adding: int = 1) -> None:
    """Allow ``adding`` more messages on the account, or raise the cap they would pass.

    ``day_count``/``month_count`` are the account's messages (one per number, not segments)
    already accepted since :func:`day_start` / :func:`month_start`; a limit of ``None`` is no
    cap.  Reaching a cap exactly is allowed; passing it raises ``isv.MONTH_LIMIT_CONTROL``
    (checked first: it stays closed longer) or ``isv.DAY_LIMIT_CONTROL``.

    A request that would cross a cap is refused whole, never sent in part: SendSms and
    SendBatchSms answer one ``Code`` for the whole request, and a partial send would leave the
    caller unable to tell which numbers got the message.
    """
    if adding < 1:
        raise ValueError(f"adding must be at least 1, got {adding}")
    if month_limit is not None and month_count + adding > month_limit:
        raise PigeonError("isv.MONTH_LIMIT_CONTROL", _cap_text(
            "monthly", month_limit, month_count, "this month", adding))
    if day_limit is not None and day_count + adding > day_limit:
        raise PigeonError("isv.DAY_LIMIT_CONTROL", _cap_text(
            "daily", day_limit, day_count, "today", adding))


def _cap_text(which: str, limit: int, count: int, period: str, adding: int) -> str:
    left = max(limit - count, 0)
    messages = "message" if adding == 1 else "messages"
    return (f"The account's {which} sending cap of {limit} messages is reached: {count} sent "
            f"{period}, {left} left, this request needs {adding} {messages}.")


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def day_start(now: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant the platform-zone calendar day of ``now`` began (local 00:00)."""
    return _local_midnight(Calendar(zone).local_date(now), zone)


def month_start(now: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant the platform-zone calendar month of ``now`` began (the 1st, 00:00)."""
    return _local_midnight(Calendar(zone).local_date(now).replace(day=1), zone)


# -- quiet hours ------------------------------------------------------------------------------


def check_quiet_hours(template_type: int, now: datetime, zone: ZoneInfo,
                      window: tuple[time, time] = DEFAULT_QUIET_HOURS) -> None:
    """Refuse a promotional message inside the quiet hours (20:00–08:00 by default).

    Only promotional templates (type 2) are held back; OTP and notification messages go out at
    any hour, and international templates (type 3) are out of scope.  The window is half-open
    as in :func:`pigeon.core.schedule.in_quiet_hours`: 19:59:59 and 08:00:00 may send, 20:00:00
    and 07:59:59 may not.

    The code is ``isv.BUSINESS_LIMIT_CONTROL``.  Alibaba has no code for a sending-time policy
    (spec §7.6), and of the registered codes it is the only one that tells an SDK caller what
    is true: the request is well-formed and the content acceptable, but the platform's sending
    rules refuse it *now*, and the same request will succeed later.  ``isv.SMS_CONTENT_ILLEGAL``
    would tell the caller to change the template (and alarm anyone watching for banned
    content); ``isv.INVALID_PARAMETERS`` would point at a parameter that is fine.  The message,
    unlike the per-number ones, has no ``Permits:`` and says when sending is allowed again, as
    a local date and time.
    """
    _check_template_type(template_type)
    if template_type != PROMOTIONAL or not in_quiet_hours(now, zone, window):
        return
    start, end = window
    resume = _window_end(now.astimezone(zone), window)
    raise PigeonError(
        "isv.BUSINESS_LIMIT_CONTROL",
        f"Promotional messages are not sent from {start:%H:%M} to {end:%H:%M} ({zone}); "
        f"send again from {resume:%Y-%m-%d %H:%M}.",
    )


def _window_end(local: datetime, window: tuple[time, time]) -> datetime:
    """The local moment a window containing ``local`` ends."""
    start, end = window
    day = local.date()
    if start > end and local.time() >= start:  # the evening part of a window across midnight
        day += timedelta(days=1)
    return datetime.combine(day, end, tzinfo=local.tzinfo)

