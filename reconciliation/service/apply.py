"""Applying a parsed file: rounds of credits, then lump sums, debits and reversals, then settle.

The one entry point for every source of payments (file ingest, bank API batches, replays);
everything it writes lands in the caller's transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from functools import cache
from itertools import islice
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from reconciliation.allocate import DEFAULT_POLICY, AllocationPolicy
from reconciliation.learning import DEFAULT_LEARN_AFTER
from reconciliation.model import CITY_TIMEZONE, PaymentRecord, PaymentStatus
from reconciliation.plan import (
    Planned,
    plan_lump_sum,
    plan_other,
    repeat_identity,
    reversal_identity,
    split_lump_sums,
)
from reconciliation.review import ReasonCode
from reconciliation.screen import Plausibility, implausible_credit, screen
from reconciliation.service.book import AccountBook
from reconciliation.service.credits import plan_credits
from reconciliation.service.learned import load_rules
from reconciliation.service.load import IN_CHUNK, load_originals
from reconciliation.service.settle import settle_pending
from reconciliation.service.write import persist
from reconciliation.settlement import Collector
from schemas.bulk import in_keys, keyset
from schemas.tables import payments


def business_today(timezone: str = CITY_TIMEZONE) -> date:
    """Today in the billing centre's time zone (``Settings.timezone``): the business day a
    correction made now belongs to."""
    return datetime.now(ZoneInfo(timezone)).date()


#: Credits matched and written per round: bounds the memory a 100,000-entry statement
#: needs (the open lines of one round's accounts), inside the one transaction.
ROUND_SIZE = 10_000


def apply_records(
    conn: Connection,
    records: Iterable[PaymentRecord],
    *,
    source: str,
    raw_file_id: int | None,
    actor: str,
    collectors: Sequence[Collector] = (),
    today: date | None = None,
    learn_after: int = DEFAULT_LEARN_AFTER,
    plausibility: Plausibility | None = None,
    policy: AllocationPolicy = DEFAULT_POLICY,
    round_size: int | None = None,
    on_round: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Persist, match and allocate a parsed file's records inside the caller's transaction.

    Set-based, in rounds of ``ROUND_SIZE`` records taken from ``records`` as they come (a
    list, or a parser still reading the file: nothing needs the whole file at once): per
    round one query for known ids, one load of the accounts' lines its credits mention,
    matching and allocation in memory, and bulk inserts. A later round sees what earlier
    rounds paid (same transaction). Lump sums, debits and reversals go last, so a reversal
    finds its original from the same file. Returns counts by outcome, ``records`` included.
    An exception from ``records`` (a bad file found late) propagates, and the caller's
    rollback leaves nothing of the file. Payments that the matcher would send to review
    are placed by a learned rule (at least ``learn_after`` consistent decisions) where one
    holds (``reconciliation.learning``). Sums without services are spread by ``policy``
    (the gateway's TOML ``[allocation]``).
    Every record is screened first
    (``reconciliation.screen``): what cannot be stored as is, or is implausible, goes to
    review with its reason instead of failing the file. ``on_round(records so far)`` is
    called after each round is written: the ingest commits there, so a long file gives
    SQLite's write lock back between rounds.
    """
    day = today or business_today()
    sane = plausibility or Plausibility()
    window, limits = sane.window(day), column_limits()
    counts: dict[str, int] = defaultdict(int)
    # after all credits: collectors' lump sums, debits, then reversals
    lump_sums: list[PaymentRecord] = []
    debits: list[PaymentRecord] = []
    reversals: list[PaymentRecord] = []
    book: AccountBook | None = None
    it = iter(records)
    seen: dict[str, int] = {}
    rules = load_rules(conn, learn_after=learn_after)  # once per ingest, for every round
    size = min(round_size or ROUND_SIZE, ROUND_SIZE)  # a caller may ask for smaller rounds
    while chunk := [repeat_identity(reversal_identity(r), seen) for r in islice(it, size)]:
        counts["records"] += len(chunk)
        # screened before the known ids are dropped: an over-long id is stored as its hash
        screened = [screen(r, limits, window) for r in chunk]
        held = {s.record.external_id: s.reason for s in screened if s.reason}
        fresh = _drop_known(conn, source, [s.record for s in screened])
        counts["skipped_known"] += len(chunk) - len(fresh)
        flagged = [
            plan_other(r, day, PaymentStatus.REVIEW, held[r.external_id])
            for r in fresh
            if r.external_id in held
        ]
        fresh = [r for r in fresh if r.external_id not in held]
        reversals += [r for r in fresh if r.reversal]
        debits += [r for r in fresh if r.direction == "debit" and not r.reversal]
        credits = [r for r in fresh if r.direction == "credit" and not r.reversal]
        lumps, credits = split_lump_sums(credits, collectors)
        lump_sums += lumps
        plans = flagged
        if credits:
            book = book or AccountBook(conn)
            plans += _hold_implausible(
                plan_credits(conn, credits, day, source, book, rules, policy), sane
            )
        if plans:
            book = book or AccountBook(conn)
            persist(
                conn,
                plans,
                source=source,
                raw_file_id=raw_file_id,
                actor=actor,
                counts=counts,
                account_ids=book.ids,
            )
        if on_round is not None:
            on_round(counts["records"])
    others = [plan_lump_sum(r, day) for r in lump_sums]
    others += [plan_other(r, day, PaymentStatus.REJECTED, ReasonCode.NOT_A_PAYMENT) for r in debits]
    persist(conn, others, source=source, raw_file_id=raw_file_id, actor=actor, counts=counts)
    planned = _plan_reversals(conn, reversals, day)
    persist(conn, planned, source=source, raw_file_id=raw_file_id, actor=actor, counts=counts)
    counts["settlement_lines"] = settle_pending(conn, collectors, today=day)
    return dict(counts)


