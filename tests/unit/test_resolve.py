"""The accountants' actions on plain data: each checks the state, sums exactly, posts rows
only by appending (undo compensates)."""

from __future__ import annotations

from collections import defaultdict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciliation.allocate import open_after
from reconciliation.model import AllocationRow, OpenLine, PaymentStatus, ServiceAmount
from reconciliation.resolve import (
    DuplicateOutcome,
    Original,
    Share,
    assign,
    check_approver,
    duplicate_of,
    needs_approval,
    not_utility,
    return_to_payer,
    split,
    undo,
    unmatch,
)
from reconciliation.review import (
    ActionKind,
    ReasonCode,
    ReviewError,
    ReviewItem,
    ReviewState,
    ReviewStateError,
    claim,
)

A, B, C = "12345671", "23456789", "34567890"
KNOWN = {A: "open", B: "open", C: "closed"}
IBAN = "MD24AG000225100013104168"
LINES = [
    OpenLine(1, "I1", A, "2026-10", "HEAT", "TERMO", 3000),
    OpenLine(2, "I2", A, "2026-11", "WATER", "APA", 1000),
    OpenLine(3, "I3", B, "2026-11", "WATER", "APA", 1000),
]


def item(amount: int = 5000, **kw) -> ReviewItem:
    return ReviewItem(7, amount, ReasonCode.NAME_ONLY, **kw)


def by_account(rows) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        out[r.account_no] += r.amount
    return dict(out)


def test_assign_places_everything_the_excess_as_advance():
    res = assign(item(), A, LINES, KNOWN, actor="ana")
    assert res.status is PaymentStatus.ALLOCATED and res.account_no == A
    assert res.item.state is ReviewState.RESOLVED_ASSIGNED and res.item.resolved_by == "ana"
    assert sum(r.amount for r in res.rows) == 5000
    assert [r.amount for r in res.rows if r.line_id is None] == [1000]


def test_assign_onto_chosen_invoices_only():
    res = assign(item(2000), A, LINES, KNOWN, actor="ana", invoices=["I2"])
    assert [(r.line_id, r.amount) for r in res.rows] == [(2, 1000), (None, 1000)]
    with pytest.raises(ReviewError, match="no invoice I3"):
        assign(item(), A, LINES, KNOWN, actor="ana", invoices=["I3"])


def test_assign_by_services_and_refusals():
    res = assign(item(1500), A, LINES, KNOWN, actor="ana", services=[ServiceAmount("WATER", 1500)])
    assert {r.service_code for r in res.rows} == {"WATER"}
    with pytest.raises(ReviewError, match="closed"):
        assign(item(), C, LINES, KNOWN, actor="ana")
    with pytest.raises(ReviewError, match="no account"):
        assign(item(), "99999999", LINES, KNOWN, actor="ana")
    with pytest.raises(ReviewError, match="service"):
        assign(item(100), B, LINES, KNOWN, actor="ana", services=[ServiceAmount("HEAT", 100)])


def test_split_must_add_up_exactly():
    res = split(item(), [Share(A, 3000), Share(B, 2000)], LINES, KNOWN, actor="ana")
    assert by_account(res.rows) == {A: 3000, B: 2000} and res.account_no is None
    with pytest.raises(ReviewError, match=r"add up to 49\.99"):
        split(item(), [Share(A, 3000), Share(B, 1999)], LINES, KNOWN, actor="ana")
    with pytest.raises(ReviewError, match="at least two"):
        split(item(), [Share(A, 5000)], LINES, KNOWN, actor="ana")
    with pytest.raises(ReviewError, match="positive"):
        split(item(), [Share(A, 5001), Share(B, -1)], LINES, KNOWN, actor="ana")


