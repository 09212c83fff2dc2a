"""The seed's "Important timelines" for one tenant: where each step of going live stands and
when it is expected, in business days.

The durations are the seed document's ("Getting started"):

* qualification review: up to 2 business days;
* signature and template review: usually within 2 hours (Pigeon counts the day of
  submission, or the next business day);
* carrier registration: 7 to 10 business days after the signature's approval;
* earliest sending: 3 to 5 business days after qualification, signature and template are
  approved;
* stable sending in production: once carrier registration is complete, 7 to 15 business days;
* the whole integration: 10 to 15 business days from the qualification's submission.

A step not started yet is projected from today (or from the projected end of the step it
waits for), so a new tenant sees the dates it would reach by starting now.  Pure: the caller
passes what happened (:class:`Progress`, platform-local dates), today and a business-day
calendar (anything with ``add_business_days(date, n)``, such as
:class:`pigeon.core.schedule.Calendar`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Protocol

# Step states, as the console shows them.
NOT_STARTED = "not started"
IN_PROGRESS = "in progress"
DONE = "done"
ATTENTION = "needs attention"  # rejected, or registration failed: the tenant must act


class BusinessDays(Protocol):
    def add_business_days(self, d: date, n: int) -> date: ...


@dataclass(frozen=True)
class Stage:
    """One reviewed thing's progress: ``state`` is none | reviewing | approved | rejected."""

    state: str = "none"
    submitted: date | None = None
    approved: date | None = None


@dataclass(frozen=True)
class Progress:
    qualification: Stage = Stage()
    signature: Stage = Stage()
    template: Stage = Stage()
    registration: str = "none"  # none | registering | registered | failed
    registered: date | None = None  # when every carrier had registered the signature


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    status: str  # NOT_STARTED | IN_PROGRESS | DONE | ATTENTION
    expected_from: date
    expected_to: date
    done_on: date | None
    note: str


def _review_step(key: str, title: str, stage: Stage, start: date, days: tuple[int, int],
                 calendar: BusinessDays, note: str) -> Step:
    begin = stage.submitted or start
    expected = (calendar.add_business_days(begin, days[0]),
                calendar.add_business_days(begin, days[1]))
    status = {"none": NOT_STARTED, "reviewing": IN_PROGRESS, "approved": DONE,
              "rejected": ATTENTION}[stage.state]
    return Step(key, title, status, *expected, stage.approved if stage.state == "approved"
                else None, note)


def _end(step: Step) -> date:
    return step.done_on or step.expected_to


def timeline(progress: Progress, today: date, calendar: BusinessDays) -> list[Step]:
    """The steps in order, each with its status and expected dates."""
    qualification = _review_step(
        "qualification", "Qualification review", progress.qualification, today, (0, 2),
        calendar, "Approval takes up to 2 business days.")
    signature = _review_step(
        "signature", "Signature review", progress.signature, max(today, _end(qualification)),
        (0, 1), calendar, "Needs an approved qualification; usually within 2 hours "
        "(review hours 09:00–21:00).")
    template = _review_step(
        "template", "Template review", progress.template, max(today, _end(signature)), (0, 1),
        calendar, "Needs an approved signature; usually within 2 hours.")

    approved_on = signature.done_on or _end(signature)
    registration_status = {"none": NOT_STARTED, "registering": IN_PROGRESS,
                           "registered": DONE, "failed": ATTENTION}[progress.registration]
    registration = Step(
        "registration", "Carrier registration", registration_status,
        calendar.add_business_days(approved_on, 7), calendar.add_business_days(approved_on, 10),
        progress.registered if progress.registration == "registered" else None,
        "Starts when the signature is approved; 7 to 10 business days or longer. Until it "
        "completes, carriers may refuse messages with PORT_NOT_REGISTERED.")

    all_approved = max(_end(qualification), _end(signature), _end(template))
    ready = DONE if all(s.status == DONE for s in (qualification, signature, template)) \
        else NOT_STARTED if qualification.status == NOT_STARTED else IN_PROGRESS
    # Done the day the last of the three was approved: the tenant may send from then on (the
    # seed's 3 to 5 days are a projection for whoever has not got there yet).
    earliest = Step(
        "earliest", "Earliest sending", ready, calendar.add_business_days(all_approved, 3),
        calendar.add_business_days(all_approved, 5), all_approved if ready == DONE else None,
        "3 to 5 business days after qualification, signature and template approval.")
    stable = Step(
        "stable", "Stable sending in production", registration_status
        if registration_status != NOT_STARTED or ready == NOT_STARTED else IN_PROGRESS,
        calendar.add_business_days(approved_on, 7), calendar.add_business_days(approved_on, 15),
        registration.done_on, "Once carrier registration is complete (7 to 15 business days).")
    begin = progress.qualification.submitted or today
    total = Step(
        "total", "Total integration", DONE if stable.status == DONE else
        NOT_STARTED if qualification.status == NOT_STARTED else IN_PROGRESS,
        calendar.add_business_days(begin, 10), calendar.add_business_days(begin, 15),
        stable.done_on, "10 to 15 business days, carrier registration included.")
    return [qualification, signature, template, registration, earliest, stable, total]
