"""What each record of a batch becomes, decided in memory: the pure rules of applying a file.

The DB-aware ``reconciliation.service`` loads a batch's world, asks the matcher for
decisions, and hands them here to become ``Planned`` payments (status, channel, business
day, allocation rows, review reason and candidates) that it then writes in bulk. Nothing
here touches a database: every rule is tested on plain lists (tests/unit/test_plan.py).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date

from reconciliation.allocate import DEFAULT_POLICY, AllocationError, AllocationPolicy, open_after
from reconciliation.match import (
    NAME_CANDIDATE,
    CityIndex,
    DuplicateFlag,
    SeenPayment,
    allocate_decision,
    match,
)
from reconciliation.model import (
    AllocationKind,
    AllocationRow,
    Candidate,
    Channel,
    Decision,
    PaymentRecord,
    PaymentStatus,
)
from reconciliation.references import damm_digit, normalize_account_no, normalize_rf
from reconciliation.review import ReasonCode
from reconciliation.settlement import Collector, RegistryBatch, identify
from reconciliation.text_refs import normalize, read_lookalikes

CHANNEL_BY_FORMAT = {
    "camt052": Channel.TRANSFER,  # an intraday report's entries, taken as money by a connector
    "camt053": Channel.TRANSFER,
    "mt940": Channel.TRANSFER,
    "camt054": Channel.BANK_ITEMISED,
    "post_registry": Channel.POST,
    "terminal": Channel.TERMINAL,
    "compensation": Channel.COMPENSATION,
}

#: Formats whose credits may be a collector's lump sum (a bank statement, not a registry).
STATEMENT_FORMATS = frozenset({"camt052", "camt053", "mt940"})

#: Days either side of a payment in which another to the same account may be its duplicate.
DUPLICATE_WINDOW_DAYS = 3


@dataclass
class Planned:
    """What one record becomes: a payment row, its allocation rows, maybe a review item."""

    record: PaymentRecord
    status: PaymentStatus
    channel: Channel
    business_day: date
    account_no: str | None = None
    reason: str | None = None
    rows: list[AllocationRow] = field(default_factory=list)
    candidates: tuple[Candidate, ...] = ()
    reverses_payment_id: int | None = None
    learned_rule: int | None = None  # the learned rule that placed it (reconciliation.learning)


def day_of(record: PaymentRecord, fallback: date) -> date:
    """The business day of a record: its booking or value date, else the batch's day."""
    return record.business_day() or fallback


def channel_of(record: PaymentRecord) -> Channel:
    return CHANNEL_BY_FORMAT.get(record.source_format, Channel.TRANSFER)


def plan_other(
    record: PaymentRecord, fallback: date, status: PaymentStatus, reason: str | None
) -> Planned:
    return Planned(record, status, channel_of(record), day_of(record, fallback), reason=reason)


def plan_lump_sum(record: PaymentRecord, fallback: date) -> Planned:
    return Planned(
        record,
        PaymentStatus.REVIEW,
        Channel.SETTLEMENT,
        day_of(record, fallback),
        reason=ReasonCode.SETTLEMENT_PENDING,
    )


def allocation_kind(row: AllocationRow) -> AllocationKind:
    if row.amount < 0:
        return AllocationKind.REVERSAL
    return AllocationKind.ADVANCE if row.line_id is None else AllocationKind.PAYMENT


def candidates_json(p: Planned) -> list[dict]:
    """A review item's candidates as stored (JSON)."""
    return [
        {"account_no": c.account_no, "score": round(c.score, 3), "reason": c.reason}
        for c in p.candidates
    ]


# --- identities ----------------------------------------------------------------------------------


def reversal_identity(record: PaymentRecord) -> PaymentRecord:
    """Banks often repeat the original's reference on its reversal; a reversal is a payment
    of its own, so its identity gets a ``rvsl:`` prefix instead of colliding with the original."""
    if record.reversal and not record.external_id.startswith("rvsl:"):
        return replace(record, external_id=f"rvsl:{record.external_id}")
    return record


