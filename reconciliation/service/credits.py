"""Residents' credits of one round: load the matcher's snapshot, match, check duplicates, plan.

The snapshot holds only what the round mentions (``plan.mentions``), extended once with
what the matcher reached beyond it; the pure rules of ``reconciliation.plan`` turn the
decisions into planned payments.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, select

from reconciliation.allocate import DEFAULT_POLICY, AllocationPolicy
from reconciliation.learning import LEARNED_REASON, LearnedRules, apply_rules
from reconciliation.match import (
    CityIndex,
    DuplicateFlag,
    SeenPayment,
    flag_duplicates,
    match_batch,
    one_keystroke,
)
from reconciliation.model import Decision, PaymentRecord, PaymentStatus
from reconciliation.plan import (
    DUPLICATE_WINDOW_DAYS,
    Mentions,
    Planned,
    day_of,
    mentions,
    plan_decisions,
    reached,
    rematch,
    seen_batch,
)
from reconciliation.service.book import AccountBook
from reconciliation.service.footprint import Keys, merged, record_reads
from reconciliation.service.load import load_invoices, load_open_lines
from schemas.bulk import in_keys, keyset
from schemas.tables import payments


def load_index(
    conn: Connection,
    records: Sequence[PaymentRecord],
    book: AccountBook | None = None,
    wanted: Mentions | None = None,
) -> CityIndex:
    """The matcher's snapshot for a batch: every account (existence, status, names for
    suggestions), and the invoices and open lines of what the batch mentions (``wanted``,
    when the caller found them already)."""
    wanted = wanted or mentions(records)
    inv_rows = load_invoices(conn, wanted.invoices, wanted.refs)
    wanted.accounts.update(acc for _, _, acc in inv_rows)
    book = book or AccountBook(conn)
    corrections = _corrections(wanted.accounts, book)
    book.preload(corrections)  # their holders' names corroborate them
    wanted.accounts.update(corrections)
    loaded = load_open_lines(conn, wanted.accounts)
    index = CityIndex.build((), (ln for group in loaded.values() for ln in group))
    for acc in wanted.accounts:  # read, and without open lines (a closed account): loaded too
        if acc not in loaded and acc in book:
            index.set_lines(acc, ())
    index.accounts = book
    index.use_names(book.names)
    index.invoice_account.update((no, acc) for no, _, acc in inv_rows)
    index.ref_invoice.update((ref, no) for no, ref, _ in inv_rows)
    return index


def _corrections(account_nos: set[str], book: AccountBook) -> set[str]:
    """The accounts the matcher will offer as corrections of the numbers no account has
    (``match.one_keystroke``), read with the round's first load rather than after it."""
    return {
        acc
        for no in account_nos
        if no not in book
        for acc, _, _ in one_keystroke(no)
        if acc in book
    }


def extend_index(conn: Connection, index: CityIndex, decisions: Sequence[Decision]) -> set[str]:
    """Load lines for accounts the matcher reached that the cheap scan missed (look-alike
    letters, typo corrections) and names for the accounts it asked about by name; returns
    them, so their records can be matched again with the full picture."""
    missing = {
        a for a in reached(decisions) if a in index.accounts and a not in index.lines_by_account
    }
    book = index.accounts
    unnamed: set[str] = book.preload(set(book.asked)) if isinstance(book, AccountBook) else set()
    if missing:
        loaded = load_open_lines(conn, missing)
        for a in missing:
            index.set_lines(a, loaded.get(a, []))
    return missing | unnamed