def test_split_across_services_of_one_account_sees_its_own_shares():
    shares = [Share(A, 1000, "WATER"), Share(A, 500, "WATER"), Share(A, 500)]
    res = split(item(2000), shares, LINES, KNOWN, actor="ana")
    water = [r for r in res.rows if r.line_id == 2]
    assert sum(r.amount for r in water) == 1000  # the line is never overpaid
    assert res.account_no == A and sum(r.amount for r in res.rows) == 2000


def test_return_needs_a_valid_iban_name_and_reason():
    res = return_to_payer(item(), actor="ana", iban="md24 ag00 0225 1000 1310 4168", name="Ion",
                          reason="no account")  # fmt: skip
    assert res.status is PaymentStatus.RETURNED and res.refund is not None
    assert (res.refund.iban, res.refund.amount) == (IBAN, 5000) and not res.rows
    with pytest.raises(ReviewError, match="IBAN"):
        return_to_payer(item(), actor="ana", iban="MD24AG000225100013104169", name="I", reason="x")
    with pytest.raises(ReviewError, match="reason"):
        return_to_payer(item(), actor="ana", iban=IBAN, name="Ion", reason=" ")


def test_not_utility_rejects_without_money():
    res = not_utility(item(), actor="ana", reason="salary transfer")
    assert (res.status, res.reason, res.rows) == (PaymentStatus.REJECTED, "NOT_UTILITY", ())


def test_duplicate_goes_to_credit_or_back_to_the_payer():
    orig = Original(3, A, "allocated")
    credit = duplicate_of(item(), orig, DuplicateOutcome.CREDIT, KNOWN, actor="ana")
    assert [(r.account_no, r.line_id, r.amount) for r in credit.rows] == [(A, None, 5000)]
    assert credit.detail["of_payment_id"] == 3
    back = duplicate_of(
        item(), orig, DuplicateOutcome.RETURN, KNOWN, actor="ana", iban=IBAN, name="Ion"
    )
    assert back.status is PaymentStatus.RETURNED and back.refund.reason == "duplicate payment"
    with pytest.raises(ReviewError, match="itself"):
        duplicate_of(item(), Original(7, A, "allocated"), DuplicateOutcome.CREDIT, KNOWN, actor="a")
    with pytest.raises(ReviewError, match="no single account"):
        duplicate_of(item(), Original(3, None, "allocated"), DuplicateOutcome.CREDIT, KNOWN,
                     actor="a")  # fmt: skip


RESOLUTIONS = [
    lambda it: assign(it, A, LINES, KNOWN, actor="ion"),
    lambda it: split(it, [Share(A, 1), Share(B, 4999)], LINES, KNOWN, actor="ion"),
    lambda it: return_to_payer(it, actor="ion", iban=IBAN, name="I", reason="r"),
    lambda it: not_utility(it, actor="ion", reason="r"),
    lambda it: duplicate_of(
        it, Original(3, A, "allocated"), DuplicateOutcome.CREDIT, KNOWN, actor="ion"
    ),
]


@pytest.mark.parametrize("action", RESOLUTIONS)
def test_a_resolved_item_refuses_every_resolution(action):
    done = not_utility(item(), actor="ana", reason="x").item
    with pytest.raises(ReviewStateError, match=r"already marked_not_utility.*ana"):
        action(done)


@pytest.mark.parametrize("action", RESOLUTIONS)
def test_someone_elses_claim_blocks_every_resolution(action):
    with pytest.raises(ReviewStateError, match="ana is working on it"):
        action(claim(item(), "ana"))


def test_undo_compensates_every_posted_row_and_reopens():
    res = assign(item(), A, LINES, KNOWN, actor="ana")
    posted = list(enumerate(res.rows, start=100))
    back = undo(res.item, posted, actor="sup", reason="wrong flat")
    assert back.item.state is ReviewState.OPEN and back.status is PaymentStatus.REVIEW
    assert [aid for aid, _ in back.compensations] == [100, 101, 102]
    assert sum(r.amount for r in res.rows) + sum(r.amount for _, r in back.compensations) == 0
    with pytest.raises(ReviewStateError, match="nothing to undo"):
        undo(back.item, [], actor="sup", reason="again")


