"""The daily report of a business day: figures loaded in sets, built by the pure core.

Every figure is one aggregate query (GROUP BY in the database), never a query per payment,
so the cost is flat in the day's rows apart from the items listed in a difference. The
report of a closed day is never rebuilt: ``gateway.services.day_close`` serves the snapshot.

Decisions (see ``reconciliation.daily`` for the sections and what blocks a close):
- a statement's payments are those read from its file (``raw_file_id``) on its account's
  block (``payments.statement_account``), so a file of several accounts' statements counts
  each under its own (payments stored before that column: under the file's first account);
- the equation counts booked blocks (camt.053 statements, MT940, camt.054 notifications);
  the balance chain counts statements only (notifications carry no balances);
- the previous statement of an account is its last one on an earlier business day;
- review: an item is opened on its payment's business day, resolved when ``resolved_at``
  falls in the day (a calendar day in ``Settings.timezone``, passed down as ``timezone``),
  and its age is counted from its payment's day.

A little over the ~450-line modules: one loader per report section, read together with the
decisions above; the sections' pure rules are in ``reconciliation.daily``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, and_, func, or_, select, tuple_

from gateway.db import AnyRow, reading
from reconciliation.daily import DailyReport, age_bucket, build_report
from reconciliation.day_figures import (
    ChannelTotal,
    DayInputs,
    PendingItem,
    ProviderRow,
    ReviewFigures,
    SettlementRow,
    SettlementStatus,
    Statement,
    StoredFinding,
)
from reconciliation.equation import (
    EquationItem,
    PaymentGroup,
    account_terms,
    expected_allocation,
)
from reconciliation.model import CITY_TIMEZONE, Channel, PaymentStatus
from reconciliation.money import format_amount
from reconciliation.settlement import Collector
from schemas.tables import (
    allocations,
    finding_acks,
    payments,
    providers,
    review_items,
    services,
    settlements,
    statement_findings,
    statements,
)

BOOKED_KINDS = ("statement", "notification")
#: Review reasons that are findings: money whose nature is unknown at the settlement level.
PENDING_REASONS = ("SETTLEMENT_PENDING", "REVERSAL_UNMATCHED")


def daily_report(
    engine: Engine,
    day: date,
    collectors: Sequence[Collector] = (),
    *,
    timezone: str = CITY_TIMEZONE,
) -> DailyReport:
    """The live report of ``day`` (acknowledgements included)."""
    with reading(engine) as conn:
        return build_report(load_inputs(conn, day, collectors, timezone=timezone))


def load_inputs(
    conn: Connection,
    day: date,
    collectors: Sequence[Collector] = (),
    *,
    timezone: str = CITY_TIMEZONE,
) -> DayInputs:
    stmts, files = _statements(conn, day)
    items, groups = _credits(conn, day, files)
    return DayInputs(
        day=day,
        statements=stmts,
        previous=_previous(conn, day, {s.account for s in stmts}),
        stored_findings=_stored_findings(conn, day),
        channels=_channels(conn, day),
        settlements=_settlements(conn, day, collectors),
        providers=provider_rows(conn, day),
        review=_review(conn, day, timezone),
        accounts=[account_terms(a, g) for a, g in sorted(groups.items())],
        items=items + _statement_items(conn, day, files),
        pending=_pending(conn, day),
        acks=_acks(conn, day),
    )


# --- 1. statements ----------------------------------------------------------------------------


def _statement(r: AnyRow) -> Statement:
    seq = r.sequence.strip() if r.sequence else ""
    return Statement(
        account=r.account_iban or "?",
        statement_id=r.statement_id or f"#{r.id}",
        sequence=int(seq) if seq.isdigit() else None,
        from_day=r.from_date,
        to_day=r.to_date,
        opening=r.opening_balance or 0,
        credits=r.credits,
        debits=r.debits,
        closing=r.closing_balance or 0,
        entries=r.entry_count,
        row_id=r.id,
    )


Files = dict[int, list[str]]  # raw_file_id -> its booked statements' accounts of the day


def _account_of(files: Files, raw_file_id: int, statement_account: str | None) -> str:
    """A payment's account: its statement's, else its file's first (stored before 0010)."""
    accounts = files[raw_file_id]
    return statement_account if statement_account in accounts else accounts[0]


