"""The pure rules of applying a batch, on plain lists: no database."""

from __future__ import annotations

from collections import Counter
from datetime import date

from reconciliation.match import CityIndex, DuplicateFlag, match_batch
from reconciliation.model import (
    AccountInfo,
    AllocationRow,
    Candidate,
    Decision,
    OpenLine,
    PaymentRecord,
)
from reconciliation.plan import (
    Planned,
    allocation_kind,
    candidates_json,
    channel_of,
    day_of,
    mentions,
    place,
    plan_decisions,
    plan_lump_sum,
    reached,
    registry_batches,
    repeat_identity,
    reversal_identity,
    seen_batch,
    split_lump_sums,
)
from reconciliation.references import make_account_no, make_rf
from reconciliation.settlement import Collector

A = make_account_no(1234567)
B = make_account_no(2345678)
INV_A = "AB12345678901"
DAY = date(2026, 11, 20)
FALLBACK = date(2026, 11, 30)
POST = Collector("POST", "Posta Moldovei", ibans=("MD24AG000225100013104168",))


def rec(external_id="x", amount=10_000, source_format="camt053", **kw) -> PaymentRecord:
    return PaymentRecord(source_format=source_format, external_id=external_id, amount=amount, **kw)


def city() -> CityIndex:
    accounts = [AccountInfo(A, "POPESCU ION", "str. Decebal 1"), AccountInfo(B, "RUSU ANA", "")]
    lines = [
        OpenLine(1, INV_A, A, "2026-10", "APA", "APACANAL", 6_000),
        OpenLine(2, INV_A, A, "2026-11", "APA", "APACANAL", 6_000),
        OpenLine(3, "CD12345678901", B, "2026-11", "TERM", "TERMO", 5_000),
    ]
    return CityIndex.build(accounts, lines)


def test_a_reversal_gets_its_own_identity_once() -> None:
    r = rec("REF1", reversal=True)
    assert reversal_identity(r).external_id == "rvsl:REF1"
    assert reversal_identity(reversal_identity(r)).external_id == "rvsl:REF1"
    assert reversal_identity(rec("REF1")).external_id == "REF1"


def test_a_repeated_reference_is_numbered_from_the_second_on() -> None:
    seen: dict[str, int] = {}
    ids = [repeat_identity(rec(i), seen).external_id for i in ("R", "S", "R", "R")]
    assert ids == ["R", "S", "R~2", "R~3"]


def test_statement_credits_from_a_collector_are_lump_sums() -> None:
    lump = rec("L", debtor_iban="MD24AG000225100013104168")
    resident = rec("P", debtor_iban="MD11AG000000000000000001")
    registry = rec("G", source_format="post_registry", debtor_iban=POST.ibans[0])
    lumps, rest = split_lump_sums([lump, resident, registry], [POST])
    assert [(r.external_id, r.collector) for r in lumps] == [("L", "POST")]
    assert [r.external_id for r in rest] == ["P", "G"]
    assert split_lump_sums([lump], []) == ([], [lump])


def test_a_lump_sum_waits_in_review_for_its_registry() -> None:
    plan = plan_lump_sum(rec("L", booking_date=DAY), FALLBACK)
    assert (plan.status, plan.channel, plan.business_day, plan.reason) == (
        "review",
        "settlement",
        DAY,
        "SETTLEMENT_PENDING",
    )


def test_channel_and_day_of_a_record() -> None:
    assert channel_of(rec(source_format="camt054")) == "bank_itemised"
    assert channel_of(rec(source_format="unknown")) == "transfer"
    assert day_of(rec(value_date=DAY), FALLBACK) == DAY
    assert day_of(rec(), FALLBACK) == FALLBACK


def test_mentions_finds_numbers_invoices_and_references_in_text() -> None:
    rf = make_rf(INV_A)
    m = mentions(
        [
            rec(account_no=f"{A[:7]}-{A[7]}"),
            rec(remittance=f"plata {B[:7]} si factura {INV_A.lower()} {rf}"),
        ]
    )
    assert m.accounts == {A, B}  # 7 digits get their check digit
    assert m.invoices == {INV_A}
    assert m.refs == {rf}


