"""The SMPP connector's pacing: a connector's TPS cap is what the carrier counts — never more
than ``tps`` submit_sm within any second — and yet the full rate is used."""

from __future__ import annotations

import pytest

from pigeon.carriers.smpp import connector as module
from pigeon.carriers.smpp.connector import TokenBucket


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("rate", [1, 7, 100, 250.5])
@pytest.mark.parametrize("lateness", [0.0, 0.003, 0.2])
def test_no_second_sees_more_than_the_rate(monkeypatch, rate, lateness):
    clock = Clock()
    monkeypatch.setattr(module.time, "monotonic", clock)
    bucket = TokenBucket(rate)
    sent = []
    wakeups = 0
    while clock.now < 1010.0:
        delay = bucket.delay()
        if delay == 0:
            sent.append(clock.now)
            continue
        # A sleeper wakes late now and then (a loaded event loop): the burst after it must
        # not break the cap.
        wakeups += 1
        clock.now += max(delay, 1e-6) + (lateness if wakeups % 5 == 0 else 0.0)
    busiest = max(sum(1 for t in sent[i:] if t < start + 1.0) for i, start in enumerate(sent))
    assert busiest <= int(rate)
    if lateness < 0.01:  # late by a few milliseconds now and then: the rate is still reached
        assert len(sent) >= int(rate) * 10 * 0.95 - 1


def test_without_a_cap_nothing_waits():
    bucket = TokenBucket(None)
    assert [bucket.delay() for _ in range(1000)] == [0.0] * 1000
