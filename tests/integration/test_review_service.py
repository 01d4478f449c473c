"""The review service on SQLite and PostgreSQL: actions append money, four-eyes holds,
stale and repeated submissions never act twice."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pytest
from sqlalchemy import func, insert, select

from gateway.errors import Conflict, Forbidden, UserError
from gateway.services import review
from gateway.services.review.store import correction_day
from gateway.services.review.structs import ReviewConfig
from reconciliation.model import CITY_TIMEZONE
from reconciliation.service import business_today
from schemas import tables as t
from tests.integration.citykit import ACC_CLOSED, ACC_ION, ACC_MARIA, load_tiny_city
from tests.integration.reviewkit import (
    ANA,
    IBAN,
    ION,
    SUP,
    SUP2,
    VIEWER,
    add_allocated_payment,
    add_review_payment,
)


@pytest.fixture
def city(engine):
    load_tiny_city(engine)
    return engine


def _money(engine, item_id: int) -> dict[str, int]:
    """Net bani per account for the item's payment."""
    with engine.connect() as conn:
        pid = conn.execute(
            select(t.review_items.c.payment_id).where(t.review_items.c.id == item_id)
        ).scalar_one()
        q = (
            select(t.accounts.c.account_no, func.sum(t.allocations.c.amount))
            .join(t.accounts, t.accounts.c.id == t.allocations.c.account_id)
            .where(t.allocations.c.payment_id == pid)
            .group_by(t.accounts.c.account_no)
        )
        return {a: int(s) for a, s in conn.execute(q)}


def _history(engine, item_id: int) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        q = (
            select(t.review_actions.c.action, t.review_actions.c.actor)
            .where(t.review_actions.c.review_item_id == item_id)
            .order_by(t.review_actions.c.id)
        )
        return [tuple(r) for r in conn.execute(q)]


def _status(engine, item_id: int) -> tuple[str, str]:
    with engine.connect() as conn:
        return tuple(
            conn.execute(
                select(t.review_items.c.state, t.payments.c.status)
                .join(t.payments, t.payments.c.id == t.review_items.c.payment_id)
                .where(t.review_items.c.id == item_id)
            ).one()
        )


def test_assign_places_the_payment_and_records_who(city) -> None:
    item = add_review_payment(city, 25000, candidates=(ACC_MARIA,))
    res = review.assign(city, ANA, item, ACC_MARIA, expected_version=1, note="name matches")
    assert (res.outcome, res.state, res.payment_status, res.version) == (
        "done",
        "resolved_assigned",
        "allocated",
        2,
    )
    assert _money(city, item) == {ACC_MARIA: 25000}
    assert _status(city, item) == ("resolved_assigned", "allocated")
    assert _history(city, item) == [("assign", "ana")]
    with city.connect() as conn:
        days = set(conn.execute(select(t.allocations.c.business_day)).scalars())
        kinds = set(conn.execute(select(t.allocations.c.kind)).scalars())
    assert days == {correction_day_of(city)} and kinds == {"payment"}


def correction_day_of(engine) -> date:
    with engine.connect() as conn:
        return correction_day(conn, CITY_TIMEZONE)


def test_split_and_refusals_leave_nothing_behind(city) -> None:
    item = add_review_payment(city, 30000)
    with pytest.raises(UserError, match="add up to"):
        review.split(
            city, ANA, item, [review.SharePart(ACC_ION, 100), review.SharePart(ACC_MARIA, 100)]
        )
    with pytest.raises(UserError, match="closed"):
        review.assign(city, ANA, item, ACC_CLOSED)
    assert _money(city, item) == {} and _history(city, item) == []
    shares = [review.SharePart(ACC_ION, 20000), review.SharePart(ACC_MARIA, 10000, "WATER")]
    res = review.split(city, ANA, item, shares)
    assert res.state == "resolved_split"
    assert _money(city, item) == {ACC_ION: 20000, ACC_MARIA: 10000}


def test_a_stale_version_is_a_conflict_with_the_fresh_state(city) -> None:
    item = add_review_payment(city, 1000)
    review.assign(city, ION, item, ACC_MARIA, expected_version=1)
    with pytest.raises(review.ItemConflict) as err:
        review.assign(city, ANA, item, ACC_ION, expected_version=1)
    assert err.value.item.state == "resolved_assigned" and err.value.item.resolved_by == "ion"
    assert "ion" in str(err.value)
    assert _money(city, item) == {ACC_MARIA: 1000}


