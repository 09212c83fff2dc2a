from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pigeon.core.schedule import Calendar, in_quiet_hours, parse_window

SHANGHAI = ZoneInfo("Asia/Shanghai")
CALENDAR = Calendar(SHANGHAI)
NEW_YEAR_2027 = frozenset({date(2027, 1, 1)})


# Surviving mutants, explained (scripts/mutation core schedule):
# - _in_window: `start <= end` instead of `start < end`: when start equals end the mutant
#   asks `start <= moment < end`, which is false for every moment, as the empty window is.
# - Calendar.add_business_days: the step chosen with `n > 0` or `n >= 1` instead of `n >= 0`:
#   they differ only for n == 0, which takes no step at all and returns ``d``.


def cst(*parts: int) -> datetime:
    """A moment given in China Standard Time (UTC+8)."""
    return datetime(*parts, tzinfo=SHANGHAI)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(("text", "window"), [
    ("09:00-21:00", (time(9), time(21))),
    ("9:00-21:00", (time(9), time(21))),
    (" 20:00 - 08:00 ", (time(20), time(8))),
    ("00:00-23:59", (time(0), time(23, 59))),
    ("09:30-21:15", (time(9, 30), time(21, 15))),
])
def test_it_parses_a_window(text, window):
    assert parse_window(text) == window


@pytest.mark.parametrize(("text", "complaint"), [
    ("", "HH:MM-HH:MM"),
    ("09:00", "HH:MM-HH:MM"),
    ("9-21", "HH:MM-HH:MM"),
    ("09:00–21:00", "HH:MM-HH:MM"),  # en dash
    ("24:00-08:00", "not a time of day"),
    ("09:60-21:00", "not a time of day"),
    ("09:00-09:00", "empty"),
])
def test_it_rejects_a_bad_window_with_a_clear_message(text, complaint):
    with pytest.raises(ValueError, match=complaint):
        parse_window(text)


@pytest.mark.parametrize(("day", "holiday"), [
    (date(2026, 10, 1), True),    # National Day 2026: October 1–7
    (date(2026, 10, 3), True),    # a Saturday inside the holiday
    (date(2026, 10, 7), True),
    (date(2026, 10, 8), False),
    (date(2026, 9, 25), True),    # Mid-Autumn Festival 2026
    (date(2026, 1, 1), True),     # New Year's Day
    (date(2026, 10, 10), False),  # adjusted working Saturday
    (date(2026, 10, 11), False),  # an ordinary Sunday is a review day, not a holiday
    (date(2026, 10, 17), False),  # an ordinary Saturday
    (date(2027, 1, 1), False),    # chinese_calendar does not cover 2027
])
def test_it_knows_the_public_holidays(day, holiday):
    assert CALENDAR.is_public_holiday(day) is holiday


def test_extra_holidays_cover_years_the_package_does_not_know():
    calendar = Calendar(SHANGHAI, extra_holidays=NEW_YEAR_2027)
    assert calendar.is_public_holiday(date(2027, 1, 1))
    assert not calendar.is_public_holiday(date(2027, 1, 2))


@pytest.mark.parametrize(("day", "extra", "business"), [
    (date(2026, 10, 1), frozenset(), False),
    (date(2026, 10, 8), frozenset(), True),
    (date(2026, 10, 10), frozenset(), True),   # Saturday made a working day
    (date(2026, 9, 20), frozenset(), True),    # Sunday made a working day
    (date(2026, 10, 11), frozenset(), False),  # ordinary Sunday
    (date(2026, 10, 12), frozenset(), True),
    (date(2027, 1, 1), frozenset(), True),     # uncovered year: Monday–Friday
    (date(2027, 1, 1), NEW_YEAR_2027, False),
    (date(2027, 1, 2), frozenset(), False),    # uncovered year: Saturday
    (date(2026, 10, 12), frozenset({date(2026, 10, 12)}), False),
])
def test_it_knows_the_business_days(day, extra, business):
    assert Calendar(SHANGHAI, extra_holidays=extra).is_business_day(day) is business


