"""Time rules in the platform's zone: review hours, public holidays, business days, quiet hours.

Everything here is pure: ``now`` is always an argument, timestamps are timezone-aware datetimes
(stored and returned in UTC), and the platform zone (``PIGEON_TIMEZONE``, ``Asia/Shanghai`` by
default) is passed in as a :class:`zoneinfo.ZoneInfo`.

Two different notions of "day off" are used, as on Alibaba Cloud:

* **Review days.** Reviewers work 09:00–21:00 *every day, Monday to Sunday*, and reviews are
  postponed on *public holidays* (seed document "Getting started").  An ordinary Saturday is a
  review day; the seven days of National Day are not.
* **Business days.** Durations such as "carrier registration takes 7 to 10 business days" count
  working days: Monday to Friday minus public holidays, plus the Saturdays and Sundays that the
  State Council turns into working days to bridge a holiday (调休).

The statutory calendar comes from ``chinese_calendar`` (package ``chinesecalendar``).  It only
knows the years the State Council has published (it raises ``NotImplementedError`` past 2026 in
version 1.11).  For a year it does not cover, Pigeon falls back to: public holidays are exactly
``extra_holidays`` (``PIGEON_EXTRA_HOLIDAYS``), business days are Monday to Friday minus
``extra_holidays``.  Adjusted working weekends of such a year cannot be known and are not
business days; operators add the coming year's holidays until the package is upgraded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar

DEFAULT_REVIEW_HOURS = (time(9, 0), time(21, 0))
"""Alibaba's published review window, 09:00–21:00 in China Standard Time."""

DEFAULT_QUIET_HOURS = (time(20, 0), time(8, 0))
"""No promotional messages from 20:00 to 08:00 (seed document, "Limitations")."""

# Ten years of consecutive holidays do not exist; a longer search means a misconfiguration
# (every day an extra holiday), which should fail loudly instead of looping forever.
_SEARCH_LIMIT_DAYS = 3660

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


def parse_window(text: str) -> tuple[time, time]:
    """``"09:00-21:00"`` → ``(time(9), time(21))``.

    ``HH:MM-HH:MM`` with 00:00 ≤ each ≤ 23:59; the start may be later than the end for a window
    that wraps midnight (``"20:00-08:00"``).  Raises :class:`ValueError` with a message naming
    the problem on anything else, including an empty window (start equal to end).
    """
    match = _WINDOW.match(text)
    if not match:
        raise ValueError(f"expected a window such as 09:00-21:00 (HH:MM-HH:MM), got {text!r}")
    sh, sm, eh, em = (int(group) for group in match.groups())
    for hour, minute in ((sh, sm), (eh, em)):
        if hour > 23 or minute > 59:
            raise ValueError(f"{hour:02d}:{minute:02d} is not a time of day in {text!r}")
    start, end = time(sh, sm), time(eh, em)
    if start == end:
        raise ValueError(f"the window {text!r} is empty: its start and end are the same time")
    return start, end


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got naive {moment!r}")


def _in_window(moment: time, window: tuple[time, time]) -> bool:
    start, end = window
    if start < end:
        return start <= moment < end
    if start > end:  # wraps midnight: 20:00–08:00 is 20:00–24:00 plus 00:00–08:00
        return moment >= start or moment < end
    return False


def in_quiet_hours(now: datetime, zone: ZoneInfo,
                   window: tuple[time, time] = DEFAULT_QUIET_HOURS) -> bool:
    """Whether ``now`` falls in the quiet hours (no promotional messages) in ``zone``.

    The window is half-open, start included and end excluded: with the default 20:00–08:00,
    19:59:59 and 08:00:00 are not quiet, 20:00:00 and 07:59:59 are.  A window whose start is
    later than its end wraps midnight; one whose start equals its end is empty (never quiet).
    """
    _require_aware(now, "now")
    return _in_window(now.astimezone(zone).time(), window)