def test_a_resubmitted_form_acts_once(city) -> None:
    item = add_review_payment(city, 1000)
    first = review.assign(city, ANA, item, ACC_MARIA, expected_version=1, form_token="tok-1")
    again = review.assign(city, ANA, item, ACC_MARIA, expected_version=1, form_token="tok-1")
    assert again.replayed and not first.replayed
    assert (again.state, again.version) == (first.state, first.version)
    assert _money(city, item) == {ACC_MARIA: 1000} and len(_history(city, item)) == 1


def test_two_people_at_once_exactly_one_wins(city) -> None:
    item = add_review_payment(city, 1000)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def act(actor, account) -> None:
        barrier.wait()
        try:
            review.assign(city, actor, item, account, expected_version=1)
            outcomes.append("won")
        except Conflict:
            outcomes.append("conflict")

    threads = [
        threading.Thread(target=act, args=(ANA, ACC_ION)),
        threading.Thread(target=act, args=(ION, ACC_MARIA)),
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert sorted(outcomes) == ["conflict", "won"]
    assert sum(_money(city, item).values()) == 1000 and len(_history(city, item)) == 1


def test_claims_block_others_until_taken_over(city) -> None:
    item = add_review_payment(city, 1000)
    claimed = review.claim(city, ANA, item)
    assert claimed.version == 2
    with pytest.raises(review.ItemConflict, match="ana is working on it"):
        review.assign(city, ION, item, ACC_ION)
    with pytest.raises(review.ItemConflict, match="take it over"):
        review.claim(city, ION, item)
    review.claim(city, ION, item, take_over=True)
    review.assign(city, ION, item, ACC_ION)
    assert [a for a, _ in _history(city, item)] == ["claim", "claim", "assign"]


def test_a_viewer_cannot_act(city) -> None:
    item = add_review_payment(city, 1000)
    with pytest.raises(Forbidden):
        review.assign(city, VIEWER, item, ACC_ION)
    with pytest.raises(Forbidden):
        review.comment(city, VIEWER, item, "hi")


def test_four_eyes_above_the_amount_and_nobody_approves_their_own(city) -> None:
    config = ReviewConfig(four_eyes_above=500)
    item = add_review_payment(city, 1000)
    res = review.assign(city, SUP, item, ACC_MARIA, config=config)
    assert (res.outcome, res.state) == ("awaiting_approval", "awaiting_approval")
    assert _money(city, item) == {}
    with pytest.raises(review.ItemConflict):  # nobody acts on a waiting item
        review.assign(city, ANA, item, ACC_ION, config=config)
    with pytest.raises(UserError, match="their own"):
        review.approve(city, SUP, res.approval_id, config=config)
    with pytest.raises(Forbidden):
        review.approve(city, ANA, res.approval_id, config=config)
    done = review.approve(city, SUP2, res.approval_id, config=config)
    assert (done.outcome, done.state) == ("done", "resolved_assigned")
    assert _money(city, item) == {ACC_MARIA: 1000}
    assert _history(city, item) == [("request_approval", "sup"), ("approve", "sup2"),
                                    ("assign", "sup")]  # fmt: skip
    with pytest.raises(Conflict, match="already approved"):
        review.approve(city, SUP2, res.approval_id, config=config)


def test_a_rejected_request_reopens_the_item(city) -> None:
    config = ReviewConfig(four_eyes_above=500)
    item = add_review_payment(city, 1000)
    res = review.assign(city, ANA, item, ACC_MARIA, config=config)
    out = review.reject(city, SUP, res.approval_id, note="wrong flat")
    assert out.state == "open" and _status(city, item) == ("open", "review")
    assert review.list_approvals(city) == []
    assert review.list_approvals(city, status="rejected")[0].decided_by == "sup"


def test_undo_waits_for_a_supervisor_then_compensates(city) -> None:
    item = add_review_payment(city, 25000)
    review.assign(city, ANA, item, ACC_MARIA)
    req = review.undo(city, ANA, item, reason="wrong flat")
    assert req.outcome == "awaiting_approval" and _money(city, item) == {ACC_MARIA: 25000}
    with pytest.raises(Conflict, match="already has a request"):
        review.undo(city, ION, item, reason="again")
    review.approve(city, SUP, req.approval_id)
    assert _money(city, item) == {ACC_MARIA: 0}
    assert _status(city, item) == ("open", "review")
    with city.connect() as conn:
        kinds = sorted(conn.execute(select(t.allocations.c.kind)).scalars())
        linked = conn.execute(
            select(func.count()).where(t.allocations.c.reverses_id.is_not(None))
        ).scalar_one()
    assert kinds.count("correction") == linked == kinds.count("payment")
    review.assign(city, ION, item, ACC_ION)  # back in the queue: it can be resolved again
    assert _money(city, item) == {ACC_MARIA: 0, ACC_ION: 25000}
    assert [a for a, _ in _history(city, item)] == [
        "assign", "request_approval", "approve", "undo", "assign",
    ]  # fmt: skip


def test_return_writes_a_refund_that_an_undo_cancels(city) -> None:
    item = add_review_payment(city, 1234)
    review.return_to_payer(city, ANA, item, iban=IBAN, name="Ion Rusu", reason="no account")
    assert _status(city, item) == ("marked_return", "returned")
    req = review.undo(city, ANA, item, reason="account found")
    review.approve(city, SUP, req.approval_id)
    review.return_to_payer(city, ANA, item, iban=IBAN, name="Ion Rusu", reason="really")
    with city.connect() as conn:
        rows = conn.execute(
            select(t.refunds.c.amount, t.refunds.c.cancelled_by, t.refunds.c.reason).order_by(
                t.refunds.c.id
            )
        ).all()
    assert [tuple(r) for r in rows] == [(1234, "ana", "no account"), (1234, None, "really")]


def test_not_utility_and_comment(city) -> None:
    item = add_review_payment(city, 1000)
    review.comment(city, ANA, item, "called the bank")
    res = review.not_utility(city, ANA, item, reason="salary")
    assert res.payment_status == "rejected" and res.version == 2  # a comment bumps nothing
    assert [a for a, _ in _history(city, item)] == ["comment", "not_utility"]


def test_duplicate_goes_to_credit_on_the_original_account(city) -> None:
    original = add_allocated_payment(city, [(2, 1000, None, None)], ACC_MARIA)
    item = add_review_payment(city, 1000, reason="LIKELY_DUPLICATE")
    review.mark_duplicate(city, ANA, item, of_payment_id=original, outcome="credit")
    with city.connect() as conn:
        kinds = (
            conn.execute(select(t.allocations.c.kind).where(t.allocations.c.payment_id != original))
            .scalars()
            .all()
        )
    assert _money(city, item) == {ACC_MARIA: 1000} and kinds == ["advance"]


def test_unmatch_takes_an_automatic_allocation_back_into_the_queue(city) -> None:
    pid = add_allocated_payment(city, [(1, 30000, 1, 1), (1, 500, None, None)])
    req = review.unmatch(city, ANA, pid, reason="the text named another flat")
    assert req.outcome == "awaiting_approval"
    done = review.approve(city, SUP, req.approval_id)
    assert done.state == "open" and done.payment_status == "review"
    assert _money(city, done.item_id) == {ACC_ION: 0}
    assert _history(city, done.item_id) == [("unmatch", "ana")]
    review.assign(city, ION, done.item_id, ACC_MARIA)
    assert _money(city, done.item_id) == {ACC_ION: 0, ACC_MARIA: 30500}
    with pytest.raises(UserError, match="undo that item"):
        review.unmatch(city, ANA, pid, reason="again")


def test_corrections_land_on_the_first_open_day(city) -> None:
    today = business_today()
    with city.begin() as conn:
        conn.execute(
            insert(t.business_days),
            [{"day": today, "status": "closed"}, {"day": today + timedelta(1), "status": "closed"}],
        )
    item = add_review_payment(city, 1000)
    review.assign(city, ANA, item, ACC_ION)
    with city.connect() as conn:
        days = set(conn.execute(select(t.allocations.c.business_day)).scalars())
    assert days == {today + timedelta(days=2)}


def test_a_payment_reversed_by_its_bank_is_not_resolved(city) -> None:
    item = add_review_payment(city, 1000)
    with city.begin() as conn:
        conn.execute(t.payments.update().values(status="reversed"))
    with pytest.raises(UserError, match="reversed by its bank"):
        review.assign(city, ANA, item, ACC_ION)
    assert _money(city, item) == {}
