"""The seed's "Important timelines" for a tenant: statuses and business-day dates."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from pigeon.core.schedule import Calendar
from pigeon.core.timeline import (
    ATTENTION,
    DONE,
    IN_PROGRESS,
    NOT_STARTED,
    Progress,
    Stage,
    timeline,
)

CALENDAR = Calendar(zone=ZoneInfo("Asia/Shanghai"))
MONDAY = date(2025, 3, 3)  # an ordinary week: no holiday, no adjusted working day


def steps(progress: Progress, today: date = MONDAY) -> dict:
    return {step.key: step for step in timeline(progress, today, CALENDAR)}


def test_a_new_tenant_sees_every_step_projected_from_today():
    shown = steps(Progress())
    assert [s.status for s in shown.values()] == [NOT_STARTED] * 7
    assert shown["qualification"].expected_to == date(2025, 3, 5)  # 2 business days
    assert (shown["total"].expected_from, shown["total"].expected_to) == \
        (date(2025, 3, 17), date(2025, 3, 24))  # 10 and 15 business days


def test_registration_counts_business_days_from_the_signature_approval():
    approved = Stage("approved", MONDAY, MONDAY)
    shown = steps(Progress(qualification=approved, signature=approved,
                           template=Stage("reviewing", MONDAY), registration="registering"))
    assert shown["signature"].status == DONE and shown["signature"].done_on == MONDAY
    assert shown["template"].status == IN_PROGRESS
    registration = shown["registration"]
    assert registration.status == IN_PROGRESS
    assert (registration.expected_from, registration.expected_to) == \
        (date(2025, 3, 12), date(2025, 3, 17))  # 7 and 10 business days, weekends skipped
    assert shown["earliest"].status == IN_PROGRESS


def test_business_days_skip_the_national_day_holiday():
    # Submitted on 30 September 2025: 1–8 October are holidays, 11 October a working Saturday.
    shown = steps(Progress(qualification=Stage("reviewing", date(2025, 9, 30))),
                  today=date(2025, 9, 30))
    assert shown["qualification"].expected_to == date(2025, 10, 10)


@pytest.mark.parametrize("registration, status", [("registered", DONE), ("failed", ATTENTION)])
def test_stable_sending_follows_carrier_registration(registration, status):
    approved = Stage("approved", MONDAY, MONDAY)
    shown = steps(Progress(qualification=approved, signature=approved, template=approved,
                           registration=registration,
                           registered=date(2025, 3, 12) if registration == "registered"
                           else None))
    assert shown["earliest"].status == DONE
    assert shown["earliest"].done_on == MONDAY  # ready since the last approval, not "usually"
    assert shown["stable"].status == status
    assert shown["total"].status == (DONE if status == DONE else IN_PROGRESS)


def test_a_rejection_needs_the_tenants_attention():
    shown = steps(Progress(qualification=Stage("rejected", MONDAY)))
    assert shown["qualification"].status == ATTENTION
