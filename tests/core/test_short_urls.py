"""Short URLs: what AddShortUrl accepts, how codes are read back, the smart log's bounds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from pigeon.core import short_urls as rules
from pigeon.core.errors import PigeonError

SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.mark.parametrize("url, valid", [
    ("https://www.lark.example/promo?id=1", True), ("http://1.2.3.4:8080/a", True),
    ("ftp://lark.example/a", False), ("www.lark.example", False), ("https://", False),
    ("https://lark.example/a b", False), ("https://lark.example/" + "a" * 979, True),
    ("https://lark.example/" + "a" * 980, False),
])
def test_a_source_is_an_http_address_of_at_most_1000_characters(url, valid):
    if valid:
        assert rules.validate_source(url) == url
    else:
        with pytest.raises(PigeonError):
            rules.validate_source(url)


@pytest.mark.parametrize("days, valid", [("1", True), ("90", True), (" 30 ", True), ("0", False),
                                         ("91", False), ("30d", False), ("", False)])
def test_effective_days_are_one_to_ninety(days, valid):
    if valid:
        assert rules.effective_days(days) == int(days)
    else:
        with pytest.raises(PigeonError):
            rules.effective_days(days)


def test_the_daily_limit():
    rules.check_daily(2999)
    with pytest.raises(PigeonError) as raised:
        rules.check_daily(3000)
    assert raised.value.code == "isv.BUSINESS_LIMIT_CONTROL"


@pytest.mark.parametrize("text, code", [
    ("https://s.lark.example/s/Ab3dEf7h", "Ab3dEf7h"), ("Ab3dEf7h", "Ab3dEf7h"),
    ("s.lark.example/s/Ab3dEf7h", "Ab3dEf7h"), ("http://h/s/Ab3dEf7h?x=1", "Ab3dEf7h"),
    ("https://s.lark.example/s/Ab3dEf7", None), ("https://s.lark.example/s/Ab3dEf7l", None),
    (None, None),
])
def test_a_short_url_names_its_code(text, code):
    assert rules.code_of(text) == code


def test_a_link_is_the_base_then_the_code():
    assert rules.link("https://s.lark.example/", "Ab3dEf7h") == "https://s.lark.example/s/Ab3dEf7h"


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
    with pytest.raises(PigeonError):
        rules.log_bound(20261301, end=False, zone=SHANGHAI)
    with pytest.raises(PigeonError):
        rules.log_bound(10**18, end=False, zone=SHANGHAI)


def test_a_visitor_is_a_digest_of_address_and_browser():
    assert rules.visitor("1.2.3.4", "a") == rules.visitor("1.2.3.4", "a")
    assert rules.visitor("1.2.3.4", "a") != rules.visitor("1.2.3.4", "b")
    assert "1.2.3.4" not in rules.visitor("1.2.3.4", "a")
