"""``realistic`` review: the automatic reviewer decides after PIGEON_REVIEW_DELAY, inside review
hours, never on a Chinese public holiday — walked through with the official SDK while the
clock travels (the server runs in this process, so it travels too)."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from pigeon.app import Pigeon
from pigeon.services import review
from pigeon.workers import singleton_step
from tests.conftest import make_tenant
from tests.support import workflow
from tests.support.sdk import CoreClient
from tests.support.server import LiveServer

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


@pytest.fixture
def realistic(settings):
    pigeon = Pigeon(replace(settings, review_mode="realistic",
                            review_delay=timedelta(hours=2)))
    live = LiveServer(pigeon).start()
    yield pigeon, CoreClient(live.endpoint, make_tenant(pigeon))
    live.stop()
    pigeon.close()


def reviewer_pass(pigeon) -> int:
    """What the reviewer worker does every second: one pass at the (travelled) time."""
    import asyncio

    return asyncio.run(singleton_step(pigeon, "reviewer", review.review_due, pigeon.policy,
                                      pigeon.now()))


def state(core, group_id: str) -> str:
    return core.common("QuerySingleSmsQualification",
                       {"QualificationGroupId": group_id})["Data"]["State"]


def test_a_submission_on_the_eve_of_national_day_waits_for_the_first_review_day(realistic):
    pigeon, core = realistic
    with time_machine.travel(at("2026-09-30 20:30:00"), tick=True) as clock:
        answer = workflow.submit_qualification(core, pigeon)
        assert answer["Code"] == "OK", answer
        group_id = answer["Data"]
        assert state(core, group_id) == "INT"

        # Due at 22:30, after review hours; 1-7 October 2026 is the National Day holiday.
        for moment in ("2026-09-30 22:31:00", "2026-10-01 10:00:00", "2026-10-07 15:00:00",
                       "2026-10-08 08:59:00"):
            clock.move_to(at(moment))
            assert reviewer_pass(pigeon) == 0, moment
            assert state(core, group_id) == "INT", moment

        clock.move_to(at("2026-10-08 09:00:01"))
        assert reviewer_pass(pigeon) == 1
        assert state(core, group_id) == "PASSED"


def test_on_a_working_day_the_decision_comes_after_the_delay(realistic):
    pigeon, core = realistic
    with time_machine.travel(at("2026-11-10 10:00:00"), tick=True) as clock:
        group_id = workflow.submit_qualification(core, pigeon)["Data"]
        clock.move_to(at("2026-11-10 11:59:00"))
        assert reviewer_pass(pigeon) == 0
        assert state(core, group_id) == "INT"
        clock.move_to(at("2026-11-10 12:00:01"))
        assert reviewer_pass(pigeon) == 1
        assert state(core, group_id) == "PASSED"


def test_a_submission_late_in_the_evening_is_decided_next_morning(realistic):
    pigeon, core = realistic
    with time_machine.travel(at("2026-11-10 19:30:00"), tick=True) as clock:
        group_id = workflow.submit_qualification(core, pigeon)["Data"]
        clock.move_to(at("2026-11-10 21:30:00"))  # due, but review hours are over
        assert reviewer_pass(pigeon) == 0
        clock.move_to(at("2026-11-11 09:00:01"))
        assert reviewer_pass(pigeon) == 1
        assert state(core, group_id) == "PASSED"


def test_a_ticket_due_before_a_holiday_but_not_reviewed_in_time_waits_it_out(realistic):
    pigeon, core = realistic
    with time_machine.travel(at("2026-09-30 17:00:00"), tick=True) as clock:
        group_id = workflow.submit_qualification(core, pigeon)["Data"]
        # Due at 19:00 on the 30th, but no pass ran then (the reviewer was stopped, say): on
        # the holiday nobody reviews, whatever is due.
        clock.move_to(at("2026-10-03 11:00:00"))
        assert reviewer_pass(pigeon) == 0
        assert state(core, group_id) == "INT"
        clock.move_to(at("2026-10-08 09:00:01"))
        assert reviewer_pass(pigeon) == 1
        assert state(core, group_id) == "PASSED"
