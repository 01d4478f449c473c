"""Allocation rules on plain lists, plus property tests of the money invariants."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciliation.allocate import (
    AllocationError,
    AllocationPolicy,
    ServiceSumMismatchError,
    UnknownInvoiceError,
    UnknownServiceError,
    advance_balances,
    allocate,
    apply_advance,
    open_after,
    reverse,
)
from reconciliation.model import OpenLine, ServiceAmount

ACC = "12345671"


def line(line_id: int, period: str, service: str, provider: str, amount: int, inv: str = "I1"):
    return OpenLine(line_id, inv, ACC, period, service, provider, amount)


OCT_WATER = line(1, "2026-10", "APA", "APACANAL", 1000, "I10")
NOV_WATER = line(2, "2026-11", "APA", "APACANAL", 3000, "I11")
NOV_HEAT = line(3, "2026-11", "TERM", "TERMO", 6000, "I11")
LINES = [NOV_HEAT, NOV_WATER, OCT_WATER]


def by_line(rows):
    return {r.line_id: r.amount for r in rows}


def test_oldest_period_first_then_proportional_within_period():
    rows = allocate(ACC, 1000 + 900, LINES)
    assert by_line(rows) == {1: 1000, 2: 300, 3: 600}


def test_partial_payment_leaves_the_rest_open():
    rows = allocate(ACC, 500, LINES)
    assert by_line(rows) == {1: 500}
    after = {ln.line_id: ln.open_amount for ln in open_after(LINES, rows)}
    assert after == {1: 500, 2: 3000, 3: 6000}


def test_excess_becomes_general_advance_credit():
    rows = allocate(ACC, 12000, LINES)
    assert by_line(rows) == {1: 1000, 2: 3000, 3: 6000, None: 2000}
    assert advance_balances(rows) == {(ACC, None): 2000}


def test_priority_group_is_paid_first_across_periods():
    policy = AllocationPolicy(provider_priority=(("TERMO",),))
    rows = allocate(ACC, 7000, LINES, policy=policy)
    assert by_line(rows) == {3: 6000, 1: 1000}


def test_priority_within_period_keeps_oldest_period_first():
    policy = AllocationPolicy(provider_priority=(("TERMO",),), priority_within_period=True)
    rows = allocate(ACC, 7000, LINES, policy=policy)
    assert by_line(rows) == {1: 1000, 3: 6000}


def test_named_services_land_only_on_their_lines():
    rows = allocate(ACC, 2500, LINES, services=[ServiceAmount("APA", 2500)])
    assert by_line(rows) == {1: 1000, 2: 1500}


def test_named_service_excess_is_advance_earmarked_for_that_service():
    rows = allocate(ACC, 5000, LINES, services=[ServiceAmount("APA", 5000)])
    advance = [r for r in rows if r.line_id is None]
    assert [(r.service_code, r.provider_code, r.amount) for r in advance] == [
        ("APA", "APACANAL", 1000)
    ]
    assert advance_balances(rows) == {(ACC, "APA"): 1000}


def test_service_named_twice_is_one_amount():
    rows = allocate(ACC, 4000, LINES, services=[ServiceAmount("APA", 2000)] * 2)
    assert by_line(rows) == {1: 1000, 2: 3000}


def test_unknown_service_is_refused_with_its_code():
    with pytest.raises(UnknownServiceError) as exc:
        allocate(ACC, 100, LINES, services=[ServiceAmount("LIFT", 100)])
    assert exc.value.code == "UNKNOWN_SERVICE"
    assert exc.value.service_code == "LIFT"


def test_service_amounts_must_add_up():
    with pytest.raises(ServiceSumMismatchError):
        allocate(ACC, 100, LINES, services=[ServiceAmount("APA", 90)])


def test_invoice_restricts_placement_and_excess_is_advance():
    rows = allocate(ACC, 2000, LINES, invoice_no="I10")
    assert by_line(rows) == {1: 1000, None: 1000}
    with pytest.raises(UnknownInvoiceError):
        allocate(ACC, 100, LINES, invoice_no="NOPE")


def test_non_positive_amount_is_refused():
    with pytest.raises(AllocationError):
        allocate(ACC, 0, LINES)


def test_other_accounts_and_closed_lines_are_ignored():
    other = OpenLine(9, "X", "23456789", "2026-01", "APA", "APACANAL", 999)
    paid = line(8, "2026-01", "APA", "APACANAL", 0)
    assert by_line(allocate(ACC, 100, [other, paid, *LINES])) == {1: 100}


def test_reverse_reopens_exactly_what_was_paid():
    rows = allocate(ACC, 12000, LINES)
    undo = reverse(rows)
    assert sum(r.amount for r in undo) == -12000
    assert open_after(LINES, rows + undo) == LINES
    assert advance_balances(rows + undo) == {}
    assert all(r.amount > 0 for r in rows)  # originals untouched


def test_apply_advance_moves_credit_onto_new_lines_and_sums_to_zero():
    december = line(20, "2026-12", "APA", "APACANAL", 700, "I12")
    rows = apply_advance(ACC, 1000, [december])
    assert sum(r.amount for r in rows) == 0
    assert by_line(rows) == {20: 700, None: -700}
    history = allocate(ACC, 11000, LINES) + rows
    assert advance_balances(history) == {(ACC, None): 300}


def test_earmarked_advance_is_only_used_on_its_service():
    december = [line(20, "2026-12", "TERM", "TERMO", 700), line(21, "2026-12", "APA", "A", 50)]
    rows = apply_advance(ACC, 1000, december, service_code="APA", provider_code="A")
    assert by_line(rows) == {21: 50, None: -50}
    assert apply_advance(ACC, 0, december) == []


# Property tests -----------------------------------------------------------------------------

periods = st.sampled_from(["2026-09", "2026-10", "2026-11"])
providers = st.sampled_from(["P1", "P2", "P3"])


@st.composite
def open_lines(draw):
    n = draw(st.integers(1, 8))
    return [
        OpenLine(
            i,
            f"I{i % 3}",
            ACC,
            draw(periods),
            f"S{i % 4}",
            draw(providers),
            draw(st.integers(-500, 50_000)),
        )
        for i in range(n)
    ]


policies = st.builds(
    AllocationPolicy,
    provider_priority=st.sampled_from([(), (("P2",),), (("P3",), ("P1",))]),
    priority_within_period=st.booleans(),
)


@given(open_lines(), st.integers(1, 200_000), policies)
def test_rows_sum_to_payment_and_never_overpay_a_line(lines, amount, policy):
    rows = allocate(ACC, amount, lines, policy=policy)
    assert sum(r.amount for r in rows) == amount
    open_by_id = {ln.line_id: ln.open_amount for ln in lines}
    assert all(r.amount > 0 for r in rows)
    for r in rows:
        if r.line_id is not None:
            assert r.amount <= open_by_id[r.line_id]
    assert sum(1 for r in rows if r.line_id is None) <= 1
    after = open_after(lines, rows)
    assert all(
        ln.open_amount >= 0 for ln, old in zip(after, lines, strict=True) if old.open_amount > 0
    )


@given(open_lines(), st.integers(1, 200_000))
def test_reverse_sums_to_the_negative(lines, amount):
    rows = allocate(ACC, amount, lines)
    undo = reverse(rows)
    assert sum(r.amount for r in undo) == -amount
    assert open_after(lines, rows + undo) == lines


@given(st.lists(st.integers(1, 100_000), min_size=1, max_size=8), st.data())
def test_proportional_split_is_within_one_ban_of_the_exact_share(amounts, data):
    lines = [OpenLine(i, "I", ACC, "2026-11", f"S{i}", "P", a) for i, a in enumerate(amounts)]
    pay = data.draw(st.integers(1, sum(amounts)))
    rows = by_line(allocate(ACC, pay, lines))
    for ln in lines:
        exact = Fraction(pay * ln.open_amount, sum(amounts))
        assert abs(rows.get(ln.line_id, 0) - exact) < 1


@given(open_lines(), st.integers(1, 100_000))
def test_apply_advance_never_creates_or_loses_money(lines, credit):
    rows = apply_advance(ACC, credit, lines)
    assert sum(r.amount for r in rows) == 0
    consumed = -sum(r.amount for r in rows if r.line_id is None)
    assert 0 <= consumed <= credit
