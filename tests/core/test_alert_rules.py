"""Alert rules decide from figures and ``now``: thresholds, windows, quiet periods, the
baseline spike, SMS-pumping patterns and the protection they switch on."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pigeon.core import alert_rules as rules
from pigeon.core.alert_rules import Finding, Incident, PackageLeft
from pigeon.core.errors import PigeonError

NOW = datetime(2027, 3, 1, 2, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


# -- parameters -----------------------------------------------------------------------------


def test_parameters_get_their_defaults_and_are_stored_typed():
    stored = rules.parse_params("otp_pumping", {"range_numbers": "50", "protect": "on",
                                                "window": "5m", "protect_for": "never"})
    assert stored["range_numbers"] == 50 and stored["protect"] is True
    assert stored["window"] == 300 and stored["protect_for"] is None
    assert stored["prefix"] == 7 and stored["follow_up"] == 1800
    assert rules.show_params("otp_pumping", stored)["window"] == "5m"
    assert rules.show_params("otp_pumping", stored)["protect_for"] == "never"


def test_a_balance_threshold_is_in_cny_and_stored_in_milli():
    assert rules.parse_params("balance", {"below": "12.5"}) == {"below": 12500}
    assert rules.show_params("balance", {"below": 12500}) == {"below": "12.500"}


@pytest.mark.parametrize("kind, given, message", [
    ("balance", {}, "needs below="),
    ("volume", {"above": "10", "per": "week"}, "expected one of hour, day"),
    ("volume", {"above": "0"}, "expected a number from 1"),
    ("spike", {"window": "1h", "baseline": "90m"}, "at least twice its window"),
    ("otp_pumping", {"nope": "1"}, "has no parameter 'nope'"),
    ("otp_pumping", {"window": "soon"}, "expected a duration"),
    ("otp_pumping", {"protect": "maybe"}, "expected on or off"),
    ("weather", {}, "A rule kind is one of"),
])
def test_bad_parameters_are_refused_with_a_coded_error(kind, given, message):
    with pytest.raises(PigeonError) as caught:
        rules.parse_params(kind, given)
    assert caught.value.code == "isv.INVALID_PARAMETERS"
    assert message in caught.value.message


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("5m", 300), ("2h", 7200),
                                           ("1d", 86400), ("1.5m", 90), (600, 600)])
def test_durations(text, seconds):
    assert rules.parse_duration(text) == seconds


@pytest.mark.parametrize("seconds, text", [(3600, "1h"), (90, "90s"), (600, "10m"),
                                           (86400, "1d")])
def test_durations_are_shown_in_their_shortest_exact_form(seconds, text):
    assert rules.format_duration(seconds) == text


INVALID = "isv.INVALID_PARAMETERS"


@pytest.mark.parametrize("kind, given, message", [
    ("weather", {}, "A rule kind is one of balance, package, volume, spike, success_rate, "
                    "otp_pumping, got 'weather'."),
    ("volume", {"above": "10", "every": "day"},
     "A volume rule has no parameter 'every'; it takes above, per."),
    ("volume", {"per": "day"},
     "A volume rule needs above= (alert when more messages than this were accepted per `per`)."),
    ("volume", {"above": "10", "per": "week"}, "volume per='week': expected one of hour, day."),
    ("volume", {"above": "0"}, "volume above='0': expected a number from 1 to 1e+09."),
    ("volume", {"above": 2.5}, "volume above=2.5: expected a whole number."),
    ("balance", {"below": 12.5},
     "balance below=12.5: expected an amount in CNY such as 100 or 12.5."),
    ("balance", {"below": True},
     "balance below=True: expected an amount in CNY such as 100 or 12.5."),
    ("spike", {"window": "soon"},
     "spike window='soon': expected a duration such as 30s, 5m, 2h or 1d."),
    ("spike", {"window": True},
     "spike window=True: expected a duration such as 30s, 5m, 2h or 1d."),
    ("spike", {"window": "0s"}, "spike window='0s': expected a duration from 1s to 366d."),
    ("spike", {"window": "1h", "baseline": "7199s"},
     "spike baseline must be at least twice its window."),
    ("otp_pumping", {"protect": "maybe"}, "otp_pumping protect='maybe': expected on or off."),
    ("otp_pumping", {"ip_numbers": "1"},
     "otp_pumping ip_numbers='1': expected a number from 2 to 1e+07."),
])
def test_bad_parameters_are_refused_with_the_exact_message(kind, given, message):
    with pytest.raises(PigeonError) as caught:
        rules.parse_params(kind, given)
    assert (caught.value.code, caught.value.message) == (INVALID, message)


@pytest.mark.parametrize("kind, given, stored", [
    ("balance", {"below": 12500}, {"below": 12500}),  # stored already: milli-CNY
    ("spike", {"window": "1h", "baseline": "2h"},  # exactly twice its window
     {"window": 3600, "baseline": 7200, "factor": 3.0, "min": 100}),
    ("otp_pumping", {"protect_for": 3600}, {"protect_for": 3600}),
    ("otp_pumping", {"protect_for": "2h"}, {"protect_for": 7200}),
    ("otp_pumping", {"protect_for": " NEVER "}, {"protect_for": None}),
    ("otp_pumping", {"protect_for": "off"}, {"protect_for": None}),
    ("otp_pumping", {"protect_for": ""}, {"protect_for": None}),
    ("otp_pumping", {"protect_for": None}, {"protect_for": None}),
])
def test_parameters_that_are_accepted(kind, given, stored):
    assert rules.parse_params(kind, given).items() >= stored.items()


@pytest.mark.parametrize("text, on", [
    (True, True), (False, False), (1, True), (0, False),
    (" ON ", True), ("true", True), ("Yes", True), ("1", True),
    (" OFF ", False), ("false", False), ("No", False), ("0", False),
])
def test_a_switch_is_on_or_off(text, on):
    assert rules.parse_params("otp_pumping", {"protect": text})["protect"] is on


def test_parameters_are_shown_as_people_write_them():
    stored = rules.parse_params("otp_pumping", {"ip_numbers": "40", "protect": "on"})
    assert rules.show_params("otp_pumping", stored) == {
        "window": "10m", "prefix": "7", "range_numbers": "20", "country_numbers": "20",
        "ip_numbers": "40", "unverified_numbers": "off", "unverified_ratio": "0.9",
        "follow_up": "30m", "protect": "on", "throttle": "10", "protect_for": "1d"}


@pytest.mark.parametrize("text, seconds", [
    (1, 1), ("1s", 1), (" 7 ", 7), ("366d", 366 * 86400), (1.5, 1), ("0.5m", 30)])
def test_durations_from_one_second_to_366_days(text, seconds):
    assert rules.parse_duration(text) == seconds


@pytest.mark.parametrize("text, message", [
    (True, "expected a duration such as 30s, 5m, 2h or 1d"),
    ("5 minutes", "expected a duration such as 30s, 5m, 2h or 1d"),
    ("0s", "expected a duration from 1s to 366d"),
    (0.5, "expected a duration from 1s to 366d"),
    (366 * 86400 + 1, "expected a duration from 1s to 366d"),
])
def test_durations_out_of_range_are_refused(text, message):
    with pytest.raises(ValueError) as caught:
        rules.parse_duration(text)
    assert str(caught.value) == message


@pytest.mark.parametrize("seconds, text", [(59, "59s"), (60, "1m"), (7200, "2h"),
                                           (90000, "25h"), (172800, "2d")])
def test_more_durations_are_shown_in_their_shortest_exact_form(seconds, text):
    assert rules.format_duration(seconds) == text


# PARAMS is built when the module is imported, so the parsers its factories make are also
# tried here directly, each made inside the test (they are what parse_params runs).
PARSERS = {
    "whole 1 to 10": lambda: rules._number(int, 1, 10),
    "number 0.5 to 2": lambda: rules._number(float, 0.5, 2),
    "hour or day": lambda: rules._choice("hour", "day"),
    "off or 2 to 9": lambda: rules._off_or(rules._number(int, 2, 9)),
}


@pytest.mark.parametrize("parser, value, parsed", [
    ("whole 1 to 10", 1, 1),
    ("whole 1 to 10", 10, 10),
    ("whole 1 to 10", " 5 ", 5),
    ("whole 1 to 10", "\x1f5\x1f", 5),  # what str.strip() trims and int() does not
    ("whole 1 to 10", 4.0, 4),
    ("number 0.5 to 2", 0.5, 0.5),
    ("number 0.5 to 2", "2", 2.0),
    ("hour or day", " HOUR ", "hour"),
    ("off or 2 to 9", None, None),
    ("off or 2 to 9", " Off ", None),
    ("off or 2 to 9", "3", 3),
    ("off or 2 to 9", 3, 3),
])
def test_the_parameter_parsers(parser, value, parsed):
    parse = PARSERS[parser]()
    assert parse(value) == parsed
    assert type(parse(value)) is type(parsed)


@pytest.mark.parametrize("parser, value, message", [
    ("whole 1 to 10", True, "expected a number from 1 to 10"),
    ("whole 1 to 10", "five", "expected a number from 1 to 10"),
    ("whole 1 to 10", "1" + "0" * 400, "expected a number from 1 to 10"),
    ("whole 1 to 10", 0, "expected a number from 1 to 10"),
    ("whole 1 to 10", 11, "expected a number from 1 to 10"),
    ("whole 1 to 10", 2.5, "expected a whole number"),
    ("number 0.5 to 2", "nan", "expected a number from 0.5 to 2"),
    ("number 0.5 to 2", "inf", "expected a number from 0.5 to 2"),
    ("hour or day", "week", "expected one of hour, day"),
    ("off or 2 to 9", "1", "expected a number from 2 to 9"),
])
def test_the_parameter_parsers_refuse(parser, value, message):
    parse = PARSERS[parser]()
    with pytest.raises(ValueError) as caught:
        parse(value)
    assert str(caught.value) == message


def test_a_duration_parameter_is_parsed_and_shown_as_a_duration():
    assert rules._duration_param("window", 300, "the window") == rules.Param(
        "window", rules.parse_duration, 300, "the window", rules.format_duration)


# -- thresholds -----------------------------------------------------------------------------


@pytest.mark.parametrize("balance, below, fires", [
    (99_999, 100_000, True), (100_000, 100_000, False), (0, 1, True), (-45, 0, True)])
def test_balance_below_its_threshold(balance, below, fires):
    assert (rules.balance_finding(balance, below) is not None) is fires


def package(remaining, expires=NOW + timedelta(days=30), total=1000, id_=1):
    return PackageLeft(id_, "general", remaining, total, expires)


@pytest.mark.parametrize("packages, below, fires", [
    ([package(99)], 100, True),
    ([package(100)], 100, False),
    ([package(60, id_=1), package(50, id_=2)], 100, False),  # summed
    ([package(0)], 1, True),  # exhausted
    ([package(10, expires=NOW)], 100, False),  # expired: nothing left to run out of
    ([], 100, False),
])
def test_package_quota_below_its_threshold(packages, below, fires):
    found = rules.package_finding(packages, below, NOW)
    assert (found is not None) is fires
    if found:
        assert found.subject == "packages"


@pytest.mark.parametrize("count, above, fires", [(1001, 1000, True), (1000, 1000, False)])
def test_volume_above_its_threshold(count, above, fires):
    found = rules.volume_finding(count, above, "hour")
    assert (found is not None) is fires
    if found:
        assert found.subject == "volume:hour" and found.figures["messages"] == count


@pytest.mark.parametrize("current, baseline_count, fires", [
    (300, 2400, True),  # 2400 in 2 h is 100 per 5 min: 300 is 3×
    (299, 2400, False),
    (120, 0, True),  # no baseline counts as one per window; over the minimum
    (99, 0, False),  # under the minimum
    (1000, 24000, False),  # busy but steady
])
def test_a_spike_is_measured_against_the_accounts_own_baseline(current, baseline_count, fires):
    found = rules.spike_finding(current, baseline_count, window=300, baseline=7200, factor=3.0,
                                minimum=100)
    assert (found is not None) is fires


@pytest.mark.parametrize("delivered, failed, fires", [
    (79, 21, True), (80, 20, False), (10, 30, False),  # 40 final < min 50
    (0, 50, True), (0, 0, False)])
def test_success_rate_below_its_threshold_with_enough_messages(delivered, failed, fires):
    found = rules.success_finding(delivered, failed, below=80.0, minimum=50)
    assert (found is not None) is fires


def test_a_balance_finding_tells_the_balance_and_the_threshold():
    assert rules.balance_finding(99_999, 100_000) == Finding(
        "balance", "balance", "Balance low",
        "The balance is 99.999 CNY, below the threshold of 100.000 CNY.",
        {"balance": "99.999", "threshold": "100.000"})


def test_a_package_finding_lists_the_unexpired_packages():
    packages = [package(60, id_=1), PackageLeft(2, "otp", 30, 500, NOW + MINUTE),
                package(500, expires=NOW - MINUTE, id_=3)]
    assert rules.package_finding(packages, 100, NOW) == Finding(
        "package", "packages", "Resource package quota low",
        "90 messages are left in 2 resource package(s), below the threshold of 100.",
        {"remaining": 90, "threshold": 100, "packages": [
            {"id": 1, "type": "general", "remaining": 60, "total": 1000},
            {"id": 2, "type": "otp", "remaining": 30, "total": 500}]})


def test_a_volume_finding_tells_the_count_and_the_period():
    assert rules.volume_finding(1001, 1000, "day") == Finding(
        "volume", "volume:day", "Message volume high",
        "1001 messages were accepted in the last day, above the threshold of 1000.",
        {"messages": 1001, "threshold": 1000, "per": "day"})


@pytest.mark.parametrize("current, baseline_count, minimum, fires", [
    (100, 0, 100, True),  # exactly the minimum
    (3, 0, 1, True),  # an empty baseline is one message per window: 3 is 3×
    (2, 0, 1, False),
])
def test_a_spike_at_its_minimum_and_over_an_empty_baseline(current, baseline_count, minimum,
                                                          fires):
    found = rules.spike_finding(current, baseline_count, window=300, baseline=7200, factor=3.0,
                                minimum=minimum)
    assert (found is not None) is fires


@pytest.mark.parametrize("current, baseline_count, text, average", [
    (301, 2401, "301 messages in the last 5m, 3.0× the average of 100.0 over the previous 2h.",
     100.04),
    (3, 0, "3 messages in the last 5m, 3.0× the average of 0.0 over the previous 2h.", 0.0),
])
def test_a_spike_finding_tells_the_messages_against_the_average(current, baseline_count, text,
                                                                average):
    assert rules.spike_finding(current, baseline_count, window=300, baseline=7200, factor=3.0,
                               minimum=1) == Finding(
        "spike", "spike", "Sending frequency spike", text,
        {"messages": current, "baseline_average": average, "factor": 3.0, "window": "5m"})


@pytest.mark.parametrize("delivered, failed, minimum, fires", [
    (0, 1, 1, True),  # one final message is enough when the minimum is one
    (0, 0, 0, False),  # nothing final: no rate, whatever the minimum
])
def test_a_success_rate_needs_a_final_message(delivered, failed, minimum, fires):
    found = rules.success_finding(delivered, failed, below=80.0, minimum=minimum)
    assert (found is not None) is fires


def test_a_success_rate_finding_tells_the_rate_and_the_threshold():
    assert rules.success_finding(2, 1, below=72.5, minimum=1) == Finding(
        "success_rate", "success_rate", "Delivery success rate low",
        "66.7% of 3 messages were delivered (1 failed), below the threshold of 72.5%.",
        {"delivered": 2, "failed": 1, "rate": 66.67, "threshold": 72.5})


# -- incidents ----------------------------------------------------------------------------------

QUIET = timedelta(hours=1)


def finding(subject="balance"):
    return Finding("balance", subject, "Balance low", "low", {})


def test_a_new_finding_fires_an_alert():
    plan = rules.plan_incidents([finding()], {}, QUIET, NOW)
    assert [f.subject for f in plan.fire] == ["balance"] and not plan.resolve


def test_while_the_finding_holds_the_open_incident_sends_nothing_more():
    open_ = {"balance": Incident(7, NOW - timedelta(days=3), resolved=False)}
    plan = rules.plan_incidents([finding()], open_, QUIET, NOW)
    assert plan.fire == [] and plan.ongoing == [(7, finding())]


def test_a_finding_that_is_gone_resolves_its_incident():
    open_ = {"balance": Incident(7, NOW - MINUTE, resolved=False),
             "other": Incident(8, NOW - MINUTE, resolved=True)}
    plan = rules.plan_incidents([], open_, QUIET, NOW)
    assert plan.resolve == [7]


@pytest.mark.parametrize("fired_ago, fires", [(timedelta(minutes=59), False),
                                              (timedelta(minutes=60), True)])
def test_a_new_incident_inside_the_quiet_period_reopens_the_last_alert(fired_ago, fires):
    latest = {"balance": Incident(7, NOW - fired_ago, resolved=True)}
    plan = rules.plan_incidents([finding()], latest, QUIET, NOW)
    assert bool(plan.fire) is fires
    assert plan.reopen == ([] if fires else [(7, finding())])


def test_subjects_are_separate_incidents():
    latest = {"range:1380013": Incident(7, NOW - MINUTE, resolved=False)}
    plan = rules.plan_incidents([finding("range:1380013"), finding("range:1390013")], latest,
                                QUIET, NOW)
    assert [f.subject for f in plan.fire] == ["range:1390013"]
    assert [a for a, _f in plan.ongoing] == [7]


@pytest.mark.parametrize("resolved_ago, fires", [(timedelta(minutes=9), False),
                                                 (timedelta(minutes=10), True)])
def test_a_finding_before_the_incident_settled_reopens_it_whatever_the_quiet_period(
        resolved_ago, fires):
    latest = {"balance": Incident(7, NOW - timedelta(hours=5), resolved=True,
                                  resolved_at=NOW - resolved_ago)}
    plan = rules.plan_incidents([finding()], latest, timedelta(0), NOW,
                                settle=timedelta(minutes=10))
    assert bool(plan.fire) is fires
    assert plan.reopen == ([] if fires else [(7, finding())])


@pytest.mark.parametrize("kind, params, seconds", [
    ("balance", {"below": 1000}, 0),
    ("volume", {"above": 10, "per": "day"}, 0),
    ("spike", {"window": 300, "baseline": 7200}, 300),
    ("success_rate", {"window": 3600}, 3600),
    ("otp_pumping", {"window": 600, "follow_up": 1800}, 600),
])
def test_window_rules_settle_for_their_window_before_a_resolution_is_told(kind, params,
                                                                          seconds):
    assert rules.settle_seconds(kind, params) == seconds


def test_a_subject_found_twice_in_one_pass_is_one_incident():
    plan = rules.plan_incidents([finding("a"), finding("a"), finding("b")], {}, QUIET, NOW)
    assert [f.subject for f in plan.fire] == ["a", "b"]


def test_a_window_rule_without_a_window_settles_at_once():
    assert rules.settle_seconds("spike", {}) == 0


# -- platform -----------------------------------------------------------------------------------


def test_a_connector_is_reported_after_being_down_for_the_grace_period():
    rows = {"smpp-a": {"state": "down", "last_error": "connection refused"},
            "simulator": {"state": "up"}, "old": {"state": "disabled"}}
    found, since = rules.connector_findings(rows, {}, NOW, timedelta(minutes=2))
    assert found == [] and since == {"smpp-a": NOW}
    found, since = rules.connector_findings(rows, since, NOW + 2 * MINUTE, timedelta(minutes=2))
    assert [f.subject for f in found] == ["connector:smpp-a"]
    assert "connection refused" in found[0].text and since == {"smpp-a": NOW}
    found, since = rules.connector_findings({"smpp-a": {"state": "up"}}, since,
                                            NOW + 3 * MINUTE, timedelta(minutes=2))
    assert found == [] and since == {}


def test_a_connector_no_dispatcher_runs_is_down():
    assert rules.connector_trouble({"state": "not running"})
    assert rules.connector_trouble({"state": "disabled"}) is None


@pytest.mark.parametrize("count, fires", [(100, True), (99, False)])
def test_a_queue_backlog(count, fires):
    found = rules.backlog_finding(count, NOW - timedelta(minutes=25), NOW,
                                  age=timedelta(minutes=10), minimum=100)
    assert (found is not None) is fires
    if found:
        assert found.figures["oldest_seconds"] == 1500


def test_report_failures_pile_up_per_tenant():
    found = rules.report_failure_findings({1: (30, 20), 2: (49, 0)}, 50)
    assert [f.subject for f in found] == ["account:1"]


@pytest.mark.parametrize("row, why", [
    ({"state": "down", "last_error": "connection refused"}, "no bind is up (connection refused)"),
    ({"state": "down", "last_error": None}, "no bind is up"),
    ({"state": "down", "last_error": ""}, "no bind is up"),
    ({"state": "down"}, "no bind is up"),
    ({"state": "not running"}, "enabled, but no running dispatcher reports on it"),
    ({"state": "up"}, None),
])
def test_why_a_connector_is_down(row, why):
    assert rules.connector_trouble(row) == why


def test_a_connector_finding_tells_why_and_since_when():
    found, _since = rules.connector_findings(
        {"smpp-a": {"state": "down", "last_error": "connection refused"}},
        {"smpp-a": NOW - 5 * MINUTE}, NOW, timedelta(minutes=2))
    assert found == [Finding(
        "connector_down", "connector:smpp-a", "Connector down",
        "Connector smpp-a is down: no bind is up (connection refused) "
        "(since 2027-03-01T01:55:00+00:00).",
        {"connector": "smpp-a", "why": "no bind is up (connection refused)",
         "since": "2027-03-01T01:55:00+00:00"})]


@pytest.mark.parametrize("oldest_at, text, waited", [
    (NOW - timedelta(minutes=25),
     "100 messages have waited more than 10m to be sent; the oldest for 25m.", 1500),
    (NOW, "100 messages have waited more than 10m to be sent; the oldest for 1s.", 0),
    (NOW - timedelta(seconds=1),
     "100 messages have waited more than 10m to be sent; the oldest for 1s.", 1),
])
def test_a_backlog_finding_tells_how_long_the_oldest_waited(oldest_at, text, waited):
    assert rules.backlog_finding(100, oldest_at, NOW, age=timedelta(minutes=10),
                                 minimum=100) == Finding(
        "queue_backlog", "backlog", "Queue backlog growing", text,
        {"messages": 100, "oldest_seconds": waited, "threshold": 100})


def test_a_report_failure_finding_tells_the_failed_and_retried_pushes():
    assert rules.report_failure_findings({12: (30, 20)}, 50) == [Finding(
        "report_failures", "account:12", "Report pushes failing",
        "Account 12 has 30 reports whose push failed for good and 20 being retried.",
        {"account_id": "12", "failed": 30, "retrying": 20, "threshold": 50})]