@cache
def column_limits() -> Mapping[str, int]:
    """PaymentRecord field -> the longest text its payments column holds."""
    columns = {"account_no": "given_account_no", "invoice_no": "given_invoice_no"}
    limits = {}
    for name in ("external_id", "end_to_end_id", "account_servicer_ref", "debtor_name",
                 "debtor_iban", "account_no", "invoice_no", "payment_ref", "batch_ref",
                 "period", "collector", "currency"):  # fmt: skip
        length = getattr(payments.c[columns.get(name, name)].type, "length", None)
        if length:
            limits[name] = length
    return limits


def _hold_implausible(plans: list[Planned], sane: Plausibility) -> list[Planned]:
    """A placement that would leave implausible advance credit goes to review instead."""
    for p in plans:
        if p.status == PaymentStatus.ALLOCATED and implausible_credit(
            p.rows, sane.max_advance_bani
        ):
            p.status, p.reason, p.rows = PaymentStatus.REVIEW, ReasonCode.IMPLAUSIBLE_CREDIT, []
    return plans


def _drop_known(
    conn: Connection, source: str, records: Sequence[PaymentRecord]
) -> list[PaymentRecord]:
    """The records not yet stored under (source, external_id): re-sent files and
    overlapping statements apply only what is new."""
    q = select(payments.c.external_id).where(payments.c.source == source)
    ids = [r.external_id for r in records]
    if len(ids) <= IN_CHUNK:
        known = set(conn.execute(q.where(payments.c.external_id.in_(ids))).scalars())
    else:
        keys = keyset(conn, "external_ids", ids)
        known = set(conn.execute(q.where(in_keys(payments.c.external_id, keys))).scalars())
    return [r for r in records if r.external_id not in known]


def _plan_reversals(
    conn: Connection, records: Sequence[PaymentRecord], fallback: date
) -> list[Planned]:
    """A bank's reversal finds its original by bank reference and amount, and compensates it.

    The original is looked up among all sources (a reversal may arrive on the statement for a
    payment first seen elsewhere) by account servicer reference, then end-to-end id
    (``load_originals``). Found and placed: the reversal is ``reversed`` and points at it;
    not found: review.
    """
    plans = []
    for r, original in zip(records, load_originals(conn, records), strict=True):
        if original is None:
            plans.append(
                plan_other(r, fallback, PaymentStatus.REVIEW, ReasonCode.REVERSAL_UNMATCHED)
            )
            continue
        plan = plan_other(r, fallback, PaymentStatus.REVERSED, None)
        plan.reverses_payment_id, plan.account_no = original
        plans.append(plan)
    return plans
