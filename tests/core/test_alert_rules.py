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

