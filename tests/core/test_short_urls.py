"""Short URLs: what AddShortUrl accepts, how codes are read back, the smart log's bounds."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pigeon.core import short_urls as rules
from pigeon.core.errors import PigeonError

SHANGHAI = ZoneInfo("Asia/Shanghai")

# Surviving mutants, explained (scripts/mutation core short_urls):
# - validate_source: a non-string URL read as "XXXX" instead of "": both fail the scheme check
#   with the same message, which quotes the URL as given, not the text checked.
# - effective_days: a non-string read as "XXXX" instead of "": neither is a number of days, and
#   the message quotes the value as given.
# - code_of: rsplit(PATH) without a limit, or with a limit of 2: the last piece after the last
#   "/s/" is the same whatever the number of splits.


def refusal(call, *args, **kwargs) -> tuple[str, str]:
    with pytest.raises(PigeonError) as raised:
        call(*args, **kwargs)
    return raised.value.code, raised.value.message


@pytest.mark.parametrize("url, valid", [
    ("https://www.lark.example/promo?id=1", True), ("http://1.2.3.4:8080/a", True),
    ("ftp://lark.example/a", False), ("www.lark.example", False), ("https://", False),
    ("https://lark.example/a b", False), ("https://lark.example/" + "a" * 979, True),
    ("https://lark.example/" + "a" * 980, False), (None, False), (42, False),
])
def test_a_source_is_an_http_address_of_at_most_1000_characters(url, valid):
    if valid:
        assert rules.validate_source(url) == url
    else:
        with pytest.raises(PigeonError):
            rules.validate_source(url)


def test_a_source_is_stripped():
    assert rules.validate_source("  https://lark.example/a \n") == "https://lark.example/a"


@pytest.mark.parametrize("url, field, message", [
    ("https://lark.example/" + "a" * 980, "SourceUrl",
     "SourceUrl must be at most 1000 characters, got 1001."),
    ("ftp://lark.example/a", "SourceUrl",
     "SourceUrl must be an http:// or https:// address, got 'ftp://lark.example/a'."),
    (None, "SourceUrl", "SourceUrl must be an http:// or https:// address, got None."),
    ("www.lark.example", "LongUrl",
     "LongUrl must be an http:// or https:// address, got 'www.lark.example'."),
])
def test_a_refused_source_says_why(url, field, message):
    args = (url,) if field == "SourceUrl" else (url, field)
    assert refusal(rules.validate_source, *args) == ("isv.INVALID_PARAMETERS", message)


@pytest.mark.parametrize("name, valid", [
    ("双十一活动", True), (" promo ", True), ("a" * 13, True), ("a" * 14, False), ("", False),
    ("   ", False), (None, False), (7, False),
])
def test_a_short_url_name_is_one_to_thirteen_characters(name, valid):
    if valid:
        assert rules.validate_name(name) == name.strip()
    else:
        assert refusal(rules.validate_name, name) == (
            "isv.INVALID_PARAMETERS", f"ShortUrlName must be 1 to 13 characters, got {name!r}.")


@pytest.mark.parametrize("days, valid", [("1", True), ("90", True), (" 30 ", True), ("0", False),
                                         ("91", False), ("30d", False), ("", False),
                                         (30, False)])
def test_effective_days_are_one_to_ninety(days, valid):
    if valid:
        assert rules.effective_days(days) == int(days)
    else:
        assert refusal(rules.effective_days, days) == (
            "isv.INVALID_PARAMETERS",
            f"EffectiveDays must be a whole number of days from 1 to 90, got {days!r}.")


def test_the_daily_limit():
    rules.check_daily(2999)
    with pytest.raises(PigeonError) as raised:
        rules.check_daily(3000)
    assert (raised.value.code, raised.value.message) == (
        "isv.BUSINESS_LIMIT_CONTROL",
        "At most 3000 short URLs can be created in a natural day; 3000 were created today.")
    rules.check_daily(2990, 10)
    with pytest.raises(PigeonError):
        rules.check_daily(2990, 11)


@pytest.mark.parametrize("text, code", [
    ("https://s.lark.example/s/Ab3dEf7h", "Ab3dEf7h"), ("Ab3dEf7h", "Ab3dEf7h"),
    ("s.lark.example/s/Ab3dEf7h", "Ab3dEf7h"), ("http://h/s/Ab3dEf7h?x=1", "Ab3dEf7h"),
    ("https://s.lark.example/s/Ab3dEf7", None), ("https://s.lark.example/s/Ab3dEf7l", None),
    ("https://s.lark.example/s/s/Ab3dEf7h", "Ab3dEf7h"),
    (None, None),
])
def test_a_short_url_names_its_code(text, code):
    assert rules.code_of(text) == code


def test_a_link_is_the_base_then_the_code():
    assert rules.link("https://s.lark.example/", "Ab3dEf7h") == "https://s.lark.example/s/Ab3dEf7h"
    assert rules.link("https://SMS.LARK.BOX", "Ab3dEf7h") == "https://SMS.LARK.BOX/s/Ab3dEf7h"


def test_status_turns_expired_at_the_expiry():
    end = datetime(2026, 6, 1, tzinfo=UTC)
    assert rules.status(end, end - timedelta(seconds=1)) == "effective"
    assert rules.status(end, end) == "expired"


def test_the_log_takes_days_in_platform_time_or_unix_milliseconds():
    assert rules.log_bound(20260601, end=False, zone=SHANGHAI) == \
        datetime(2026, 5, 31, 16, tzinfo=UTC)
    assert rules.log_bound(20260601, end=True, zone=SHANGHAI) == \
        datetime(2026, 6, 1, 16, tzinfo=UTC)
    assert rules.log_bound(1_780_000_000_000, end=False, zone=SHANGHAI) == \
        datetime.fromtimestamp(1_780_000_000, UTC)
    assert rules.log_bound(1_780_000_000_000, end=True, zone=SHANGHAI) == \
        datetime.fromtimestamp(1_780_000_000.001, UTC)
    assert rules.log_bound(20260601, end=True, zone=SHANGHAI).tzinfo is UTC


@pytest.mark.parametrize("value, end, message", [
    (20261301, False, "CreateDateStart 20261301 is not a date yyyyMMdd nor Unix milliseconds."),
    (20261301, True, "CreateDateEnd 20261301 is not a date yyyyMMdd nor Unix milliseconds."),
    (10**18, False, f"CreateDateStart {10**18} is out of range."),
    (10**18, True, f"CreateDateEnd {10**18} is out of range."),
])
def test_a_log_bound_out_of_range_is_refused(value, end, message):
    assert refusal(rules.log_bound, value, end=end, zone=SHANGHAI) == (
        "isv.INVALID_PARAMETERS", message)


@pytest.mark.parametrize("moment, expected", [
    (None, 0),
    (datetime(2026, 6, 1, tzinfo=UTC), 1_780_272_000_000),
    (datetime(2026, 6, 1, 0, 0, 0, 123_456, tzinfo=UTC), 1_780_272_000_123),
    (datetime(1970, 1, 1, tzinfo=UTC), 0),
])
def test_times_in_the_log_are_unix_milliseconds(moment, expected):
    assert rules.millis(moment) == expected


def test_a_visitor_is_a_digest_of_address_and_browser():
    assert rules.visitor("1.2.3.4", "a") == rules.visitor("1.2.3.4", "a")
    assert rules.visitor("1.2.3.4", "a") != rules.visitor("1.2.3.4", "b")
    assert rules.visitor("1.2.3.4", "a") != rules.visitor("5.6.7.8", "a")
    assert "1.2.3.4" not in rules.visitor("1.2.3.4", "a")


def test_a_visitor_digest_stays_the_same_across_versions():
    # Unique visitors are counted against digests already stored: the recipe may not drift.
    assert rules.visitor("1.2.3.4", "a") == hashlib.sha256(b"1.2.3.4\na").hexdigest()[:32]
    assert rules.visitor(None, None) == rules.visitor("", "") == \
        hashlib.sha256(b"\n").hexdigest()[:32]