def repeat_identity(record: PaymentRecord, seen: dict[str, int]) -> PaymentRecord:
    """A bank reference that appears twice in one file is two entries, not one payment: the
    second gets ``<id>~2`` (stable, so a re-sent file maps it to the same payment again),
    and the duplicate check sends it to review for sharing the bank reference."""
    n = seen.get(record.external_id, 0) + 1
    seen[record.external_id] = n
    return record if n == 1 else replace(record, external_id=f"{record.external_id}~{n}")


# --- collectors' lump sums -----------------------------------------------------------------------


def split_lump_sums(
    credits: Sequence[PaymentRecord], collectors: Sequence[Collector]
) -> tuple[list[PaymentRecord], list[PaymentRecord]]:
    """Statement credits from a collector settle a registry; the rest are residents' money."""
    lump, rest = [], []
    for r in credits:
        code = (
            identify(
                collectors,
                r.debtor_iban,
                r.debtor_name,
                (r.remittance, r.batch_ref, r.account_servicer_ref),
            )
            if r.source_format in STATEMENT_FORMATS and collectors
            else None
        )
        if code is None:
            rest.append(r)
        else:
            lump.append(replace(r, collector=code))
    return lump, rest


def registry_batches(rows: Iterable[tuple[str, str | None, date, int]]) -> list[RegistryBatch]:
    """(collector, batch_ref, day, amount) registry payments grouped into batches; a
    registry without a batch reference is its collector's day."""
    groups: dict[tuple[str, str], list[tuple[date, int]]] = defaultdict(list)
    for collector, batch_ref, day, amount in rows:
        groups[(collector, batch_ref or f"{collector}:{day.isoformat()}")].append((day, amount))
    return [
        RegistryBatch(c, b, min(d for d, _ in items), sum(a for _, a in items), len(items))
        for (c, b), items in groups.items()
    ]


# --- what a batch mentions -----------------------------------------------------------------------

_NUMBERISH = re.compile(r"\d(?:[\d \-/.]{5,14})\d")
#: a letter the matcher may read as a digit (text_refs.read_lookalikes), next to a digit
_LOOKALIKE_NEAR_DIGIT = re.compile(r"[oоliі|][0-9]|[0-9][oоliі|]", re.IGNORECASE)
_INVOICE_LIKE = re.compile(r"\b[a-z]{2}\d{11}\b", re.IGNORECASE)
_RF_LIKE = re.compile(r"\brf\s?\d{2}(?:\s?[0-9a-z]){1,21}\b", re.IGNORECASE)


@dataclass
class Mentions:
    """What a batch could point at, found cheaply, so only those rows are loaded."""

    accounts: set[str] = field(default_factory=set)
    invoices: set[str] = field(default_factory=set)
    refs: set[str] = field(default_factory=set)


def mentions(records: Sequence[PaymentRecord]) -> Mentions:
    m = Mentions()
    for r in records:
        if r.account_no:
            m.accounts.add(normalize_account_no(r.account_no) or r.account_no)
        if r.invoice_no:
            m.invoices.add(r.invoice_no.strip().upper())
        if r.payment_ref:
            m.refs.add(normalize_rf(r.payment_ref) or r.payment_ref)
        text = r.remittance
        if not text:
            continue
        runs = _NUMBERISH.findall(text)
        if _LOOKALIKE_NEAR_DIGIT.search(text):  # "l8098O2-1": as the matcher reads it
            runs += _NUMBERISH.findall(read_lookalikes(normalize(text)))
        for run in runs:
            digits = re.sub(r"\D", "", run)
            if len(digits) == 8:
                m.accounts.add(digits)
            elif len(digits) == 7:
                m.accounts.add(digits + str(damm_digit(digits)))
        m.invoices.update(x.upper() for x in _INVOICE_LIKE.findall(text))
        m.refs.update(normalize_rf(x) or "" for x in _RF_LIKE.findall(text))
    return m