def test_registry_batches_group_by_reference_else_collector_day() -> None:
    other = date(2026, 11, 21)
    rows = [("POST", "B1", DAY, 100), ("POST", "B1", other, 50), ("TERM", None, other, 7)]
    batches = {(b.collector, b.batch_ref): b for b in registry_batches(rows)}
    post = batches["POST", "B1"]
    assert (post.day, post.total, post.count) == (DAY, 150, 2)
    assert batches["TERM", "TERM:2026-11-21"].total == 7


def test_two_payments_to_one_account_see_each_other() -> None:
    index = city()
    records = [rec("1", 6_000, account_no=A), rec("2", 6_000, account_no=A)]
    decisions = match_batch(records, index)
    plans = plan_decisions(records, decisions, index, flags={}, source="s", fallback=DAY)
    assert [p.status for p in plans] == ["allocated", "allocated"]
    assert [[r.line_id for r in p.rows] for p in plans] == [[1], [2]]  # oldest period first
    assert all(p.account_no == A for p in plans)


def test_a_flagged_duplicate_goes_to_review_with_its_evidence() -> None:
    index = city()
    records = [rec("1", 6_000, account_no=A)]
    decisions = match_batch(records, index)
    flags = {"s:1": DuplicateFlag("s:1", "s:0", "same amount and account")}
    (plan,) = plan_decisions(records, decisions, index, flags=flags, source="s", fallback=DAY)
    assert (plan.status, plan.reason, plan.rows) == ("review", "LIKELY_DUPLICATE", [])
    assert plan.candidates == (Candidate(A, 1.0, "same amount and account"),)


def test_rejected_and_reviewed_decisions_keep_their_reason() -> None:
    index = city()
    records = [rec("1"), rec("2")]
    decisions = [
        Decision("reject", reason="NOT_A_PAYMENT"),
        Decision("review", reason="NO_REFERENCE", candidates=(Candidate(B, 0.5, "name"),)),
    ]
    plans = plan_decisions(records, decisions, index, flags={}, source="s", fallback=DAY)
    assert [(p.status, p.reason) for p in plans] == [
        ("rejected", "NOT_A_PAYMENT"),
        ("review", "NO_REFERENCE"),
    ]
    assert candidates_json(plans[1]) == [{"account_no": B, "score": 0.5, "reason": "name"}]
    assert reached(decisions) == {B}


def test_place_moves_the_snapshot_only_for_payments_still_to_come() -> None:
    index = city()
    plan = Planned(rec("1", 5_000), "review", "transfer", DAY)
    pending = Counter({B: 1})
    place(plan, Decision("allocate", accounts={B: 5_000}), index, pending)
    assert plan.status == "allocated" and pending[B] == 0
    assert index.lines(B)[0].open_amount == 5_000  # the last payment to B: not moved on


def test_seen_batch_names_an_account_only_for_a_single_allocation() -> None:
    records = [rec("1", booking_date=DAY), rec("2"), rec("3")]
    decisions = [
        Decision("allocate", accounts={A: 1}),
        Decision("allocate", accounts={A: 1, B: 1}),
        Decision("review"),
    ]
    seen = seen_batch(records, decisions, "bank")
    assert [(s.payment_id, s.account_no, s.day) for s in seen] == [
        ("bank:1", A, DAY),
        ("bank:2", None, None),
        ("bank:3", None, None),
    ]


def test_allocation_kind() -> None:
    assert allocation_kind(AllocationRow(A, 1, INV_A, "APA", "APACANAL", 5)) == "payment"
    assert allocation_kind(AllocationRow(A, None, None, None, None, 5)) == "advance"
    assert allocation_kind(AllocationRow(A, 1, INV_A, "APA", "APACANAL", -5)) == "reversal"


def test_every_reason_the_service_writes_is_a_reason_code() -> None:
    """ReasonCode("SETTLEMENT_PENDING") raised before issue 9: a stored reason read back must
    always be a known code."""
    from reconciliation.review import ReasonCode

    for code in ("SETTLEMENT_PENDING", "SETTLEMENT", "NOT_A_PAYMENT", "REVERSAL_UNMATCHED"):
        assert ReasonCode(code).value == code
    assert plan_lump_sum(rec("L"), FALLBACK).reason is ReasonCode.SETTLEMENT_PENDING