def _statements(conn: Connection, day: date) -> tuple[list[Statement], Files]:
    """The day's booked blocks, and each file's accounts for attributing payments."""
    s = statements
    rows = conn.execute(
        select(s)
        .where(s.c.business_day == day, s.c.kind.in_(BOOKED_KINDS))
        .order_by(s.c.account_iban, s.c.id)
    ).all()
    files: Files = {}
    for r in rows:
        accounts = files.setdefault(r.raw_file_id, [])
        if (r.account_iban or "?") not in accounts:
            accounts.append(r.account_iban or "?")
    out = []
    for r in rows:
        st = _statement(r)
        if r.kind != "statement" or r.opening_balance is None or r.closing_balance is None:
            st = replace(st, chained=False)  # no balances to chain: only its credits count
        out.append(st)
    return out, files


def _previous(conn: Connection, day: date, accounts: set[str]) -> dict[str, Statement]:
    if not accounts:
        return {}
    s = statements
    last_day = (
        select(s.c.account_iban, func.max(s.c.business_day))
        .where(s.c.kind == "statement", s.c.business_day < day, s.c.account_iban.in_(accounts))
        .group_by(s.c.account_iban)
    )
    rows = conn.execute(
        select(s)
        .where(tuple_(s.c.account_iban, s.c.business_day).in_(last_day), s.c.kind == "statement")
        .order_by(s.c.id)
    ).all()
    out: dict[str, Statement] = {}
    for r in sorted(rows, key=lambda r: (r.to_date or r.business_day, _seq(r.sequence), r.id)):
        if r.closing_balance is not None:
            out[r.account_iban] = _statement(r)
    return out


def _seq(text: str | None) -> int:
    return int(text) if text and text.strip().isdigit() else -1


def _stored_findings(conn: Connection, day: date) -> list[StoredFinding]:
    f, s = statement_findings, statements
    rows = conn.execute(
        select(f, s.c.account_iban, s.c.statement_id.label("stmt"))
        .select_from(f.outerjoin(s, s.c.id == f.c.statement_id))
        .where(f.c.business_day == day)
        .order_by(f.c.id)
    ).all()
    return [
        StoredFinding(
            r.id,
            r.kind,
            f"{r.account_iban or '?'} {r.stmt or ''}".strip(),
            r.difference,
            r.detail,
            r.ack_comment,
            r.acknowledged_by,
            r.statement_id,
        )
        for r in rows
    ]


# --- 2. channels and settlements --------------------------------------------------------------


def _channels(conn: Connection, day: date) -> list[ChannelTotal]:
    p = payments
    rows = conn.execute(
        select(p.c.channel, p.c.collector, func.count(), func.sum(p.c.amount))
        .where(p.c.business_day == day, p.c.direction == "credit", p.c.reversal.is_(False))
        .group_by(p.c.channel, p.c.collector)
    ).all()
    return [ChannelTotal(c, col or "", n, int(a)) for c, col, n, a in rows]


def _settlements(
    conn: Connection, day: date, collectors: Sequence[Collector]
) -> list[SettlementRow]:
    lag = {c.code: c.lag_days for c in collectors}
    st = settlements
    rows = conn.execute(select(st).where(st.c.business_day == day).order_by(st.c.id)).all()
    return [
        SettlementRow(
            r.collector,
            r.batch_ref,
            r.registry_day,
            r.registry_count,
            r.registry_total,
            r.statement_amount,
            r.difference,
            SettlementStatus(r.status),
            lag.get(r.collector, 3),
        )
        for r in rows
    ]


# --- 3. providers -----------------------------------------------------------------------------


