"""Matching rules on a tiny in-memory city: what is certain, and what goes to review."""

from __future__ import annotations

from datetime import date

import pytest

from reconciliation.match import (
    MAX_CANDIDATES,
    CityIndex,
    SeenPayment,
    allocate_decision,
    flag_duplicates,
    match,
    match_batch,
)
from reconciliation.model import AccountInfo, OpenLine, PaymentRecord, ServiceAmount
from reconciliation.references import make_account_no, make_rf
from reconciliation.review import ReasonCode

A = make_account_no(1234567)
B = make_account_no(2345678)
C = make_account_no(3456789)
CLOSED = make_account_no(4567890)
PRINTED_A = f"{A[:7]}-{A[7]}"
INV_A = "2026110000001"
RF_A = make_rf(INV_A)

ACCOUNTS = [
    AccountInfo(A, "POPESCU ION", "str. Decebal 99/2 ap. 15"),
    AccountInfo(B, "IVANOV SERGHEI", "bd. Dacia 20 ap. 3"),
    AccountInfo(C, "RUSU MARIA", "str. Ismail 84 ap. 7"),
    AccountInfo(CLOSED, "CEBAN ANA", "str. Columna 5 ap. 1", status="closed"),
]
LINES = [
    OpenLine(1, INV_A, A, "2026-11", "APA", "APACANAL", 15_000),
    OpenLine(2, INV_A, A, "2026-11", "TERM", "TERMO", 30_000),
    OpenLine(3, "2026110000002", B, "2026-11", "APA", "APACANAL", 12_345),
    OpenLine(4, "2026110000003", C, "2026-11", "APA", "APACANAL", 5_000),
]
A_OPEN = 45_000
B_OPEN = 12_345


@pytest.fixture(scope="module")
def index():
    return CityIndex.build(
        ACCOUNTS, LINES, invoice_refs={RF_A: INV_A}, registry_refs={"E2E-POST-1": B}
    )


def rec(amount=10_000, **kw):
    return PaymentRecord(source_format="test", external_id="x", amount=amount, **kw)


def typo_of(acc: str) -> str:
    """Same number with the check digit changed: always fails Damm."""
    return acc[:7] + str((int(acc[7]) + 1) % 10)


@pytest.mark.parametrize(
    "text",
    [
        f"Plata pentru cont personal {PRINTED_A} noiembrie",
        f"л/с {A[:7]} {A[7]} за ноябрь",
        f"c/p {PRINTED_A.replace('1', 'l', 1)}",
        f"tel 069123456 cont {A}",
        f"Лицевой счёт {PRINTED_A} сумма 100,00 лей 12.11.2026",
    ],
)
def test_keyword_anchored_valid_open_account_is_certain(index, text):
    d = match(rec(remittance=text), index)
    assert (d.status, d.accounts) == ("allocate", {A: 10_000})


def test_given_account_is_allocated(index):
    assert match(rec(account_no=A), index).accounts == {A: 10_000}
    assert match(rec(account_no=PRINTED_A), index).accounts == {A: 10_000}


def test_given_account_with_bad_check_digit_goes_to_review_with_correction(index):
    d = match(rec(account_no=typo_of(A)), index)
    assert (d.status, d.reason) == ("review", ReasonCode.CHECK_DIGIT_FAILED)
    assert A in [c.account_no for c in d.candidates]


def test_structured_invoice_ref_and_e2e_are_certain(index):
    assert match(rec(invoice_no=INV_A), index).accounts == {A: 10_000}
    assert match(rec(payment_ref=RF_A), index).accounts == {A: 10_000}
    assert match(rec(end_to_end_id="E2E-POST-1"), index).accounts == {B: 10_000}


def test_conflicting_structured_references_go_to_review(index):
    d = match(rec(account_no=B, invoice_no=INV_A), index)
    assert d.reason == ReasonCode.CONFLICTING_REFERENCES
    assert {c.account_no for c in d.candidates} == {A, B}


def test_unknown_structured_references(index):
    assert match(rec(invoice_no="999"), index).reason == ReasonCode.UNKNOWN_INVOICE
    assert match(rec(payment_ref="RF00123"), index).reason == ReasonCode.UNKNOWN_PAYMENT_REF


