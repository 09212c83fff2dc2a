from dataclasses import fields
from datetime import UTC, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pigeon.core import limits
from pigeon.core.errors import PigeonError
from pigeon.core.limits import (
    INTERNATIONAL,
    NOTIFICATION,
    OTP,
    PLATFORM_LIMITS,
    PROMOTIONAL,
    Counts,
    NumberLimits,
    applies,
    check_account,
    check_number,
    check_quiet_hours,
    day_start,
    month_start,
    scope,
    tightened,
    windows,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
KOLKATA = ZoneInfo("Asia/Kolkata")  # UTC+5:30: its clock hour is not a UTC hour


def cst(*parts: int) -> datetime:
    """A moment given in China Standard Time (UTC+8)."""
    return datetime(*parts, tzinfo=SHANGHAI)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def refusal(call) -> PigeonError:
    with pytest.raises(PigeonError) as caught:
        call()
    return caught.value


# -- windows ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("now", "minute", "hour"), [
    (cst(2026, 5, 1, 14, 3, 0), cst(2026, 5, 1, 14, 3), cst(2026, 5, 1, 14)),
    (cst(2026, 5, 1, 14, 3, 59, 999999), cst(2026, 5, 1, 14, 3), cst(2026, 5, 1, 14)),
    (cst(2026, 5, 1, 14, 4, 0), cst(2026, 5, 1, 14, 4), cst(2026, 5, 1, 14)),
    (cst(2026, 5, 1, 14, 59, 59), cst(2026, 5, 1, 14, 59), cst(2026, 5, 1, 14)),
    (cst(2026, 5, 1, 15, 0, 0), cst(2026, 5, 1, 15, 0), cst(2026, 5, 1, 15)),
    # local midnight is 16:00 UTC the day before
    (cst(2026, 5, 1, 0, 0, 30), cst(2026, 5, 1, 0, 0), cst(2026, 5, 1, 0)),
    (utc(2026, 4, 30, 16, 0, 30), cst(2026, 5, 1, 0, 0), cst(2026, 5, 1, 0)),
])
def test_the_minute_and_hour_are_clock_windows_in_the_platform_zone(now, minute, hour):
    found = windows(now, SHANGHAI)
    assert (found.minute, found.hour) == (minute, hour)
    assert found.minute.tzinfo is UTC and found.hour.tzinfo is UTC


def test_the_hour_follows_the_local_clock_in_a_half_hour_zone():
    found = windows(utc(2026, 5, 1, 9, 10), KOLKATA)  # 14:40 in Kolkata
    assert found.hour == utc(2026, 5, 1, 8, 30)      # 14:00 in Kolkata
    assert found.minute == utc(2026, 5, 1, 9, 10)


@pytest.mark.parametrize(("age", "counted"), [
    (timedelta(0), True),
    (timedelta(hours=23, minutes=59), True),
    (timedelta(hours=24) - timedelta(microseconds=1), True),
    (timedelta(hours=24), False),
    (timedelta(hours=24, seconds=1), False),
])
def test_the_day_is_a_rolling_24_hours(age, counted):
    now = cst(2026, 5, 2, 10, 30)
    found = windows(now, SHANGHAI)
    assert (now - age >= found.day) is counted
    assert found.counts([now - age]).day == int(counted)


def test_a_message_counts_in_the_windows_that_contain_it():
    now = cst(2026, 5, 1, 14, 4, 0)
    found = windows(now, SHANGHAI)
    accepted = [
        cst(2026, 5, 1, 14, 4, 0),   # this minute
        cst(2026, 5, 1, 14, 3, 59),  # last minute, this hour
        cst(2026, 5, 1, 14, 0, 0),   # first instant of this hour
        cst(2026, 5, 1, 13, 59, 59),  # last hour, within the day
        cst(2026, 4, 30, 14, 4, 1),  # 23:59:59 ago
        cst(2026, 4, 30, 14, 4, 0),  # exactly 24 hours ago: no longer counted
    ]
    assert found.counts(accepted) == Counts(minute=1, hour=3, day=5)


