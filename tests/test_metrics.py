"""pigeon.metrics' fast calls add exactly what prometheus_client's own inc() and observe()
would, and its values add up across processes through the multiprocess files."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from pigeon import metrics
from tests.support.scrape import parse

BUCKETS = (0.001, 0.01, 0.1, 1.0)
AMOUNTS = (0.0, 0.0005, 0.001, 0.0010001, 0.01, 0.05, 0.1, 1.0, 1.5, 99.0)


def _samples(registry) -> dict:
    from prometheus_client import generate_latest

    return parse(generate_latest(registry).decode())


def test_the_fast_observer_fills_the_buckets_as_observe_does():
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    fast = Histogram("x_seconds", "x", ["a"], buckets=BUCKETS, registry=ours)
    slow = Histogram("x_seconds", "x", ["a"], buckets=BUCKETS, registry=theirs)
    observer = metrics._Observer(fast.labels("k"))
    for amount in AMOUNTS:  # on a bound, below, above, past the last
        observer.observe(amount)
        slow.labels("k").observe(amount)
    assert _samples(ours) == _samples(theirs)


def test_a_counters_fast_value_counts_as_inc_does():
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    fast = Counter("n", "n", ["a"], registry=ours)
    slow = Counter("n", "n", ["a"], registry=theirs)
    value = metrics._counter(fast.labels("k"))
    for amount in (1, 2, 0.5):
        value.inc(amount)
        slow.labels("k").inc(amount)
    assert _samples(ours) == _samples(theirs)


def test_a_request_is_counted_by_action_and_code():
    before = parse(metrics.exposition().decode())
    metrics.api_request("SendSms", "isv.AMOUNT_NOT_ENOUGH", 0.003)
    after = parse(metrics.exposition().decode())

    def moved(name, **labels):
        key = (name, frozenset(labels.items()))
        return after.get(key, 0) - before.get(key, 0)

    assert moved("pigeon_api_requests_total", action="SendSms",
                 code="isv.AMOUNT_NOT_ENOUGH") == 1
    assert moved("pigeon_api_request_duration_seconds_bucket", action="SendSms",
                 le="0.005") == 1
    assert moved("pigeon_api_request_duration_seconds_bucket", action="SendSms",
                 le="0.0025") == 0
    assert moved("pigeon_balance_refusals_total", action="SendSms") == 1