def test_bare_number_alone_is_not_enough(index):
    d = match(rec(remittance=f"plata {A} noiembrie"), index)
    assert (d.status, d.reason) == ("review", ReasonCode.UNCONFIRMED_NUMBER)
    assert [c.account_no for c in d.candidates] == [A]


def test_bare_number_confirmed_by_payer_name(index):
    d = match(rec(remittance=f"plata {A}", debtor_name="Ion Popescu"), index)
    assert d.accounts == {A: 10_000}
    d = match(rec(remittance=f"Popescu Ion {A}"), index)
    assert d.accounts == {A: 10_000}


def test_bare_number_with_other_name_stays_in_review(index):
    d = match(rec(remittance=f"plata {A}", debtor_name="Rusu Maria"), index)
    assert d.reason == ReasonCode.UNCONFIRMED_NUMBER


def test_bare_printed_form_as_only_number_is_certain(index):
    assert match(rec(remittance=f"plata {PRINTED_A}"), index).accounts == {A: 10_000}
    d = match(rec(remittance=f"plata {PRINTED_A} contract 87654321"), index)
    assert d.status == "review"


def test_several_accounts_exact_sum_is_split_by_open_totals(index):
    d = match(rec(A_OPEN + B_OPEN, remittance=f"conturile {A} si {B}"), index)
    assert d.accounts == {A: A_OPEN, B: B_OPEN}
    rows = allocate_decision(rec(A_OPEN + B_OPEN), d, index)
    assert sum(r.amount for r in rows) == A_OPEN + B_OPEN
    assert all(r.line_id is not None for r in rows)


def test_several_accounts_other_sum_goes_to_review(index):
    d = match(rec(10_000, remittance=f"cont {A}, cont {B}"), index)
    assert d.reason == ReasonCode.MULTIPLE_ACCOUNTS
    assert {c.account_no for c in d.candidates} == {A, B}


def test_anchored_valid_plus_anchored_typo_is_not_certain(index):
    d = match(rec(remittance=f"cont {A} cont {typo_of(B)}"), index)
    assert d.status == "review"


def test_check_digit_failed_suggests_corrections(index):
    d = match(rec(remittance=f"cont personal {typo_of(A)}"), index)
    assert (d.status, d.reason) == ("review", ReasonCode.CHECK_DIGIT_FAILED)
    assert d.candidates[0].account_no == A
    assert "digit 8" in d.candidates[0].reason
    assert len(d.candidates) <= MAX_CANDIDATES


def test_transposition_is_suggested(index):
    swapped = A[:3] + A[4] + A[3] + A[5:]
    d = match(rec(remittance=f"cont {swapped}"), index)
    assert d.status == "review"
    assert any(c.account_no == A and "swapped" in c.reason for c in d.candidates)


def test_unique_correction_with_exact_amount_is_certain(index):
    d = match(rec(A_OPEN, remittance=f"cont {typo_of(A)}"), index)
    assert d.accounts == {A: A_OPEN}
    d = match(rec(A_OPEN, remittance=f"cont {typo_of(A)}", debtor_name="Rusu Maria"), index)
    assert d.status == "review"  # the name contradicts the correction


def test_valid_but_unknown_account(index):
    unknown = make_account_no(7654321)
    d = match(rec(remittance=f"cont {unknown}"), index)
    assert d.reason == ReasonCode.ACCOUNT_NOT_FOUND


def test_closed_account_goes_to_review(index):
    assert match(rec(remittance=f"cont {CLOSED}"), index).reason == ReasonCode.ACCOUNT_CLOSED
    assert match(rec(account_no=CLOSED), index).reason == ReasonCode.ACCOUNT_CLOSED


def test_missing_check_digit(index):
    d = match(rec(remittance=f"л/с {A[:7]}"), index)
    assert d.reason == ReasonCode.CHECK_DIGIT_MISSING
    assert [c.account_no for c in d.candidates] == [A]


