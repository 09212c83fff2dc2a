"""A review's decision from the problems the rules found."""

from __future__ import annotations

from pigeon.core.review_decision import APPROVED, Decision


def test_no_problem_approves():
    assert Decision.from_problems([]) is APPROVED
    assert Decision.from_problems(["", ""]) is APPROVED


def test_problems_reject_as_one_sentence_each_named_once():
    decision = Decision.from_problems(["The signature is too short.", "", ".cn is not allowed",
                                       "The ID number 11010519491231002X."])
    assert decision == Decision(False, "The signature is too short; .cn is not allowed; "
                                       "The ID number 11010519491231002X.")