def provider_rows(conn: Connection, day: date) -> list[ProviderRow]:
    """Grouped on the allocations alone (ids), codes mapped after: no join per row."""
    a = allocations
    on_line = a.c.invoice_line_id.is_not(None)
    rows = conn.execute(
        select(a.c.provider_id, a.c.service_id, a.c.kind, on_line, func.sum(a.c.amount))
        .where(a.c.business_day == day)
        .group_by(a.c.provider_id, a.c.service_id, a.c.kind, on_line)
    ).all()
    prov = dict(conn.execute(select(providers.c.id, providers.c.code)).all())
    svc = dict(conn.execute(select(services.c.id, services.c.code)).all())
    cells: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for pid, sid, kind, line, amount in rows:
        slot = "advance_added" if not line else _SLOT.get(kind, "corrections")
        cells[(prov.get(pid, ""), svc.get(sid, ""))][slot] += int(amount)
    return [
        ProviderRow(
            p,
            s,
            c["allocated"],
            c["reversed"],
            c["advance_used"],
            c["advance_added"],
            c["corrections"],
        )
        for (p, s), c in cells.items()
    ]


_SLOT = {"payment": "allocated", "reversal": "reversed", "advance_use": "advance_used"}


# --- 4. review --------------------------------------------------------------------------------


def day_bounds(day: date, timezone: str = CITY_TIMEZONE) -> tuple[datetime, datetime]:
    """The business day (a calendar day in ``timezone``) as a UTC interval [start, end)."""
    tz = ZoneInfo(timezone)
    start = datetime.combine(day, time(), tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(), tz).astimezone(UTC)
    return start, end


def _review(conn: Connection, day: date, timezone: str) -> ReviewFigures:
    r, p = review_items, payments
    start, end = day_bounds(day, timezone)
    # a lump sum settled by its registry leaves review without a resolution: not an item
    still = or_(r.c.resolved_at.is_not(None), p.c.status == PaymentStatus.REVIEW)
    joined = r.join(p, and_(p.c.id == r.c.payment_id, still))
    opened = conn.execute(
        select(func.count(), func.coalesce(func.sum(p.c.amount), 0))
        .select_from(joined)
        .where(p.c.business_day == day)
    ).one()
    resolved = conn.execute(
        select(func.count(), func.coalesce(func.sum(p.c.amount), 0))
        .select_from(joined)
        .where(r.c.resolved_at >= start, r.c.resolved_at < end)
    ).one()
    by_day = conn.execute(
        select(p.c.business_day, func.count(), func.sum(p.c.amount))
        .select_from(joined)
        .where(p.c.business_day <= day, or_(r.c.resolved_at.is_(None), r.c.resolved_at >= end))
        .group_by(p.c.business_day)
    ).all()
    ages: dict[str, tuple[int, int]] = {}
    for d, n, total in by_day:
        bucket = age_bucket((day - d).days)
        count, amount = ages.get(bucket, (0, 0))
        ages[bucket] = (count + n, amount + int(total))
    return ReviewFigures(
        (opened[0], int(opened[1])),
        (resolved[0], int(resolved[1])),
        ages,
    )


def _pending(conn: Connection, day: date) -> list[PendingItem]:
    r, p = review_items, payments
    rows = conn.execute(
        select(p.c.id, r.c.reason, p.c.amount, p.c.debtor_name, p.c.collector)
        .select_from(r.join(p, p.c.id == r.c.payment_id))
        .where(
            p.c.business_day == day,
            p.c.status == PaymentStatus.REVIEW,
            r.c.reason.in_(PENDING_REASONS),
            r.c.resolved_at.is_(None),
        )
        .order_by(p.c.id)
    ).all()
    return [
        PendingItem(
            pid,
            reason,
            amount,
            f"{reason}: {format_amount(amount)} from {collector or name or 'unknown payer'}",
        )
        for pid, reason, amount, name, collector in rows
    ]


# --- 5. the equation --------------------------------------------------------------------------


