"""Review reason codes and the review item state machine (claims, comments, states)."""

from __future__ import annotations

import pytest

from reconciliation.model import Candidate, Decision
from reconciliation.review import (
    ReasonCode,
    ReviewError,
    ReviewItem,
    ReviewState,
    ReviewStateError,
    claim,
    comment,
    item_from_decision,
    moved,
    release,
    require_actionable,
)

A = "12345671"


def item(**kw):
    return ReviewItem(1, 5000, ReasonCode.NAME_ONLY, (Candidate(A, 0.5, "name"),), **kw)


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


def test_claim_bumps_the_version_and_blocks_others_until_taken_over():
    mine = claim(item(), "ana")
    assert (mine.claimed_by, mine.version) == ("ana", 2)
    assert claim(mine, "ana") is mine  # claiming twice is no change
    with pytest.raises(ReviewStateError, match="claimed by ana"):
        claim(mine, "ion")
    with pytest.raises(ReviewStateError, match="ana is working on it"):
        require_actionable(mine, "ion", "assign")
    taken = claim(mine, "ion", take_over=True)
    assert (taken.claimed_by, taken.version) == ("ion", 3)


def test_only_the_holder_releases():
    mine = claim(item(), "ana")
    with pytest.raises(ReviewStateError):
        release(mine, "ion")
    assert release(mine, "ana").claimed_by is None
    assert release(item(), "ana") == item()  # nothing to release


def test_comment_in_any_state_needs_text():
    done = moved(item(), ReviewState.MARKED_RETURN, "ana")
    assert comment(done, "ion", "  called the payer ") == "called the payer"
    with pytest.raises(ReviewError):
        comment(done, "ion", "   ")


def test_a_resolution_releases_the_claim_and_records_who():
    done = moved(claim(item(), "ana"), ReviewState.RESOLVED_ASSIGNED, "ana")
    assert (done.claimed_by, done.resolved_by, done.version) == (None, "ana", 3)
    assert done.state.resolved and not ReviewState.AWAITING_APPROVAL.resolved
    with pytest.raises(ReviewStateError, match=r"already resolved_assigned \(by ana\)"):
        require_actionable(done, "ana", "assign")


def test_an_action_needs_an_actor():
    with pytest.raises(ReviewError):
        moved(item(), ReviewState.MARKED_RETURN, "")