def test_windows_refuse_a_naive_now():
    with pytest.raises(ValueError, match="^now must be a timezone-aware datetime, got naive "):
        windows(datetime(2026, 5, 1, 14), SHANGHAI)


class _Unknown(tzinfo):
    """A zone that does not know its offset: as naive as no zone at all."""

    def utcoffset(self, dt):
        return None


def test_windows_refuse_a_now_whose_zone_has_no_offset():
    with pytest.raises(ValueError, match="^now must be a timezone-aware datetime"):
        windows(datetime(2026, 5, 1, 14, tzinfo=_Unknown()), SHANGHAI)


# Surviving mutants, explained (scripts/mutation core limits):
# - windows() converting the day's start with astimezone(None) instead of astimezone(UTC): the
#   same instant in the machine's zone, and every use compares instants.
# - _window_end() without the zone on its result, or taking `start >= end` for a window across
#   midnight: the result is only printed as a local date and time, and a window whose start
#   equals its end contains no moment, so _window_end is never called for one.


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                    timezones=st.just(UTC)),
       st.sampled_from([SHANGHAI, KOLKATA, ZoneInfo("UTC")]))
def test_each_window_starts_on_its_boundary_and_contains_now(now, zone):
    found = windows(now, zone)
    assert found.day <= found.hour <= found.minute <= now
    assert now - found.minute < timedelta(minutes=1)
    assert now - found.hour < timedelta(hours=1)
    assert now - found.day < timedelta(hours=24)
    assert found.minute.astimezone(zone).second == 0
    assert found.hour.astimezone(zone).minute == 0
    assert found.counts([now]) == Counts(1, 1, 1)


# -- scope and applicability ------------------------------------------------------------------


@pytest.mark.parametrize(("template_type", "expected"), [
    (OTP, "signature"),
    (NOTIFICATION, "signature+template"),
    (PROMOTIONAL, "signature+template"),
    (INTERNATIONAL, "signature+template"),
])
def test_otp_is_counted_per_signature_the_others_per_template(template_type, expected):
    assert scope(template_type) == expected


@pytest.mark.parametrize(("template_type", "mainland", "whitelisted", "expected"), [
    (OTP, True, False, True),
    (NOTIFICATION, True, False, True),
    (PROMOTIONAL, True, False, True),
    (INTERNATIONAL, True, False, False),
    (INTERNATIONAL, False, False, False),
    (OTP, False, False, False),
    (NOTIFICATION, False, False, False),
    (OTP, True, True, False),
    (PROMOTIONAL, True, True, False),
])
def test_limits_apply_only_to_mainland_numbers_off_the_whitelist(
        template_type, mainland, whitelisted, expected):
    assert applies(template_type, mainland=mainland, whitelisted=whitelisted) is expected


@pytest.mark.parametrize("call", [
    lambda: scope(4),
    lambda: applies(7, mainland=True, whitelisted=False),
    lambda: check_number(-1, Counts(0, 0, 0), mainland=True, whitelisted=False),
    lambda: check_quiet_hours(5, cst(2026, 5, 1, 12), SHANGHAI),
])
def test_an_unknown_template_type_is_a_programming_error(call):
    with pytest.raises(ValueError, match="^unknown template type .*; expected one of 0, 1, 2, 3$"):
        call()


# -- per-number limits ------------------------------------------------------------------------

MINUTE = "触发分钟级流控Permits:1"
HOUR = "触发小时级流控Permits:5"
DAY_OTP = "触发天级流控Permits:10"
DAY_OTHER = "触发天级流控Permits:50"


