"""Review reason codes and the review item state machine."""

from __future__ import annotations

import pytest

from reconciliation.model import Candidate, Decision, OpenLine
from reconciliation.review import (
    ReasonCode,
    ReviewItem,
    ReviewState,
    ReviewStateError,
    assign,
    item_from_decision,
    mark_not_utility,
    mark_return,
    split_between,
)

A, B = "12345671", "23456789"
LINES = [
    OpenLine(1, "I1", A, "2026-11", "APA", "APACANAL", 3000),
    OpenLine(2, "I2", B, "2026-11", "APA", "APACANAL", 1000),
]


def item(amount=5000):
    return ReviewItem("pay-1", amount, ReasonCode.NAME_ONLY, (Candidate(A, 0.5, "name"),))


def test_every_reason_code_has_a_description():
    for code in ReasonCode:
        assert code.description and code.description.endswith(".")
        assert ReasonCode(code.value) is code


def test_item_from_review_decision():
    d = Decision("review", reason=ReasonCode.CHECK_DIGIT_FAILED, evidence="cont 1")
    it = item_from_decision("pay-9", 100, d)
    assert (it.reason, it.state, it.evidence) == (ReasonCode.CHECK_DIGIT_FAILED, "open", "cont 1")
    with pytest.raises(ValueError):
        item_from_decision("pay-9", 100, Decision("allocate", accounts={A: 100}))


def test_assign_posts_the_whole_amount_on_the_account():
    new, rows = assign(item(), A, LINES, actor="ana")
    assert new.state is ReviewState.RESOLVED_ASSIGNED and new.resolved_by == "ana"
    assert sum(r.amount for r in rows) == 5000
    assert {r.account_no for r in rows} == {A}


def test_split_between_accounts_must_add_up():
    new, rows = split_between(item(), {A: 3000, B: 2000}, LINES, actor="ana")
    assert new.state is ReviewState.RESOLVED_SPLIT
    assert sum(r.amount for r in rows if r.account_no == B) == 2000
    with pytest.raises(ValueError):
        split_between(item(), {A: 3000, B: 1000}, LINES, actor="ana")
    with pytest.raises(ValueError):
        split_between(item(), {A: 5000}, LINES, actor="ana")


def test_marks_allocate_nothing():
    assert mark_return(item(), actor="ana").state is ReviewState.MARKED_RETURN
    assert mark_not_utility(item(), actor="ana").state is ReviewState.MARKED_NOT_UTILITY


@pytest.mark.parametrize(
    "action",
    [
        lambda it: assign(it, A, LINES, actor="ion"),
        lambda it: split_between(it, {A: 1, B: 4999}, LINES, actor="ion"),
        lambda it: mark_return(it, actor="ion"),
        lambda it: mark_not_utility(it, actor="ion"),
    ],
)
def test_a_resolved_item_refuses_every_action(action):
    done = mark_return(item(), actor="ana")
    with pytest.raises(ReviewStateError, match=r"already marked_return.*ana"):
        action(done)


def test_a_resolution_needs_an_actor():
    with pytest.raises(ValueError):
        mark_return(item(), actor="")
