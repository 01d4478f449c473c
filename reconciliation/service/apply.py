"""Applying a parsed file: rounds of credits, then lump sums, debits and reversals, then settle.

The one entry point for every source of payments (file ingest, bank API batches, replays);
what it writes lands in the caller's transaction, or in the transactions the caller's
``Transactions`` runs (``reconciliation.service.rounds``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from itertools import islice
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select, update

from reconciliation.allocate import DEFAULT_POLICY, AllocationPolicy
from reconciliation.learning import DEFAULT_LEARN_AFTER, LearnedRules
from reconciliation.model import CITY_TIMEZONE, PaymentRecord, PaymentStatus
from reconciliation.plan import (
    Planned,
    plan_lump_sum,
    plan_other,
    repeat_identity,
    reversal_identity,
    split_lump_sums,
)
from reconciliation.review import ReasonCode, ReviewState
from reconciliation.screen import Plausibility, implausible_credit, screen
from reconciliation.service.book import AccountBook
from reconciliation.service.credits import plan_credits
from reconciliation.service.footprint import Keys, plan_keys
from reconciliation.service.learned import load_rules
from reconciliation.service.load import IN_CHUNK, load_originals
from reconciliation.service.rounds import Item, Kind, Snapshot, Transactions, write_planned
from reconciliation.service.settle import settle_pending
from reconciliation.service.write import persist
from reconciliation.settlement import Collector
from schemas.bulk import in_keys, keyset
from schemas.tables import payments, review_items


def business_today(timezone: str = CITY_TIMEZONE) -> date:
    """Today in the billing centre's time zone (``Settings.timezone``): the business day a
    correction made now belongs to."""
    return datetime.now(ZoneInfo(timezone)).date()


#: Credits planned per round: bounds the memory a 100,000-entry statement needs (the open
#: lines of one round's accounts). With ``Transactions.split`` a round is written in several
#: short transactions (``reconciliation.service.rounds``).
ROUND_SIZE = 10_000
#: The same when planned outside the write lock (``Transactions.split``): its plans and open
#: lines are held until the round's last write transaction.
SPLIT_ROUND = 5_000


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
    tx: Transactions | None = None,
) -> dict[str, int]:
    """Persist, match and allocate a parsed file's records.

    Set-based, in rounds of ``ROUND_SIZE`` records taken from ``records`` as they come (a
    list, or a parser still reading the file: nothing needs the whole file at once): per
    round one query for known ids, one load of the accounts' lines its credits mention,
    matching and allocation in memory, and bulk inserts. A later round sees what earlier
    rounds paid. Lump sums, debits and reversals go last, so a reversal finds its original
    from the same file. Returns counts by outcome, ``records`` included. An exception from
    ``records`` (a bad file found late) propagates. Payments that the matcher would send to
    review are placed by a learned rule (at least ``learn_after`` consistent decisions)
    where one holds (``reconciliation.learning``). Sums without services are spread by
    ``policy`` (the gateway's TOML ``[allocation]``). Every record is screened first
    (``reconciliation.screen``): what cannot be stored as is, or is implausible, goes to
    review with its reason instead of failing the file.

    Transactions: without ``tx`` everything lands in the caller's transaction. With ``tx``
    (the ingest) each round is committed through ``tx.commit`` with the file's progress, and
    with ``tx.split`` (SQLite) planned in a read transaction and written in short write
    transactions, re-checked against what other writers committed meanwhile
    (``reconciliation.service.rounds``); the last transaction (lump sums, debits,
    reversals, settlement) is left open for the caller to finish and commit.
    """
    day = today or business_today()
    sane = plausibility or Plausibility()
    window, limits = sane.window(day), column_limits()
    counts: dict[str, int] = defaultdict(int)
    # after all credits: collectors' lump sums, debits, then reversals
    lump_sums: list[PaymentRecord] = []
    debits: list[PaymentRecord] = []
    reversals: list[PaymentRecord] = []
    split = tx if tx is not None and tx.split else None
    if split is not None:  # load_rules retires rules of closed accounts: a write
        split.write()
    rules = load_rules(conn, learn_after=learn_after)  # once per ingest, for every round
    if split is not None:
        split.commit(0)
    app = _Apply(conn, source, raw_file_id, actor, day, sane, rules, policy, counts)
    if tx is not None and raw_file_id is not None:  # rounds commit before the file is applied
        app.review_state = ReviewState.HELD
    it = iter(records)
    seen: dict[str, int] = {}
    size = min(round_size or ROUND_SIZE, ROUND_SIZE)  # a caller may ask for smaller rounds
    if split is not None:
        size = min(ROUND_SIZE, SPLIT_ROUND)  # round_size bounds the write transactions
    while chunk := [repeat_identity(reversal_identity(r), seen) for r in islice(it, size)]:
        counts["records"] += len(chunk)
        if split is not None:
            split.read()
            snap = Snapshot.take(conn)
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
        items = app.items(flagged, credits, track=split is not None)
        if split is not None:
            write_planned(conn, split, snap, items, app, done=counts["records"])
            continue
        app.persist([i.plan for i in items])
        if tx is not None:
            tx.commit(counts["records"])
    others = [plan_lump_sum(r, day) for r in lump_sums]
    others += [plan_other(r, day, PaymentStatus.REJECTED, ReasonCode.NOT_A_PAYMENT) for r in debits]
    if split is not None:  # planned outside the write lock as well, then written in short steps
        app.write_fixed(split, others, done=counts["records"])
        split.read()
        snap = Snapshot.take(conn)
        planned = _plan_reversals(conn, reversals, day)
        items = [Item(p, plan_keys(p), Kind.REVERSAL) for p in planned]
        write_planned(conn, split, snap, items, app, done=counts["records"])
        split.write(last=True)
    else:
        app.persist(others)
        app.persist(_plan_reversals(conn, reversals, day))
    if app.review_state is ReviewState.HELD:
        open_held(conn, raw_file_id)  # before the settlement, which resolves open items
    counts["settlement_lines"] = settle_pending(conn, collectors, today=day)
    return dict(counts)


def open_held(conn: Connection, raw_file_id: int | None) -> None:
    """The file's review items enter the queue: it is applied (this is its last transaction)."""
    r, p = review_items, payments
    # from the held items (the state index), each payment by its key: payments.raw_file_id
    # has no index, and this runs under the write lock
    mine = select(p.c.id).where(p.c.id == r.c.payment_id, p.c.raw_file_id == raw_file_id)
    conn.execute(
        update(r).where(r.c.state == ReviewState.HELD, mine.exists()).values(state=ReviewState.OPEN)
    )


@dataclass
class _Apply:
    """One apply's settings and state, for the rounds and for ``rounds.write_planned``."""

    conn: Connection
    source: str
    raw_file_id: int | None
    actor: str
    day: date
    sane: Plausibility
    rules: LearnedRules
    policy: AllocationPolicy
    counts: dict[str, int]
    book: AccountBook | None = None
    #: ``HELD`` when the apply commits before its end (``open_held`` opens them at the end)
    review_state: ReviewState = ReviewState.OPEN

    def items(
        self, flagged: list[Planned], credits: list[PaymentRecord], *, track: bool
    ) -> list[Item]:
        """The round's plans: the screened-out records' (planned already), then the credits';
        with ``track``, each with its keys (``footprint``) for the re-check at write time."""
        keys = plan_keys if track else _no_keys
        out = [Item(p, keys(p), Kind.FIXED) for p in flagged]
        if not credits:
            return out
        self.book = self.book or AccountBook(self.conn)
        reads: list[Keys] = []
        plans = plan_credits(self.conn, credits, self.day, self.source, self.book, self.rules,
                             self.policy, reads=reads if track else None)  # fmt: skip
        plans = _hold_implausible(plans, self.sane)
        if not track:
            return out + [Item(p, NO_KEYS) for p in plans]
        return out + [Item(p, plan_keys(p, r)) for p, r in zip(plans, reads, strict=True)]

    def persist(self, plans: Sequence[Planned]) -> None:
        if not plans:
            return
        self.book = self.book or AccountBook(self.conn)
        persist(self.conn, plans, source=self.source, raw_file_id=self.raw_file_id,
                actor=self.actor, counts=self.counts, account_ids=self.book.ids,
                review_state=self.review_state)  # fmt: skip

    def write_fixed(self, tx: Transactions, plans: list[Planned], *, done: int) -> None:
        """Write plans whose outcome depends on their identity alone, in short steps."""
        tx.read()
        snap = Snapshot.take(self.conn)
        items = [Item(p, plan_keys(p), Kind.FIXED) for p in plans]
        write_planned(self.conn, tx, snap, items, self, done=done)

    def replan(self, item: Item) -> Item | None:
        if not _drop_known(self.conn, self.source, [item.plan.record]):
            self.counts["skipped_known"] += 1
            return None
        if item.kind is Kind.FIXED:
            return item
        if item.kind is Kind.REVERSAL:
            (plan,) = _plan_reversals(self.conn, [item.plan.record], self.day)
            return Item(plan, plan_keys(plan), Kind.REVERSAL)
        (again,) = self.items([], [item.plan.record], track=True)
        return again

    def again(self, items: Sequence[Item]) -> list[Item]:
        records = [i.plan.record for i in items]
        fresh = {r.external_id for r in _drop_known(self.conn, self.source, records)}
        self.counts["skipped_known"] += len(items) - len(fresh)
        kept = [i for i in items if i.plan.record.external_id in fresh]
        fixed = [i.plan for i in kept if i.kind is Kind.FIXED]
        out = self.items(fixed, [i.plan.record for i in kept if i.kind is Kind.CREDIT], track=True)
        reversals = [i.plan.record for i in kept if i.kind is Kind.REVERSAL]
        out += [
            Item(p, plan_keys(p), Kind.REVERSAL)
            for p in _plan_reversals(self.conn, reversals, self.day)
        ]
        return out


NO_KEYS: Keys = frozenset()


def _no_keys(_plan: Planned) -> Keys:
    return NO_KEYS


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
