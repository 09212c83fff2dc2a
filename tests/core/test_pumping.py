"""SMS pumping: bursts to one number range or country, one caller IP fanning out, numbers
that never come back — and the protection that refuses OTP at acceptance until lifted."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pigeon.core import alert_rules as rules
from pigeon.core import pumping
from pigeon.core.errors import PigeonError
from pigeon.core.pumping import ActiveProtection, OtpTraffic, Recipient

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)

# Surviving mutants, explained (scripts/mutation core pumping):
# - count_unverified: `at <= first[phone]` replaces a number's first send by another of the
#   same time: the two times are equal, so every comparison made with either is the same.
# - pumping_findings: splitting a conversions group at its last colon (`rpartition`): groups
#   come from group_of() and hold exactly one colon.
# - blocked_by: a range protection without a scope matching numbers that start with
#   "XX\0XX" instead of "\0": a recipient's wire number is digits, so it starts with neither
#   and such a protection blocks nothing either way.


# -- SMS pumping ------------------------------------------------------------------------------

PUMPING = rules.parse_params("otp_pumping", {"range_numbers": "20", "country_numbers": "10",
                                             "ip_numbers": "100", "unverified_numbers": "30",
                                             "unverified_ratio": "0.8"})


def test_a_burst_to_one_number_range_is_found():
    found = pumping.pumping_findings(OtpTraffic(ranges={"1380013": 20, "1390000": 19}),
                                   PUMPING, NOW)
    assert [f.subject for f in found] == ["range:1380013"]
    assert found[0].figures["numbers"] == 20
    assert found[0].protect is None  # protection off by default


def test_with_protection_on_a_range_burst_blocks_the_range_for_protect_for():
    params = PUMPING | {"protect": True, "protect_for": 3600}
    [found] = pumping.pumping_findings(OtpTraffic(ranges={"1380013": 25}), params, NOW)
    assert found.protect == rules.ProtectionPlan("range", "1380013", None,
                                                 NOW + timedelta(hours=1))


def test_a_burst_to_a_foreign_country_is_found_but_the_mainland_is_a_country_of_ranges():
    found = pumping.pumping_findings(OtpTraffic(countries={44: 10, 86: 5000, 7: 9}),
                                   PUMPING | {"protect": True}, NOW)
    assert [f.subject for f in found] == ["country:44"]
    assert found[0].protect.kind == "country" and found[0].protect.scope == "44"


def test_one_caller_ip_fanning_out_throttles_otp():
    [found] = pumping.pumping_findings(OtpTraffic(ips={"203.0.113.9": 100, "10.0.0.1": 99}),
                                     PUMPING | {"protect": True, "throttle": 5}, NOW)
    assert found.subject == "ip:203.0.113.9"
    assert found.protect.kind == "throttle" and found.protect.limit == 5


@pytest.mark.parametrize("followed, fires", [
    ((40, 32), True),  # 32 ≥ 30 and 80 %
    ((40, 31), False),  # 77.5 % < 80 %
    ((30, 29), False),  # 29 < 30 numbers
    ((0, 0), False)])
def test_many_numbers_that_never_come_back(followed, fires):
    found = pumping.pumping_findings(OtpTraffic(followed=followed), PUMPING, NOW)
    assert bool(found) is fires
    if found:
        assert found[0].subject == "unverified"


def test_a_number_comes_back_when_any_other_message_reaches_it_within_the_follow_up():
    t = NOW
    sends = [("13800130001", t), ("13800130002", t), ("13800130003", t),
             ("13800130003", t + MINUTE)]  # a retry is a second message: it came back
    later = {"13800130001": [t, t + 10 * MINUTE],  # a notification 10 minutes later
             "13800130002": [t, t + 31 * MINUTE],  # too late
             "13800130003": [t, t + MINUTE]}
    assert pumping.count_unverified(sends, later, timedelta(minutes=30)) == (3, 1)


# -- protection at acceptance -----------------------------------------------------------------


def mainland(number):
    return Recipient(number, 86, True)


RANGE = ActiveProtection(3, "range", "1380013", None)


def test_a_blocked_range_refuses_otp_to_it_with_the_documented_code():
    with pytest.raises(PigeonError) as caught:
        pumping.check_otp([RANGE], [mainland("13900139000"), mainland("13800131234")])
    assert caught.value.code == "isv.BUSINESS_LIMIT_CONTROL"
    assert "range 1380013" in caught.value.message and "protection 3" in caught.value.message


def test_numbers_outside_the_blocked_range_pass():
    pumping.check_otp([RANGE], [mainland("13800141234"), mainland("13900139000"),
                              Recipient("4413800131234", 44, False)])


def test_a_blocked_country_refuses_numbers_of_that_country_only():
    country = ActiveProtection(4, "country", "44", None)
    with pytest.raises(PigeonError):
        pumping.check_otp([country], [Recipient("447700900123", 44, False)])
    pumping.check_otp([country], [Recipient("85291234567", 852, False), mainland("13800138000")])


@pytest.mark.parametrize("sent, adding, refused", [(9, 1, False), (10, 1, True), (8, 3, True)])
def test_a_throttle_counts_the_accounts_otp_of_the_last_minute(sent, adding, refused):
    throttle = ActiveProtection(5, "throttle", None, 10)
    numbers = [mainland(f"1380013{i:04d}") for i in range(adding)]
    if refused:
        with pytest.raises(PigeonError) as caught:
            pumping.check_otp([throttle], numbers, sent_last_minute=sent)
        assert "Permits:10" in caught.value.message
    else:
        pumping.check_otp([throttle], numbers, sent_last_minute=sent)


def test_the_caller_ip_and_unverified_patterns_are_off_until_given_a_threshold():
    defaults = rules.parse_params("otp_pumping", {})
    assert defaults["ip_numbers"] is None and defaults["unverified_numbers"] is None
    traffic = OtpTraffic(ips={"192.0.2.1": 10**6}, followed=(10**6, 10**6))
    assert pumping.pumping_findings(traffic, defaults, NOW) == []
    assert rules.show_params("otp_pumping", defaults)["ip_numbers"] == "off"


# -- numbers that never verify, from reported conversions ---------------------------------------


def test_unconverted_numbers_are_counted_per_range_and_country():
    sends = [("13800130001", 86), ("13800130001", 86), ("13800130002", 86),
             ("13900139000", 86), ("447700900001", 44), ("447700900002", 44)]
    counted = pumping.count_unconverted(sends, {"13800130002", "447700900001"}, prefix=7)
    assert counted == {"range:1380013": (2, 1), "range:1390013": (1, 1),
                       "country:44": (2, 1)}


def test_with_conversions_a_range_that_never_verifies_is_blocked():
    params = PUMPING | {"protect": True, "unverified_numbers": 20, "unverified_ratio": 0.9}
    traffic = OtpTraffic(conversions=True, followed=(500, 500), unconverted={
        "range:1380013": (30, 28), "range:1390013": (40, 3), "country:44": (19, 19)})
    [found] = pumping.pumping_findings(traffic, params, NOW)
    assert found.subject == "unverified:range:1380013"
    assert found.figures["source"] == "conversions" and found.figures["unverified"] == 28
    assert found.protect.kind == "range" and found.protect.scope == "1380013"
    assert "by the conversions the account reports" in found.text


def test_without_conversions_the_follow_up_approximation_applies_account_wide():
    params = PUMPING | {"unverified_numbers": 20, "unverified_ratio": 0.9}
    [found] = pumping.pumping_findings(OtpTraffic(followed=(30, 28)), params, NOW)
    assert found.subject == "unverified" and found.figures["source"] == "follow_up"
    assert pumping.pumping_findings(OtpTraffic(conversions=True, followed=(30, 28)),
                                    params, NOW) == []


# -- every finding, whole: subject, title, text, figures and protection --------------------------

OUT = PUMPING | {"protect": True, "throttle": 5, "window": 600, "follow_up": 1800}
TOMORROW = NOW + timedelta(days=1)  # protect_for's default: a day


def finding(subject, title, text, figures, protect):
    return rules.Finding("otp_pumping", subject, title, text, figures, protect)


@pytest.mark.parametrize("traffic, expected", [
    (OtpTraffic(ranges={"1380013": 20}), finding(
        "range:1380013", "OTP burst to one number range",
        "20 distinct numbers in range 1380013 got OTP messages in the last 10m (threshold 20).",
        {"pattern": "range", "range": "1380013", "numbers": 20, "threshold": 20,
         "window": "10m"},
        rules.ProtectionPlan("range", "1380013", None, TOMORROW))),
    (OtpTraffic(countries={44: 12}), finding(
        "country:44", "OTP burst to one country",
        "12 distinct numbers in country +44 got OTP messages in the last 10m (threshold 10).",
        {"pattern": "country", "country_code": 44, "numbers": 12, "threshold": 10,
         "window": "10m"},
        rules.ProtectionPlan("country", "44", None, TOMORROW))),
    (OtpTraffic(ips={"203.0.113.9": 100}), finding(
        "ip:203.0.113.9", "OTP fan-out from one caller IP",
        "Calls from 203.0.113.9 sent OTP messages to 100 distinct numbers in the last 10m "
        "(threshold 100).",
        {"pattern": "ip", "ip": "203.0.113.9", "numbers": 100, "threshold": 100,
         "window": "10m"},
        rules.ProtectionPlan("throttle", None, 5, TOMORROW))),
    (OtpTraffic(followed=(37, 33)), finding(
        "unverified", "OTP numbers that never come back",
        "33 of 37 numbers that got an OTP had no other message within 30m (89%).",
        {"pattern": "unverified", "source": "follow_up", "numbers": 37, "unverified": 33,
         "threshold": 30, "ratio": 0.892},
        rules.ProtectionPlan("throttle", None, 5, TOMORROW))),
    (OtpTraffic(conversions=True, unconverted={"range:1380013": (37, 33)}), finding(
        "unverified:range:1380013", "OTP numbers that never verify",
        "33 of 37 numbers in range 1380013 that got an OTP completed no verification within "
        "30m, by the conversions the account reports (89%).",
        {"pattern": "unverified", "source": "conversions", "range": "1380013", "numbers": 37,
         "unverified": 33, "threshold": 30, "ratio": 0.892, "follow_up": "30m"},
        rules.ProtectionPlan("range", "1380013", None, TOMORROW))),
    # exactly the threshold of numbers is enough
    (OtpTraffic(conversions=True, unconverted={"country:44": (36, 30)}), finding(
        "unverified:country:44", "OTP numbers that never verify",
        "30 of 36 numbers in country +44 that got an OTP completed no verification within "
        "30m, by the conversions the account reports (83%).",
        {"pattern": "unverified", "source": "conversions", "country": "44", "numbers": 36,
         "unverified": 30, "threshold": 30, "ratio": 0.833, "follow_up": "30m"},
        rules.ProtectionPlan("country", "44", None, TOMORROW))),
])
def test_each_pattern_states_what_it_saw_and_the_protection_it_asks_for(traffic, expected):
    assert pumping.pumping_findings(traffic, OUT, NOW) == [expected]


def test_a_protection_for_never_lasts_until_lifted():
    params = OUT | {"protect_for": rules.parse_params("otp_pumping",
                                                      {"protect_for": "never"})["protect_for"]}
    [found] = pumping.pumping_findings(OtpTraffic(ranges={"1380013": 20}), params, NOW)
    assert found.protect == rules.ProtectionPlan("range", "1380013", None, None)


@pytest.mark.parametrize("followed", [(30, 30), (30, 29)])
def test_exactly_the_threshold_of_numbers_that_never_come_back_is_enough(followed):
    found = pumping.pumping_findings(OtpTraffic(followed=followed), PUMPING, NOW)
    assert bool(found) is (followed[1] >= 30)


def test_a_message_exactly_at_the_end_of_the_follow_up_still_counts_as_coming_back():
    t = NOW
    sends = [("13800130001", t), ("13800130002", t), ("13800130003", t), ("13800130004", t)]
    later = {"13800130001": [t, t + 30 * MINUTE],  # exactly at the end: came back
             "13800130002": [t, t + 30 * MINUTE + timedelta(microseconds=1)]}
    # 13800130003 and 13800130004 had no message at all after their OTP
    assert pumping.count_unverified(sends, later, timedelta(minutes=30)) == (4, 3)


# -- the exact refusals -------------------------------------------------------------------------


@pytest.mark.parametrize("protection, number, message", [
    (RANGE, mainland("13800131234"),
     "OTP messages to range 1380013 are blocked by SMS-pumping protection 3 (13800131234); "
     "the account can lift it (pigeon alerts protection lift)."),
    (ActiveProtection(4, "country", "44", None), Recipient("447700900123", 44, False),
     "OTP messages to country +44 are blocked by SMS-pumping protection 4 (447700900123); "
     "the account can lift it (pigeon alerts protection lift)."),
])
def test_a_block_names_the_range_or_country_the_protection_and_the_number(
        protection, number, message):
    with pytest.raises(PigeonError) as caught:
        pumping.check_otp([protection], [number])
    assert (caught.value.code, caught.value.message) == ("isv.BUSINESS_LIMIT_CONTROL", message)


@pytest.mark.parametrize("sent, adding, shown", [(10, 1, 10), (None, 11, 0), (0, 11, 0)])
def test_a_throttle_names_its_limit_and_what_was_sent(sent, adding, shown):
    throttle = ActiveProtection(5, "throttle", None, 10)
    numbers = [mainland(f"1380013{i:04d}") for i in range(adding)]
    with pytest.raises(PigeonError) as caught:
        pumping.check_otp([throttle], numbers, sent_last_minute=sent)
    assert (caught.value.code, caught.value.message) == (
        "isv.BUSINESS_LIMIT_CONTROL",
        f"OTP messages are throttled to 10 a minute by SMS-pumping protection 5; {shown} were "
        f"sent in the last minute (触发分钟级流控Permits:10).")


@pytest.mark.parametrize("sent", [None, 0])
def test_with_nothing_sent_yet_a_request_of_exactly_the_limit_passes(sent):
    throttle = ActiveProtection(5, "throttle", None, 10)
    numbers = [mainland(f"1380013{i:04d}") for i in range(10)]
    pumping.check_otp([throttle], numbers, sent_last_minute=sent)


@pytest.mark.parametrize("kinds, needed", [
    ([], False),
    (["range", "country"], False),
    (["range", "throttle"], True),
    (["throttle"], True),
])
def test_the_otp_count_is_needed_only_under_a_throttle(kinds, needed):
    protections = [ActiveProtection(i, kind, None, 10) for i, kind in enumerate(kinds)]
    assert pumping.needs_otp_count(protections) is needed
