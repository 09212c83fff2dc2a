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


def test_an_approval_date_counts_only_for_an_approved_stage():
    shown = steps(Progress(qualification=Stage("rejected", MONDAY, MONDAY),
                           registration="failed", registered=MONDAY))
    assert shown["qualification"].done_on is None
    assert shown["registration"].done_on is None
    assert shown["stable"].done_on is None and shown["total"].done_on is None


def _row(step):
    return (step.key, step.status, step.expected_from, step.expected_to, step.done_on)


def d(day: int) -> date:
    return date(2025, 3, day)


# progress on Monday 3 March 2025 → every step: key, status, expected from, to, done on
TIMELINES = [
    # nothing submitted: each step projected from the end of the one it waits for
    (Progress(), [
        ("qualification", NOT_STARTED, d(3), d(5), None),     # 0 to 2 business days
        ("signature", NOT_STARTED, d(5), d(6), None),         # 0 to 1 after the qualification
        ("template", NOT_STARTED, d(6), d(7), None),          # 0 to 1 after the signature
        ("registration", NOT_STARTED, d(17), d(20), None),    # 7 to 10 after the signature
        ("earliest", NOT_STARTED, d(12), d(14), None),        # 3 to 5 after the last approval
        ("stable", NOT_STARTED, d(17), d(27), None),          # 7 to 15 after the signature
        ("total", NOT_STARTED, d(17), d(24), None),           # 10 to 15 from the submission
    ]),
    # the qualification under review: sending is under way, registration not yet
    (Progress(qualification=Stage("reviewing", d(3))), [
        ("qualification", IN_PROGRESS, d(3), d(5), None),
        ("signature", NOT_STARTED, d(5), d(6), None),
        ("template", NOT_STARTED, d(6), d(7), None),
        ("registration", NOT_STARTED, d(17), d(20), None),
        ("earliest", IN_PROGRESS, d(12), d(14), None),
        ("stable", IN_PROGRESS, d(17), d(27), None),
        ("total", IN_PROGRESS, d(17), d(24), None),
    ]),
    # everything approved and registered: done on the days it happened
    (Progress(qualification=Stage("approved", d(3), d(3)),
              signature=Stage("approved", d(3), d(4)),
              template=Stage("approved", d(4), d(5)),
              registration="registered", registered=d(14)), [
        ("qualification", DONE, d(3), d(5), d(3)),
        ("signature", DONE, d(3), d(4), d(4)),
        ("template", DONE, d(4), d(5), d(5)),
        ("registration", DONE, d(13), d(18), d(14)),
        ("earliest", DONE, d(10), d(12), d(5)),
        ("stable", DONE, d(13), d(25), d(14)),
        ("total", DONE, d(17), d(24), d(14)),
    ]),
]


@pytest.mark.parametrize("progress, rows", TIMELINES)
def test_every_step_has_its_status_and_business_day_dates(progress, rows):
    assert [_row(step) for step in timeline(progress, MONDAY, CALENDAR)] == rows


@pytest.mark.parametrize("qualification, signature, template", [
    (d(5), d(3), d(4)),
    (d(3), d(5), d(4)),
    (d(4), d(3), d(5)),
])
def test_sending_is_ready_on_the_last_of_the_three_approvals(qualification, signature,
                                                              template):
    shown = steps(Progress(qualification=Stage("approved", d(3), qualification),
                           signature=Stage("approved", d(3), signature),
                           template=Stage("approved", d(3), template)))
    assert _row(shown["earliest"]) == ("earliest", DONE, d(10), d(12), d(5))


def test_each_step_has_its_title_and_note():
    assert [(step.title, step.note) for step in timeline(Progress(), MONDAY, CALENDAR)] == [
        ("Qualification review", "Approval takes up to 2 business days."),
        ("Signature review", "Needs an approved qualification; usually within 2 hours "
                             "(review hours 09:00–21:00)."),
        ("Template review", "Needs an approved signature; usually within 2 hours."),
        ("Carrier registration", "Starts when the signature is approved; 7 to 10 business "
                                 "days or longer. Until it completes, carriers may refuse "
                                 "messages with PORT_NOT_REGISTERED."),
        ("Earliest sending", "3 to 5 business days after qualification, signature and "
                             "template approval."),
        ("Stable sending in production", "Once carrier registration is complete (7 to 15 "
                                         "business days)."),
        ("Total integration", "10 to 15 business days, carrier registration included."),
    ]