@pytest.mark.parametrize(("start", "n", "extra", "expected"), [
    (date(2026, 9, 30), 1, frozenset(), date(2026, 10, 8)),    # over National Day
    (date(2026, 10, 1), 1, frozenset(), date(2026, 10, 8)),    # from inside a holiday
    (date(2026, 10, 9), 1, frozenset(), date(2026, 10, 10)),   # Friday → adjusted Saturday
    (date(2026, 10, 10), 1, frozenset(), date(2026, 10, 12)),  # skips the Sunday
    (date(2026, 9, 18), 10, frozenset(), date(2026, 10, 9)),   # 10 business days, two holidays
    (date(2026, 10, 8), 0, frozenset(), date(2026, 10, 8)),
    (date(2026, 10, 3), 0, frozenset(), date(2026, 10, 3)),
    (date(2026, 10, 8), -1, frozenset(), date(2026, 9, 30)),
    (date(2026, 10, 13), -1, frozenset(), date(2026, 10, 12)),
    (date(2026, 10, 21), -3, frozenset(), date(2026, 10, 16)),  # back over a weekend
    (date(2026, 12, 31), 1, frozenset(), date(2027, 1, 1)),
    (date(2026, 12, 31), 1, NEW_YEAR_2027, date(2027, 1, 4)),
])
def test_it_adds_business_days(start, n, extra, expected):
    assert Calendar(SHANGHAI, extra_holidays=extra).add_business_days(start, n) == expected


@pytest.mark.parametrize(("now", "open_"), [
    (cst(2026, 10, 14, 8, 59, 59), False),
    (cst(2026, 10, 14, 9, 0), True),
    (cst(2026, 10, 14, 20, 59, 59), True),
    (cst(2026, 10, 14, 21, 0), False),
    (cst(2026, 10, 17, 10, 0), True),   # Saturday: review runs Monday to Sunday
    (cst(2026, 10, 10, 10, 0), True),   # adjusted working Saturday
    (cst(2026, 10, 1, 10, 0), False),   # National Day
    (utc(2026, 10, 14, 1, 0), True),    # 09:00 in Shanghai
    (utc(2026, 10, 14, 0, 59, 59), False),
    (utc(2026, 10, 14, 13, 0), False),  # 21:00 in Shanghai
])
def test_it_knows_when_reviewers_work(now, open_):
    assert CALENDAR.is_review_time(now) is open_


@pytest.mark.parametrize(("at", "extra", "expected"), [
    (cst(2026, 10, 14, 8, 0), frozenset(), cst(2026, 10, 14, 9, 0)),
    (cst(2026, 10, 14, 10, 30), frozenset(), cst(2026, 10, 14, 10, 30)),
    (cst(2026, 10, 14, 21, 0), frozenset(), cst(2026, 10, 15, 9, 0)),
    (cst(2026, 10, 3, 12, 0), frozenset(), cst(2026, 10, 8, 9, 0)),
    (cst(2026, 9, 30, 22, 0), frozenset(), cst(2026, 10, 8, 9, 0)),
    (cst(2026, 9, 24, 21, 30), frozenset(), cst(2026, 9, 28, 9, 0)),  # Mid-Autumn, Sep 25–27
    (cst(2026, 12, 31, 22, 0), frozenset(), cst(2027, 1, 1, 9, 0)),
    (cst(2026, 12, 31, 22, 0), NEW_YEAR_2027, cst(2027, 1, 2, 9, 0)),  # a Saturday
    (utc(2026, 10, 14, 14, 0), frozenset(), utc(2026, 10, 15, 1, 0)),  # 22:00 CST → 09:00 CST
])
def test_it_finds_the_next_review_time(at, extra, expected):
    found = Calendar(SHANGHAI, extra_holidays=extra).next_review_time(at)
    assert found == expected
    assert found.utcoffset() == timedelta(0)