@pytest.mark.parametrize(("template_type", "counts", "message"), [
    # OTP: 1 per minute, 5 per hour, 10 per day; counts are messages already accepted
    (OTP, Counts(0, 0, 0), None),
    (OTP, Counts(1, 1, 1), MINUTE),
    (OTP, Counts(0, 4, 4), None),
    (OTP, Counts(0, 5, 5), HOUR),
    (OTP, Counts(0, 4, 9), None),
    (OTP, Counts(0, 0, 10), DAY_OTP),
    (OTP, Counts(0, 3, 11), DAY_OTP),
    # several full windows: the longest is reported
    (OTP, Counts(1, 5, 5), HOUR),
    (OTP, Counts(1, 5, 10), DAY_OTP),
    (OTP, Counts(1, 1, 10), DAY_OTP),
    # notification and promotional: 50 per day, no minute or hour limit
    (NOTIFICATION, Counts(0, 0, 49), None),
    (NOTIFICATION, Counts(0, 0, 50), DAY_OTHER),
    (NOTIFICATION, Counts(20, 49, 49), None),
    (PROMOTIONAL, Counts(0, 0, 49), None),
    (PROMOTIONAL, Counts(0, 0, 50), DAY_OTHER),
    (PROMOTIONAL, Counts(0, 0, 51), DAY_OTHER),
    # international templates are never limited
    (INTERNATIONAL, Counts(100, 100, 1000), None),
])
def test_per_number_limits_on_a_mainland_number(template_type, counts, message):
    def call():
        check_number(template_type, counts, PLATFORM_LIMITS, mainland=True, whitelisted=False)

    if message is None:
        call()
    else:
        error = refusal(call)
        assert (error.code, error.message) == ("isv.BUSINESS_LIMIT_CONTROL", message)
        assert error.http_status == 200


@pytest.mark.parametrize("template_type", [OTP, NOTIFICATION, PROMOTIONAL, INTERNATIONAL])
@pytest.mark.parametrize(("mainland", "whitelisted"), [(False, False), (True, True), (False, True)])
def test_whitelisted_and_non_mainland_numbers_are_never_limited(template_type, mainland,
                                                                whitelisted):
    check_number(template_type, Counts(60, 600, 6000), mainland=mainland, whitelisted=whitelisted)


@pytest.mark.parametrize(("limits_", "template_type", "counts", "message"), [
    (NumberLimits(otp_per_minute=1, otp_per_hour=3, otp_per_day=10), OTP, Counts(0, 2, 2), None),
    (NumberLimits(otp_per_minute=1, otp_per_hour=3, otp_per_day=10), OTP, Counts(0, 3, 3),
     "触发小时级流控Permits:3"),
    (NumberLimits(otp_per_day=4), OTP, Counts(0, 4, 4), "触发天级流控Permits:4"),
    (NumberLimits(other_per_day=20), NOTIFICATION, Counts(0, 0, 19), None),
    (NumberLimits(other_per_day=20), PROMOTIONAL, Counts(0, 0, 20), "触发天级流控Permits:20"),
])
def test_the_message_names_the_limit_in_force(limits_, template_type, counts, message):
    def call():
        check_number(template_type, counts, limits_, mainland=True, whitelisted=False)

    if message is None:
        call()
    else:
        assert refusal(call).message == message


def test_the_defaults_are_the_platform_limits():
    assert PLATFORM_LIMITS == NumberLimits(otp_per_minute=1, otp_per_hour=5, otp_per_day=10,
                                           other_per_day=50)


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, PLATFORM_LIMITS),
    ({"otp_per_hour": 3}, NumberLimits(otp_per_hour=3)),
    ({"otp_per_hour": 5, "otp_per_day": 10}, PLATFORM_LIMITS),  # equal to the maximum is fine
    ({"otp_per_day": 1, "other_per_day": 1}, NumberLimits(otp_per_day=1, other_per_day=1)),
    ({"otp_per_minute": None, "other_per_day": 30}, NumberLimits(other_per_day=30)),
])
def test_a_tenant_may_lower_a_limit(changes, expected):
    assert tightened(PLATFORM_LIMITS, **changes) == expected