def test_name_and_address_only_gives_ranked_suggestions(index):
    d = match(rec(remittance="Popescu Ion str. Decebal 99/2"), index)
    assert (d.status, d.reason) == ("review", ReasonCode.NAME_ONLY)
    assert d.candidates[0].account_no == A
    assert "resemble" in d.candidates[0].reason


def test_empty_text_has_no_reference(index):
    assert match(rec(remittance=""), index).reason == ReasonCode.NO_REFERENCE


def test_invoice_from_text_needs_exact_amount(index):
    assert match(rec(A_OPEN, remittance=f"factura nr {INV_A}"), index).accounts == {A: A_OPEN}
    d = match(rec(100, remittance=f"factura nr {INV_A}"), index)
    assert d.reason == ReasonCode.AMOUNT_MISMATCH_INVOICE
    assert [c.account_no for c in d.candidates] == [A]


def test_rf_from_text_is_certain(index):
    assert match(rec(remittance=f"plata {RF_A}"), index).accounts == {A: 10_000}


def test_named_services_must_be_billed(index):
    d = match(rec(100, account_no=A, services=(ServiceAmount("LIFT", 100),)), index)
    assert d.reason == ReasonCode.UNKNOWN_SERVICE
    d = match(rec(100, account_no=A, services=(ServiceAmount("APA", 100),)), index)
    rows = allocate_decision(
        rec(100, account_no=A, services=(ServiceAmount("APA", 100),)), d, index
    )
    assert [(r.service_code, r.amount) for r in rows] == [("APA", 100)]


def test_debits_and_reversals_are_not_matched(index):
    assert match(rec(account_no=A, direction="debit"), index).status == "reject"
    assert match(rec(account_no=A, reversal=True), index).reason == ReasonCode.REVERSAL_UNMATCHED


def test_match_batch_keeps_order(index):
    out = match_batch([rec(account_no=A), rec(remittance="")], index)
    assert [d.status for d in out] == ["allocate", "review"]


# Duplicates ---------------------------------------------------------------------------------


def seen(pid, channel, day, account=A, amount=10_000, refs=()):
    return SeenPayment(pid, channel, date(2026, 11, day), account, amount, refs)


def test_same_bank_reference_twice_is_flagged():
    flags = flag_duplicates(
        [seen("p2", "transfer", 12, refs=("REF1",))], [seen("p1", "x", 1, refs=("REF1",))]
    )
    assert flags["p2"].other_id == "p1"


def test_same_account_and_amount_from_other_channel_within_window():
    recent = [seen("api-1", "bank_api", 10)]
    assert "post-1" in flag_duplicates([seen("post-1", "post", 12)], recent)
    assert flag_duplicates([seen("post-1", "post", 20)], recent) == {}


def test_identical_payments_in_one_channel_both_count():
    batch = [seen("post-1#1", "post", 12), seen("post-1#2", "post", 12)]
    assert flag_duplicates(batch, []) == {}


def test_same_payment_id_is_not_its_own_duplicate():
    p = seen("p1", "post", 12, refs=("REF1",))
    assert flag_duplicates([p], [p]) == {}


def test_placeholder_end_to_end_ids_are_ignored():
    r1 = rec(end_to_end_id="NOTPROVIDED", booking_date=date(2026, 11, 12))
    p1 = SeenPayment.of("p1", "transfer", r1, None)
    p2 = SeenPayment.of("p2", "transfer", r1, None)
    assert p1.bank_refs == () and flag_duplicates([p2], [p1]) == {}


def test_single_digit_fixes_are_every_one_digit_change_that_passes_damm():
    """The direct computation equals trying all ten digits at every position."""
    import random

    from reconciliation.references import is_valid_account_no, single_digit_fixes

    rng = random.Random(13)
    for _ in range(3000):
        digits = "".join(rng.choice("0123456789") for _ in range(8))
        tried = [
            (i, d)
            for i in range(8)
            for d in "0123456789"
            if d != digits[i] and is_valid_account_no(digits[:i] + d + digits[i + 1 :])
        ]
        assert single_digit_fixes(digits) == tried, digits
    valid = make_account_no(1234567)
    assert single_digit_fixes(valid) == []  # a passing number has no one-digit fix