@pytest.mark.parametrize(("submitted", "delay", "due"), [
    (cst(2026, 10, 14, 10, 0), timedelta(hours=2), cst(2026, 10, 14, 12, 0)),
    (cst(2026, 10, 14, 20, 30), timedelta(hours=2), cst(2026, 10, 15, 9, 0)),
    (cst(2026, 10, 14, 18, 0), timedelta(hours=2), cst(2026, 10, 14, 20, 0)),
    (cst(2026, 9, 30, 20, 30), timedelta(hours=2), cst(2026, 10, 8, 9, 0)),  # eve of National Day
    (cst(2026, 10, 14, 3, 0), timedelta(0), cst(2026, 10, 14, 9, 0)),
])
def test_a_review_is_due_after_the_delay_inside_review_hours(submitted, delay, due):
    assert CALENDAR.review_due(submitted, delay) == due


@pytest.mark.parametrize(("now", "day", "text"), [
    (utc(2026, 9, 30, 16, 30, 5), date(2026, 10, 1), "2026-10-01 00:30:05"),
    (utc(2026, 9, 30, 15, 59, 59), date(2026, 9, 30), "2026-09-30 23:59:59"),
    (cst(2026, 3, 8, 9, 5, 0), date(2026, 3, 8), "2026-03-08 09:05:00"),
])
def test_it_shows_dates_in_the_platform_zone(now, day, text):
    assert CALENDAR.local_date(now) == day
    assert CALENDAR.local_datetime_text(now) == text


@pytest.mark.parametrize(("now", "window", "quiet"), [
    (cst(2026, 10, 14, 19, 59, 59), (time(20), time(8)), False),
    (cst(2026, 10, 14, 20, 0), (time(20), time(8)), True),
    (cst(2026, 10, 14, 23, 30), (time(20), time(8)), True),
    (cst(2026, 10, 15, 0, 0), (time(20), time(8)), True),
    (cst(2026, 10, 15, 7, 59, 59), (time(20), time(8)), True),
    (cst(2026, 10, 15, 8, 0), (time(20), time(8)), False),
    (cst(2026, 10, 15, 12, 0), (time(20), time(8)), False),
    (utc(2026, 10, 14, 12, 0), (time(20), time(8)), True),   # 20:00 in Shanghai
    (utc(2026, 10, 14, 0, 0), (time(20), time(8)), False),   # 08:00 in Shanghai
    (cst(2026, 10, 14, 12, 59), (time(13), time(14)), False),
    (cst(2026, 10, 14, 13, 0), (time(13), time(14)), True),
    (cst(2026, 10, 14, 14, 0), (time(13), time(14)), False),
    (cst(2026, 10, 14, 12, 0), (time(8), time(8)), False),   # empty window
])
def test_it_knows_the_quiet_hours(now, window, quiet):
    assert in_quiet_hours(now, SHANGHAI, window) is quiet


def test_the_default_quiet_hours_are_twenty_to_eight():
    assert in_quiet_hours(cst(2026, 10, 14, 21, 0), SHANGHAI)
    assert not in_quiet_hours(cst(2026, 10, 14, 9, 0), SHANGHAI)


def test_it_refuses_naive_datetimes():
    with pytest.raises(ValueError, match="timezone-aware"):
        CALENDAR.is_review_time(datetime(2026, 10, 14, 10, 0))
    with pytest.raises(ValueError, match="timezone-aware"):
        in_quiet_hours(datetime(2026, 10, 14, 10, 0), SHANGHAI)


def test_review_hours_may_not_wrap_midnight():
    with pytest.raises(ValueError, match="review hours"):
        Calendar(SHANGHAI, review_hours=(time(21), time(9)))


def test_review_hours_come_from_the_setting_text():
    calendar = Calendar(SHANGHAI, review_hours=parse_window("10:00-18:00"))
    assert calendar.next_review_time(cst(2026, 10, 14, 18, 0)) == cst(2026, 10, 15, 10, 0)


def test_an_all_holiday_calendar_fails_loudly_instead_of_looping():
    every_day = frozenset(date(2026, 1, 1) + timedelta(days=i) for i in range(4000))
    with pytest.raises(ValueError, match="no review day"):
        Calendar(SHANGHAI, extra_holidays=every_day).next_review_time(cst(2026, 1, 1, 10, 0))


moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31),
                       timezones=st.just(UTC))


@given(moments)
def test_the_next_review_time_is_the_earliest_review_instant_not_before(at):
    found = CALENDAR.next_review_time(at)
    assert found >= at
    assert CALENDAR.is_review_time(found)
    # Either nothing had to wait, or the review day starts exactly then.
    assert found == at or found.astimezone(SHANGHAI).time() == time(9)
    # And nothing in between was review time: the hour before it was closed.
    if found != at:
        assert not CALENDAR.is_review_time(max(at, found - timedelta(seconds=1)))


NAIVE = datetime(2026, 10, 14, 10, 0)


@pytest.mark.parametrize(("call", "name"), [
    (lambda: in_quiet_hours(NAIVE, SHANGHAI), "now"),
    (lambda: CALENDAR.is_review_time(NAIVE), "now"),
    (lambda: CALENDAR.local_date(NAIVE), "now"),
    (lambda: CALENDAR.local_datetime_text(NAIVE), "ts"),
    (lambda: CALENDAR.next_review_time(NAIVE), "at"),
    (lambda: CALENDAR.review_due(NAIVE, timedelta(hours=2)), "submitted_at"),
])
def test_a_naive_datetime_is_refused_by_the_name_of_its_argument(call, name):
    with pytest.raises(ValueError) as raised:
        call()
    assert str(raised.value) == (f"{name} must be a timezone-aware datetime, got naive "
                                 f"datetime.datetime(2026, 10, 14, 10, 0)")


class NoOffset(tzinfo):
    """A zone that knows no offset: Python counts its datetimes as naive."""

    def utcoffset(self, dt):
        return None


def test_a_datetime_whose_zone_has_no_offset_is_naive():
    with pytest.raises(ValueError, match="^now must be a timezone-aware datetime, got naive "):
        CALENDAR.is_review_time(datetime(2026, 10, 14, 10, 0, tzinfo=NoOffset()))


def test_review_hours_may_not_be_empty():
    with pytest.raises(ValueError) as raised:
        Calendar(SHANGHAI, review_hours=(time(9), time(9)))
    assert str(raised.value) == ("review hours must start before they end on the same day, "
                                 "got 09:00-09:00")


@pytest.mark.parametrize("at", [cst(2026, 10, 14, 8, 0), cst(2026, 10, 14, 10, 30)])
def test_the_next_review_time_is_in_utc_whatever_the_machines_zone(machine_east_of_utc, at):
    assert CALENDAR.next_review_time(at).utcoffset() == timedelta(0)


def test_in_the_repeated_hour_of_a_clock_change_the_start_of_review_is_not_moved_back():
    new_york = ZoneInfo("America/New_York")
    calendar = Calendar(new_york, review_hours=(time(1), time(21)))
    second_one_oclock = datetime(2026, 11, 1, 1, 0, fold=1, tzinfo=new_york)  # EST, 06:00 UTC
    assert calendar.next_review_time(second_one_oclock) == utc(2026, 11, 1, 6, 0)


def every_day_off(start: date, days: int) -> frozenset[date]:
    return frozenset(start + timedelta(days=i) for i in range(1, days + 1))


def test_the_business_day_search_reaches_ten_years_and_a_week_per_day_asked():
    # 3660 days, plus 7 for the one business day asked: the 3667th day is still searched.
    calendar = Calendar(SHANGHAI, extra_holidays=every_day_off(date(2026, 1, 1), 3666))
    assert calendar.add_business_days(date(2026, 1, 1), 1) == date(2036, 1, 16)  # a Wednesday


def test_an_all_holiday_calendar_stops_the_business_day_search_loudly():
    calendar = Calendar(SHANGHAI, extra_holidays=every_day_off(date(2026, 1, 1), 4000))
    with pytest.raises(ValueError) as raised:
        calendar.add_business_days(date(2026, 1, 1), 1)
    assert str(raised.value) == "no business day found within 3668 days of 2026-01-01"