def test_tightening_starts_from_the_given_limits():
    lowered = NumberLimits(otp_per_hour=3)
    assert tightened(lowered, otp_per_day=8) == NumberLimits(otp_per_hour=3, otp_per_day=8)
    error = refusal(lambda: tightened(lowered, otp_per_hour=4))
    assert "to one number is 3, got 4" in error.message


@pytest.mark.parametrize(("changes", "complaint"), [
    ({"otp_per_minute": 2},
     "otp_per_minute may only be lowered: the platform maximum for OTP messages per minute to"
     " one number is 1, got 2."),
    ({"otp_per_hour": 6}, "OTP messages per hour to one number is 5, got 6"),
    ({"otp_per_day": 11}, "OTP messages per 24 hours to one number is 10, got 11"),
    ({"other_per_day": 51}, "notification or promotional messages per template per 24 hours to one number is 50"),
    ({"otp_per_day": 0}, "otp_per_day must be at least 1"),
    ({"other_per_day": -3}, "other_per_day must be at least 1"),
    ({"otp_per_hour": 2.5}, "otp_per_hour must be a whole number"),
    ({"otp_per_hour": True}, "otp_per_hour must be a whole number"),
])
def test_a_tenant_may_not_raise_a_limit(changes, complaint):
    error = refusal(lambda: tightened(PLATFORM_LIMITS, **changes))
    assert error.code == "isv.INVALID_PARAMETERS"
    assert complaint in error.message


def test_every_limit_has_a_description_for_its_error():
    assert set(limits._DESCRIPTIONS) == {field.name for field in fields(NumberLimits)}


# -- account caps -----------------------------------------------------------------------------


@pytest.mark.parametrize(("day_count", "month_count", "day_limit", "month_limit", "adding",
                          "code"), [
    (0, 0, None, None, 1, None),
    (10**9, 10**9, None, None, 1000, None),
    (99, 500, 100, None, 1, None),           # the 100th message reaches the cap exactly
    (100, 500, 100, None, 1, "isv.DAY_LIMIT_CONTROL"),
    (95, 500, 100, None, 5, None),           # a batch that lands exactly on the cap
    (96, 500, 100, None, 5, "isv.DAY_LIMIT_CONTROL"),  # crossing the cap refuses all five
    (0, 999, None, 1000, 1, None),
    (0, 1000, None, 1000, 1, "isv.MONTH_LIMIT_CONTROL"),
    (0, 998, None, 1000, 3, "isv.MONTH_LIMIT_CONTROL"),
    (100, 1000, 100, 1000, 1, "isv.MONTH_LIMIT_CONTROL"),  # both full: the month is reported
    (100, 10, 100, 1000, 1, "isv.DAY_LIMIT_CONTROL"),
    (0, 0, 0, None, 1, "isv.DAY_LIMIT_CONTROL"),   # a cap of 0 stops all sending
])
def test_account_caps(day_count, month_count, day_limit, month_limit, adding, code):
    def call():
        check_account(day_count, month_count, day_limit=day_limit, month_limit=month_limit,
                      adding=adding)

    if code is None:
        call()
    else:
        assert refusal(call).code == code


def test_an_account_cap_error_says_where_the_account_stands():
    error = refusal(lambda: check_account(96, 0, day_limit=100, month_limit=None, adding=5))
    assert error.message == ("The account's daily sending cap of 100 messages is reached: 96 sent "
                             "today, 4 left, this request needs 5 messages.")
    error = refusal(lambda: check_account(0, 1000, day_limit=None, month_limit=1000))
    assert error.message == ("The account's monthly sending cap of 1000 messages is reached: "
                             "1000 sent this month, 0 left, this request needs 1 message.")


def test_adding_nothing_is_a_programming_error():
    with pytest.raises(ValueError, match="at least 1"):
        check_account(0, 0, day_limit=None, month_limit=None, adding=0)


