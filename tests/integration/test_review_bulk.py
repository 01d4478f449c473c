"""Bulk: preview by a filter and a rule, four-eyes, applied in batches; what changed since the
preview is skipped, and an account is never paid beyond what the rule checked."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from gateway.errors import UserError
from gateway.services import review
from gateway.services.review import bulk
from gateway.services.review.bulk import BulkFilter, BulkRule
from schemas import tables as t
from tests.integration.citykit import ACC_ION, ACC_MARIA, load_tiny_city
from tests.integration.reviewkit import ANA, ION, SUP, add_review_payment

FIX = ("digit 3 read as 4",)


def _typo(engine, amount: int, account: str, reason: str = "CHECK_DIGIT_FAILED") -> int:
    item = add_review_payment(engine, amount, reason=reason, candidates=(account,))
    with engine.begin() as conn:  # the candidate's reason as the matcher writes it
        conn.execute(
            t.review_items.update()
            .where(t.review_items.c.id == item)
            .values(candidates=[{"account_no": account, "score": 0.75, "reason": FIX[0]}])
        )
    return item


def test_preview_then_approved_bulk_accepts_only_what_the_rule_allows(engine) -> None:
    load_tiny_city(engine)
    good = _typo(engine, 25000, ACC_MARIA)  # Maria owes exactly 250.00
    twin = _typo(engine, 25000, ACC_MARIA)  # the same again: only one can be exact
    wrong_amount = _typo(engine, 100, ACC_ION)
    name_only = add_review_payment(engine, 25000, candidates=(ACC_MARIA,))
    changed = _typo(engine, 110000, ACC_ION)  # Ion owes 1,100.00
    flt = BulkFilter()
    prev = bulk.preview(engine, ANA, flt, BulkRule.UNIQUE_CORRECTION_EXACT)
    assert prev.selected == 5 and prev.eligible == 3
    assert {p.item_id for p in prev.proposals} == {good, twin, changed}
    assert prev.skipped == {"amount differs from the open total": 1, "not a check-digit item": 1}
    assert prev.total == 25000 * 2 + 110000
    req = bulk.request(engine, ANA, flt, BulkRule.UNIQUE_CORRECTION_EXACT, note="typos")
    assert req.outcome == "awaiting_approval"
    review.claim(engine, ION, changed)  # someone starts on one after the preview
    seen: list[tuple[int, int]] = []
    done = review.approve(engine, SUP, req.approval_id, progress=lambda d, n: seen.append((d, n)))
    assert "1 items resolved, 2 skipped" in done.message and seen == [(3, 3)]
    with engine.connect() as conn:
        states = dict(conn.execute(select(t.review_items.c.id, t.review_items.c.state)).all())
        on_maria = conn.execute(
            select(func.sum(t.allocations.c.amount)).where(t.allocations.c.account_id == 2)
        ).scalar_one()
        result = conn.execute(
            select(t.approvals.c.result).where(t.approvals.c.id == req.approval_id)
        ).scalar_one()
    assert states[good] == "resolved_assigned" and states[twin] == "open"
    assert states[changed] == "open" and states[name_only] == states[wrong_amount] == "open"
    assert on_maria == 25000  # never beyond the open total the rule checked
    assert result["done"] == 1 and result["skipped"] == 2


def test_bulk_refuses_an_empty_selection_and_a_self_approval(engine) -> None:
    load_tiny_city(engine)
    with pytest.raises(UserError, match="none of the selected"):
        bulk.request(engine, ANA, BulkFilter(reason="NO_REFERENCE"), BulkRule.BEST)
    add_review_payment(engine, 100, candidates=(ACC_ION,))
    req = bulk.request(engine, SUP, BulkFilter(), BulkRule.BEST)
    with pytest.raises(UserError, match="their own"):
        review.approve(engine, SUP, req.approval_id)