def reached(decisions: Sequence[Decision]) -> set[str]:
    """Every account the matcher placed money on or suggested from what it read of it."""
    return {a for d in decisions for a in touched(d)}


def rematch(
    record: PaymentRecord, decision: Decision, index: CityIndex, missing: set[str]
) -> Decision:
    """Match again a record whose decision touched an account loaded late (``missing``)."""
    return match(record, index) if touched(decision) & missing else decision


def touched(decision: Decision) -> set[str]:
    """The accounts whose lines or holder a decision read. A name suggestion read neither
    (the name index is the whole city's), so it needs no lines and no second match."""
    named = {c.account_no for c in decision.candidates if c.reason != NAME_CANDIDATE}
    return named | set(decision.accounts)


# --- decisions to planned payments ---------------------------------------------------------------


def seen_batch(
    records: Sequence[PaymentRecord], decisions: Sequence[Decision], source: str
) -> list[SeenPayment]:
    """The batch as the duplicate check sees it (an account only where one was decided)."""
    return [
        SeenPayment.of(
            f"{source}:{r.external_id}",
            channel_of(r),
            r,
            next(iter(d.accounts)) if d.status == "allocate" and len(d.accounts) == 1 else None,
        )
        for r, d in zip(records, decisions, strict=True)
    ]


def plan_decisions(
    records: Sequence[PaymentRecord],
    decisions: Sequence[Decision],
    index: CityIndex,
    *,
    flags: Mapping[str, DuplicateFlag],
    source: str,
    fallback: date,
    policy: AllocationPolicy = DEFAULT_POLICY,
) -> list[Planned]:
    """Each record with its decision becomes a plan: a likely duplicate goes to review, an
    allocation is placed (moving ``index`` on), a rejection is rejected, the rest reviewed."""
    # How many payments of the batch still go to each account: the snapshot only needs to
    # move on (see place) for an account that another payment will see after this one.
    pending = Counter(a for d in decisions if d.status == "allocate" for a in d.accounts)
    plans = []
    for r, d in zip(records, decisions, strict=True):
        plan = Planned(r, PaymentStatus.REVIEW, channel_of(r), day_of(r, fallback))
        flag = flags.get(f"{source}:{r.external_id}") if flags else None
        if flag is not None:
            plan.reason = ReasonCode.LIKELY_DUPLICATE
            plan.candidates = tuple(Candidate(a, 1.0, flag.reason) for a in d.accounts)
        elif d.status == "allocate":
            place(plan, d, index, pending, policy)
        elif d.status == "reject":
            plan.status, plan.reason = PaymentStatus.REJECTED, d.reason
        else:
            plan.reason, plan.candidates = d.reason, d.candidates
        plans.append(plan)
    return plans


def place(
    plan: Planned,
    decision: Decision,
    index: CityIndex,
    pending: Counter[str],
    policy: AllocationPolicy = DEFAULT_POLICY,
) -> None:
    """Allocate in memory and move the snapshot on, so a second payment to the same account
    in this batch sees what the first one already paid (``pending`` counts the payments still
    to come per account; the last one has no need to move it on)."""
    try:
        rows = allocate_decision(plan.record, decision, index, policy=policy)
    except AllocationError as exc:
        plan.reason = exc.code
        plan.candidates = tuple(Candidate(a, 1.0, str(exc)) for a in decision.accounts)
        return
    finally:
        pending.subtract(decision.accounts.keys())  # keys: the dict maps to amounts
    for acc in decision.accounts:
        if pending[acc] > 0:
            index.set_lines(acc, open_after(index.lines(acc), rows))
    plan.status, plan.rows = PaymentStatus.ALLOCATED, rows
    plan.account_no = next(iter(decision.accounts)) if len(decision.accounts) == 1 else None