@pytest.mark.parametrize(("now", "day", "month"), [
    (cst(2026, 5, 17, 14, 30), utc(2026, 5, 16, 16), utc(2026, 4, 30, 16)),
    (cst(2026, 5, 1, 0, 0), utc(2026, 4, 30, 16), utc(2026, 4, 30, 16)),
    (cst(2026, 4, 30, 23, 59, 59), utc(2026, 4, 29, 16), utc(2026, 3, 31, 16)),
    # 16:00 UTC on April 30 is already May 1 in Shanghai
    (utc(2026, 4, 30, 16, 0), utc(2026, 4, 30, 16), utc(2026, 4, 30, 16)),
    (utc(2026, 4, 30, 15, 59, 59), utc(2026, 4, 29, 16), utc(2026, 3, 31, 16)),
    (cst(2027, 1, 1, 8), utc(2026, 12, 31, 16), utc(2026, 12, 31, 16)),
])
def test_account_caps_count_from_the_local_calendar_day_and_month(now, day, month):
    assert day_start(now, SHANGHAI) == day
    assert month_start(now, SHANGHAI) == month
    assert day_start(now, SHANGHAI).tzinfo is UTC


# -- quiet hours ------------------------------------------------------------------------------


@pytest.mark.parametrize(("now", "template_type", "resume"), [
    (cst(2026, 5, 1, 19, 59, 59), PROMOTIONAL, None),
    (cst(2026, 5, 1, 20, 0, 0), PROMOTIONAL, "2026-05-02 08:00"),
    (cst(2026, 5, 1, 23, 59, 59), PROMOTIONAL, "2026-05-02 08:00"),
    (cst(2026, 5, 2, 0, 0, 0), PROMOTIONAL, "2026-05-02 08:00"),
    (cst(2026, 5, 2, 7, 59, 59), PROMOTIONAL, "2026-05-02 08:00"),
    (cst(2026, 5, 2, 8, 0, 0), PROMOTIONAL, None),
    (cst(2026, 12, 31, 21, 0), PROMOTIONAL, "2027-01-01 08:00"),
    (utc(2026, 5, 1, 12, 0), PROMOTIONAL, "2026-05-02 08:00"),  # 20:00 in Shanghai
    (utc(2026, 5, 1, 11, 59, 59), PROMOTIONAL, None),
    # other types go out at any hour
    (cst(2026, 5, 1, 20, 0, 0), OTP, None),
    (cst(2026, 5, 1, 20, 0, 0), NOTIFICATION, None),
    (cst(2026, 5, 2, 3, 0, 0), NOTIFICATION, None),
    (cst(2026, 5, 2, 3, 0, 0), INTERNATIONAL, None),
])
def test_promotional_messages_wait_out_the_quiet_hours(now, template_type, resume):
    def call():
        check_quiet_hours(template_type, now, SHANGHAI)

    if resume is None:
        call()
    else:
        error = refusal(call)
        assert error.code == "isv.BUSINESS_LIMIT_CONTROL"
        assert error.message == ("Promotional messages are not sent from 20:00 to 08:00 "
                                 f"(Asia/Shanghai); send again from {resume}.")


@pytest.mark.parametrize(("now", "resume"), [
    (cst(2026, 5, 1, 21, 59), None),
    (cst(2026, 5, 1, 22, 0), "2026-05-02 08:30"),
    (cst(2026, 5, 2, 8, 29), "2026-05-02 08:30"),
    (cst(2026, 5, 2, 8, 30), None),
])
def test_the_quiet_hours_are_configurable(now, resume):
    window = (time(22), time(8, 30))

    def call():
        check_quiet_hours(PROMOTIONAL, now, SHANGHAI, window)

    if resume is None:
        call()
    else:
        assert refusal(call).message.endswith(f"22:00 to 08:30 (Asia/Shanghai); "
                                              f"send again from {resume}.")


def test_a_quiet_window_within_one_day_ends_the_same_day():
    error = refusal(lambda: check_quiet_hours(PROMOTIONAL, cst(2026, 5, 1, 12, 30), SHANGHAI,
                                              (time(12), time(14))))
    assert error.message.endswith("send again from 2026-05-01 14:00.")
