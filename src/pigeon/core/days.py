"""Platform-local calendar days as the records APIs use them.

QuerySendDetails and QuerySendStatistics name days as ``yyyyMMdd`` in the platform's zone
(``PIGEON_TIMEZONE``), while messages are stored with UTC instants.  This module turns one into
the other, purely: :func:`parse_day` reads the wire form, :func:`utc_span` gives the UTC
instants a local day covers, :func:`check_queryable` applies QuerySendDetails' 30-day window,
and :func:`uniform_runs` cuts a range of days into stretches that SQL can group with plain
integer arithmetic.

Why runs: grouping by local day in SQL needs the zone's offset, and SQLite knows no zones.
Inside a stretch of days that all last exactly 24 hours, the day of an instant ``t`` is
``(t − start) // 86400`` seconds — portable arithmetic on every backend.  With the default
``Asia/Shanghai`` (no daylight saving) any range is one run, so one query; a zone with daylight
saving adds a run per transition, and each 23- or 25-hour day becomes a run of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from pigeon.core.errors import PigeonError

QUERYABLE_DAYS = 30
"""QuerySendDetails looks back this many days, today included (spec/dysmsapi.md §2.3)."""

SECONDS_PER_DAY = 86_400

_DAY = re.compile(r"^[0-9]{8}$")

FIRST_DAY = date(1970, 1, 1)
LAST_DAY = date(2999, 12, 31)
"""The days a parameter may name: any day a message can have been sent on, and far beyond;
outside them the UTC instants of a day (year 1, year 9999) do not exist."""


def parse_day(text: str, name: str) -> date:
    """``"20240131"`` → ``date(2024, 1, 31)``, or ``isv.INVALID_PARAMETERS`` naming ``name``.

    Exactly eight ASCII digits forming a real date from :data:`FIRST_DAY` to
    :data:`LAST_DAY`; ``2024-01-31``, ``2024131``, ``20240230`` and ``00010101`` are refused
    with a message saying what is expected.
    """
    if not isinstance(text, str) or not _DAY.fullmatch(text.strip()):
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"{name} must be a date written yyyyMMdd, such as 20240131; "
                          f"got {text!r}.")
    text = text.strip()
    try:
        day = date(int(text[:4]), int(text[4:6]), int(text[6:]))
    except ValueError:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"{name} {text} is not a calendar date.") from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"{name} {text} is out of range: a day from {day_text(FIRST_DAY)} to "
                          f"{day_text(LAST_DAY)}.")
    return day


def day_text(day: date) -> str:
    """``date(2024, 1, 31)`` → ``"20240131"``, the wire form of a day."""
    return day.strftime("%Y%m%d")


def utc_span(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants ``[start, end)`` of the local calendar ``day`` in ``zone``.

    Usually 24 hours; 23 or 25 on the days a zone changes its offset.
    """
    start = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def check_queryable(day: date, today: date, name: str = "SendDate",
                    days: int = QUERYABLE_DAYS) -> None:
    """Allow ``day`` if it is ``today`` or one of the ``days − 1`` days before it.

    Anything older, or a day still to come, raises ``isv.INVALID_PARAMETERS`` giving the
    first and last day that may be asked for.
    """
    first = today - timedelta(days=days - 1)
    if not first <= day <= today:
        raise PigeonError("isv.INVALID_PARAMETERS",
                          f"{name} {day_text(day)} is outside the last {days} days: records "
                          f"can be queried from {day_text(first)} to {day_text(today)}.")


@dataclass(frozen=True)
class Run:
    """``days`` consecutive local days from ``first``, covering the UTC instants
    ``[start, end)``.

    A run of several days has days of exactly 24 hours, so the day of an instant ``t`` inside
    it is ``first + (t − start) // 86400 s``; a run of one day may be 23 or 25 hours long.
    """

    first: date
    days: int
    start: datetime
    end: datetime

    def day_of(self, index: int) -> date:
        return self.first + timedelta(days=index)


def uniform_runs(first: date, last: date, zone: ZoneInfo) -> list[Run]:
    """The days ``first`` … ``last`` (both included) cut into :class:`Run` s, in order.

    Each run is as long as possible: consecutive 24-hour days share a run, a day of another
    length is a run by itself.  ``first`` after ``last`` gives no runs.
    """
    runs: list[Run] = []
    day = first
    while day <= last:
        start, end = utc_span(day, zone)
        whole = end - start == timedelta(seconds=SECONDS_PER_DAY)
        previous = runs[-1] if runs else None
        if (whole and previous is not None and previous.end == start
                and previous.end - previous.start == timedelta(days=previous.days)):
            runs[-1] = Run(previous.first, previous.days + 1, previous.start, end)
        else:
            runs.append(Run(day, 1, start, end))
        day += timedelta(days=1)
    return runs