def _credits(
    conn: Connection, day: date, files: Files
) -> tuple[list[EquationItem], dict[str, list[PaymentGroup]]]:
    """Grouped credit payments of the day's statement files, and the payments whose
    allocation rows disagree with their status (each an item of the equation)."""
    if not files:
        return [], {}
    p, a = payments, allocations
    placed = (
        select(func.coalesce(func.sum(a.c.amount), 0))
        .where(a.c.payment_id == p.c.id)
        .scalar_subquery()
    )
    base = (
        select(
            p.c.id,
            p.c.raw_file_id,
            p.c.statement_account,
            p.c.status,
            p.c.channel,
            p.c.amount,
            placed.label("placed"),
        )
        .where(
            p.c.raw_file_id.in_(list(files)),
            p.c.direction == "credit",
            p.c.reversal.is_(False),
        )
        .subquery()
    )
    groups: dict[str, list[PaymentGroup]] = defaultdict(list)
    rows = conn.execute(
        select(
            base.c.raw_file_id,
            base.c.statement_account,
            base.c.status,
            base.c.channel,
            func.count(),
            func.sum(base.c.amount),
            func.sum(base.c.placed),
        ).group_by(base.c.raw_file_id, base.c.statement_account, base.c.status, base.c.channel)
    ).all()
    for raw, account, status, channel, n, amount, placed_sum in rows:
        groups[_account_of(files, raw, account)].append(
            PaymentGroup(status, channel, n, int(amount), int(placed_sum))
        )
    allocated_like = and_(
        base.c.status == PaymentStatus.ALLOCATED, base.c.channel != Channel.SETTLEMENT
    )
    odd = conn.execute(
        select(base).where(
            or_(
                and_(allocated_like, base.c.placed != base.c.amount),
                and_(~allocated_like, base.c.placed != 0),
            )
        )
    ).all()
    items = [
        EquationItem(
            _account_of(files, r.raw_file_id, r.statement_account),
            f"payment {r.id}",
            expected_allocation(r.status, r.channel, r.amount),
            int(r.placed),
            f"{r.status} {r.channel} payment of {format_amount(r.amount)}: allocation rows "
            f"add up to {format_amount(int(r.placed))}",
        )
        for r in odd
    ]
    return items, groups


def _statement_items(conn: Connection, day: date, files: Files) -> list[EquationItem]:
    """A statement (per file and account) whose booked credits differ from the credit
    payments read from it (entries skipped as known from another file, or never stored)."""
    if not files:
        return []
    s, p = statements, payments
    bank: dict[tuple[int, str], int] = defaultdict(int)
    names: dict[tuple[int, str], str] = {}
    for raw, account, credits, name in conn.execute(
        select(s.c.raw_file_id, s.c.account_iban, func.sum(s.c.credits), func.min(s.c.statement_id))
        .where(s.c.business_day == day, s.c.kind.in_(BOOKED_KINDS))
        .group_by(s.c.raw_file_id, s.c.account_iban)
    ):
        key = (raw, _account_of(files, raw, account or "?"))
        bank[key] += int(credits)
        name = name or str(raw)
        names[key] = min(names.get(key, name), name)
    held: dict[tuple[int, str], int] = defaultdict(int)
    for raw, account, amount in conn.execute(
        select(p.c.raw_file_id, p.c.statement_account, func.sum(p.c.amount))
        .where(
            p.c.raw_file_id.in_(list(files)),
            p.c.direction == "credit",
            p.c.reversal.is_(False),
        )
        .group_by(p.c.raw_file_id, p.c.statement_account)
    ):
        held[(raw, _account_of(files, raw, account))] += int(amount)
    return [
        EquationItem(
            key[1],
            f"statement {names[key]}",
            credits,
            held[key],
            f"the bank booked credits of {format_amount(credits)}, the gateway holds "
            f"{format_amount(held[key])} of payments from this statement",
        )
        for key, credits in sorted(bank.items())
        if credits != held[key]
    ]


def _acks(conn: Connection, day: date) -> dict[str, tuple[str, str]]:
    f = finding_acks
    rows = conn.execute(
        select(f.c.finding_key, f.c.comment, f.c.acknowledged_by).where(f.c.day == day)
    ).all()
    return {k: (c, by) for k, c, by in rows}