def plan_credits(
    conn: Connection,
    records: Sequence[PaymentRecord],
    fallback: date,
    source: str,
    book: AccountBook | None,
    rules: LearnedRules | None = None,
    policy: AllocationPolicy = DEFAULT_POLICY,
    *,
    reads: list[Keys] | None = None,
) -> list[Planned]:
    """``reads``, when given, gets each record's read keys (``footprint.record_reads``)."""
    if not records:
        return []
    each = [mentions([r]) for r in records] if reads is not None else []
    index = load_index(conn, records, book, merged(each) if each else None)
    decisions = match_batch(records, index)
    stages = [decisions]
    missing = extend_index(conn, index, decisions)
    if missing:
        decisions = [rematch(r, d, index, missing) for r, d in zip(records, decisions, strict=True)]
        stages.append(decisions)
    learned: list[int | None] = []
    if rules:
        decisions, learned = apply_rules(records, decisions, rules, index)
        _load_learned_lines(conn, index, decisions, learned)
        stages.append(decisions)
    if reads is not None:
        reads.extend(record_reads(each, stages, index))
    flags = duplicates(conn, records, decisions, source, fallback)
    plans = plan_decisions(
        records, decisions, index, flags=flags, source=source, fallback=fallback, policy=policy
    )
    for plan, rule_id in zip(plans, learned, strict=False):
        if rule_id is not None and plan.status == PaymentStatus.ALLOCATED:
            plan.learned_rule, plan.reason = rule_id, LEARNED_REASON
    return plans


def _load_learned_lines(
    conn: Connection, index: CityIndex, decisions: Sequence[Decision], learned: list[int | None]
) -> None:
    """Open lines of the accounts learned rules placed money on, where not loaded yet."""
    wanted = {
        a
        for d, rule_id in zip(decisions, learned, strict=True)
        if rule_id is not None
        for a in d.accounts
        if a not in index.lines_by_account
    }
    if wanted:
        loaded = load_open_lines(conn, wanted)
        for a in wanted:
            index.set_lines(a, loaded.get(a, []))


def duplicates(
    conn: Connection,
    records: Sequence[PaymentRecord],
    decisions: Sequence[Decision],
    source: str,
    fallback: date,
) -> dict[str, DuplicateFlag]:
    batch = seen_batch(records, decisions, source)
    days = [day_of(r, fallback) for r in records]
    window = timedelta(days=DUPLICATE_WINDOW_DAYS)
    seen = recent_payments(
        conn,
        (min(days) - window, max(days) + window),
        accounts={b.account_no for b in batch if b.account_no},
        refs={ref for b in batch for ref in b.bank_refs},
    )
    return flag_duplicates(batch, seen, window_days=DUPLICATE_WINDOW_DAYS)


def recent_payments(
    conn: Connection, days: tuple[date, date], *, accounts: set[str], refs: set[str]
) -> list[SeenPayment]:
    """Stored payments a batch could duplicate: same account within the window, or the
    same bank reference. Joined against key tables, so the cost follows the batch, not the
    size of the day already stored."""
    p = payments
    base = select(
        p.c.source,
        p.c.external_id,
        p.c.channel,
        p.c.business_day,
        p.c.account_no,
        p.c.amount,
        p.c.account_servicer_ref,
        p.c.end_to_end_id,
    ).where(p.c.reversal.is_(False), p.c.status != PaymentStatus.REVERSED)
    rows: dict[tuple[str, str], Any] = {}
    if accounts:
        keys = keyset(conn, "dup_accounts", accounts)
        q = base.where(in_keys(p.c.account_no, keys), p.c.business_day.between(*days))
        rows.update(((r.source, r.external_id), r) for r in conn.execute(q))
    if refs:
        keys = keyset(conn, "dup_refs", refs)
        for column in (p.c.account_servicer_ref, p.c.end_to_end_id):
            rows.update(
                ((r.source, r.external_id), r)
                for r in conn.execute(base.where(in_keys(column, keys)))
            )
    return [
        SeenPayment(
            f"{r.source}:{r.external_id}",
            r.channel,
            r.business_day,
            r.account_no,
            r.amount,
            tuple(x for x in (r.account_servicer_ref, r.end_to_end_id) if x and x != "NOTPROVIDED"),
        )
        for r in rows.values()
    ]