def test_undo_of_a_return_cancels_the_refund_unless_it_is_paid_out():
    done = return_to_payer(item(), actor="ana", iban=IBAN, name="I", reason="r").item
    assert undo(done, [], actor="sup", reason="found the account").cancel_refund
    with pytest.raises(ReviewStateError, match="payment order"):
        undo(done, [], actor="sup", reason="x", refund_ordered=True)


def test_unmatch_takes_an_automatic_allocation_back_into_the_queue():
    rows = [AllocationRow(A, 1, "I1", "HEAT", "TERMO", 3000), AllocationRow(A, None, None, None,
            None, 200)]  # fmt: skip
    res = unmatch(
        9, 3200, "allocated", list(zip([5, 6], rows, strict=True)), actor="ana", reason="wrong"
    )
    assert res.item.reason is ReasonCode.UNMATCHED and res.item.state is ReviewState.OPEN
    assert [c.account_no for c in res.item.candidates] == [A]
    assert [(aid, r.amount) for aid, r in res.compensations] == [(5, -3000), (6, -200)]
    with pytest.raises(ReviewStateError):
        unmatch(9, 3200, "review", [], actor="ana", reason="wrong")


def test_four_eyes_rules():
    assert needs_approval(ActionKind.UNDO, 1) and needs_approval(ActionKind.UNMATCH, 1)
    assert not needs_approval(ActionKind.ASSIGN, 1_000_000)
    assert needs_approval(ActionKind.ASSIGN, 1_000_001)
    assert not needs_approval(ActionKind.COMMENT, 10**9)
    with pytest.raises(ReviewError, match="their own"):
        check_approver("ana", "ana")
    check_approver("ana", "sup")


amounts = st.integers(min_value=1, max_value=10**9)
open_amounts = st.lists(st.integers(min_value=-500, max_value=10**7), min_size=0, max_size=6)


def _lines(opens: list[int]) -> list[OpenLine]:
    return [
        OpenLine(i, f"I{i % 3}", A, f"2026-{10 + i % 2}", "HEAT" if i % 2 else "WATER", "P", o)
        for i, o in enumerate(opens, start=1)
    ]


@given(amount=amounts, opens=open_amounts)
def test_assign_sums_to_the_payment_and_never_overpays_a_line(amount, opens):
    lines = _lines(opens)
    res = assign(item(amount), A, lines, KNOWN, actor="ana")
    assert sum(r.amount for r in res.rows) == amount
    assert all(ln.open_amount >= min(0, before.open_amount)
               for ln, before in zip(open_after(lines, res.rows), lines, strict=True))  # fmt: skip


@given(
    cuts=st.lists(st.integers(min_value=1, max_value=10**7), min_size=2, max_size=5),
    opens=open_amounts,
    data=st.data(),
)
def test_split_then_undo_nets_every_line_and_account_to_zero(cuts, opens, data):
    accounts = [data.draw(st.sampled_from([A, B])) for _ in cuts]
    shares = [Share(acc, amt) for acc, amt in zip(accounts, cuts, strict=True)]
    lines = [*_lines(opens), OpenLine(50, "IB", B, "2026-11", "WATER", "APA", 777)]
    res = split(item(sum(cuts)), shares, lines, KNOWN, actor="ana")
    assert sum(r.amount for r in res.rows) == sum(cuts)
    expected: dict[str, int] = defaultdict(int)
    for s in shares:
        expected[s.account_no] += s.amount
    assert by_account(res.rows) == dict(expected)
    back = undo(res.item, list(enumerate(res.rows)), actor="sup", reason="x")
    net: dict[tuple, int] = defaultdict(int)
    for r in [*res.rows, *(row for _, row in back.compensations)]:
        net[(r.account_no, r.line_id)] += r.amount
    assert set(net.values()) <= {0}
