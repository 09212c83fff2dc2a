"""Platform days of the records APIs: yyyyMMdd, UTC spans, the 30-day window, uniform runs."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pigeon.core.days import check_queryable, day_text, parse_day, uniform_runs, utc_span
from pigeon.core.errors import PigeonError

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


@pytest.mark.parametrize("text, day", [
    ("20240131", date(2024, 1, 31)), ("20240229", date(2024, 2, 29)),
    (" 20240101 ", date(2024, 1, 1)),
    ("19700101", date(1970, 1, 1)), ("29991231", date(2999, 12, 31)),  # the first and last
])
def test_a_day_is_written_yyyymmdd(text, day):
    assert parse_day(text, "SendDate") == day
    assert day_text(day) == text.strip()


@pytest.mark.parametrize("text, why", [
    ("2024-01-31", "yyyyMMdd"), ("2024131", "yyyyMMdd"), ("", "yyyyMMdd"),
    ("２０２４０１３１", "yyyyMMdd"), ("20230229", "not a calendar date"),
    ("20241301", "not a calendar date"), ("00000101", "not a calendar date"),
    ("00010101", "out of range"), ("19691231", "out of range"), ("99991231", "out of range"),
])
def test_anything_else_is_an_invalid_parameter_naming_the_field(text, why):
    with pytest.raises(PigeonError) as raised:
        parse_day(text, "StartDate")
    assert raised.value.code == "isv.INVALID_PARAMETERS"
    assert "StartDate" in raised.value.message and why in raised.value.message


def test_a_shanghai_day_starts_at_16_utc_the_day_before():
    assert utc_span(date(2024, 5, 1), SHANGHAI) == (
        datetime(2024, 4, 30, 16, tzinfo=UTC), datetime(2024, 5, 1, 16, tzinfo=UTC))


def test_a_day_with_a_clock_change_is_23_or_25_hours():
    start, end = utc_span(date(2024, 3, 31), BERLIN)
    assert end - start == timedelta(hours=23)
    start, end = utc_span(date(2024, 10, 27), BERLIN)
    assert end - start == timedelta(hours=25)


@pytest.mark.parametrize("day, allowed", [
    (date(2024, 5, 31), True),  # today
    (date(2024, 5, 2), True),  # the 30th day, counting today
    (date(2024, 5, 1), False),
    (date(2024, 6, 1), False),  # tomorrow
])
def test_only_the_last_30_days_are_queryable(day, allowed):
    today = date(2024, 5, 31)
    if allowed:
        check_queryable(day, today)
        return
    with pytest.raises(PigeonError, match="from 20240502 to 20240531"):
        check_queryable(day, today)


def test_a_day_out_of_the_queryable_range_names_send_date_unless_told_otherwise():
    with pytest.raises(PigeonError, match=r"\bSendDate\b"):
        check_queryable(date(2024, 6, 1), date(2024, 5, 31))
    with pytest.raises(PigeonError, match="StartDate"):
        check_queryable(date(2024, 6, 1), date(2024, 5, 31), "StartDate")


# Surviving mutants, explained (scripts/mutation core days): utc_span() converting with
# astimezone(None) instead of astimezone(UTC) gives the same instants in the machine's zone,
# and every caller compares or stores instants.


def test_a_zone_without_daylight_saving_is_one_run():
    runs = uniform_runs(date(2023, 1, 1), date(2024, 12, 31), SHANGHAI)
    assert len(runs) == 1
    assert (runs[0].first, runs[0].days) == (date(2023, 1, 1), 731)
    assert runs[0].start == datetime(2022, 12, 31, 16, tzinfo=UTC)
    assert runs[0].day_of(730) == date(2024, 12, 31)


def test_clock_changes_split_the_runs_and_stand_alone():
    runs = uniform_runs(date(2024, 3, 29), date(2024, 4, 2), BERLIN)
    assert [(r.first, r.days) for r in runs] == [
        (date(2024, 3, 29), 2), (date(2024, 3, 31), 1), (date(2024, 4, 1), 2)]
    for earlier, later in zip(runs, runs[1:], strict=False):
        assert earlier.end == later.start  # no instant left out, none counted twice


def test_an_empty_range_has_no_runs():
    assert uniform_runs(date(2024, 1, 2), date(2024, 1, 1), SHANGHAI) == []