@dataclass(frozen=True)
class Calendar:
    """The platform's calendar: its zone, its review hours and its public holidays."""

    zone: ZoneInfo
    review_hours: tuple[time, time] = DEFAULT_REVIEW_HOURS
    extra_holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        start, end = self.review_hours
        if not start < end:
            # A review window across midnight would make "the review day" ambiguous.
            raise ValueError(f"review hours must start before they end on the same day, got "
                             f"{start:%H:%M}-{end:%H:%M}")

    # -- days ---------------------------------------------------------------------------------

    def is_public_holiday(self, d: date) -> bool:
        """A statutory public holiday (a day off with a festival's name), or an extra holiday.

        Ordinary weekends are not public holidays: review runs Monday to Sunday.  For a year
        ``chinese_calendar`` does not cover, only ``extra_holidays`` count.
        """
        if d in self.extra_holidays:
            return True
        try:
            on_holiday, name = chinese_calendar.get_holiday_detail(d)
        except NotImplementedError:
            return False
        return bool(on_holiday) and name is not None

    def is_business_day(self, d: date) -> bool:
        """A working day: Monday–Friday that is not a holiday, or an adjusted working weekend.

        For a year ``chinese_calendar`` does not cover: Monday–Friday minus ``extra_holidays``.
        """
        if d in self.extra_holidays:
            return False
        try:
            return chinese_calendar.is_workday(d)
        except NotImplementedError:
            return d.weekday() < 5

    def add_business_days(self, d: date, n: int) -> date:
        """The date ``n`` business days after ``d`` (before it when ``n`` is negative).

        ``d`` itself is never counted: from Friday, one business day later is Monday; from a
        holiday, one business day later is the first working day after it.  ``n == 0`` returns
        ``d`` unchanged, business day or not.
        """
        step = timedelta(days=1 if n >= 0 else -1)
        remaining = abs(n)
        current = d
        searched = 0
        while remaining:
            current += step
            searched += 1
            if searched > _SEARCH_LIMIT_DAYS + abs(n) * 7:
                raise ValueError(f"no business day found within {searched} days of {d}")
            if self.is_business_day(current):
                remaining -= 1
        return current

    # -- instants -----------------------------------------------------------------------------

    def local_date(self, now: datetime) -> date:
        """The calendar date of ``now`` in the platform zone."""
        _require_aware(now, "now")
        return now.astimezone(self.zone).date()

    def local_datetime_text(self, ts: datetime) -> str:
        """``ts`` as ``yyyy-MM-dd HH:mm:ss`` in the platform zone, as API answers show dates."""
        _require_aware(ts, "ts")
        return ts.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S")

    def is_review_time(self, now: datetime) -> bool:
        """Whether reviewers are at work at ``now``: inside review hours on a non-holiday."""
        _require_aware(now, "now")
        local = now.astimezone(self.zone)
        return (not self.is_public_holiday(local.date())
                and _in_window(local.time(), self.review_hours))

    def next_review_time(self, at: datetime) -> datetime:
        """The earliest instant ≥ ``at`` inside review hours on a non-holiday, in UTC.

        Review hours are half-open: at 21:00:00 the day's window is closed and the next review
        time is 09:00 on the next day that is not a public holiday.
        """
        _require_aware(at, "at")
        start, end = self.review_hours
        local = at.astimezone(self.zone)
        day = local.date()
        if not self.is_public_holiday(day):
            if local.time() < start:
                return self._at(day, start)
            if local.time() < end:
                return at.astimezone(UTC)
        for _ in range(_SEARCH_LIMIT_DAYS):
            day += timedelta(days=1)
            if not self.is_public_holiday(day):
                return self._at(day, start)
        raise ValueError(f"no review day found within {_SEARCH_LIMIT_DAYS} days after {at}")

    def review_due(self, submitted_at: datetime, delay: timedelta) -> datetime:
        """When an application submitted at ``submitted_at`` is decided (UTC).

        ``delay`` runs on the wall clock (Alibaba: "usually within 2 hours"), then the decision
        waits for the next review time: submitted at 20:30 with a 2 h delay, it is decided at
        09:00 the next review day.
        """
        _require_aware(submitted_at, "submitted_at")
        return self.next_review_time(submitted_at + delay)

    def _at(self, day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, tzinfo=self.zone).astimezone(UTC)
