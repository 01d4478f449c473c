"""The daily reconciliation of one business day: pure, from figures the service loads in sets.

Five sections, each a table (``Section``: named columns, rows, a totals row) that the JSON,
CSV and XLSX exports render alike, and a list of ``Finding``s (the red lines):

1. statements: per bank account, each statement's opening equals the previous closing
   (a *break* otherwise), its sequence follows the previous one (a *gap*), and
   opening + credits - debits = closing (*unbalanced*). Debits (fees, returns, transfers
   out) are statement movements here, never payments;
2. channels and collectors: records received and their sum per channel and collector, and
   each registry (or an API agent's day) against its lump sum: settled, fee netted,
   difference, not arrived yet with its lag;
3. providers and services: allocated, reversed, taken from and added to advance credit, and
   the amount to remit;
4. review: opened, resolved, still open by age (count and sum);
5. the equation, per bank account: the credits on the day's statements (the bank's own
   figure) = allocated + settled lump sums + in review + returned + not a utility payment.
   Each term is summed from what the gateway holds (allocated: the allocation rows, not the
   payment amounts), so a credit placed twice, not at all, or missing from the gateway
   shows as a difference, and every item in it is listed (``EquationItem``).

Findings that block the day close: every statement red line and every finding the bank-file
parser stored (a red line the parser stored for a statement is not computed again), a
registry without its lump sum, a settlement difference beyond the fee, a collector's lump sum
with no registry, an unmatched reversal, and any equation difference.
Review items are not findings: money in review is a term of the equation (the suspense
account), carried into the backlog by age. A finding blocks until acknowledged with a comment.

A little over the ~450-line modules: the five sections and the findings that block a close
are one set of rules, read together (the equation's own arithmetic is ``equation.py``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

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
    equation_section,
    items_section,
)
from reconciliation.money import format_amount
from reconciliation.report_parts import (
    Column,
    ColumnKind,
    Finding,
    FindingKind,
    Section,
    totals_row,
)

# --- the report -------------------------------------------------------------------------------


@dataclass(slots=True)
class DailyReport:
    day: date
    sections: list[Section]
    findings: list[Finding]

    @property
    def balanced(self) -> bool:
        """The equation holds for every bank account."""
        return not any(f.kind is FindingKind.EQUATION for f in self.findings)

    @property
    def blocking(self) -> list[Finding]:
        return [f for f in self.findings if f.open]

    def section(self, name: str) -> Section:
        return next(s for s in self.sections if s.name == name)

    def to_json(self) -> dict[str, Any]:
        return {
            "day": self.day.isoformat(),
            "balanced": self.balanced,
            "closable": not self.blocking,
            "sections": [s.to_json() for s in self.sections],
            "findings": [_finding_json(f) for f in self.findings],
        }


def _finding_json(f: Finding) -> dict[str, Any]:
    return {
        "key": f.key,
        "kind": f.kind.value,
        "subject": f.subject,
        "difference": format_amount(f.difference),
        "detail": f.detail,
        "acknowledged": f.ack_comment or None,
        "acknowledged_by": f.ack_by,
    }


FINDINGS_COLUMNS = (
    Column("key"),
    Column("kind"),
    Column("subject"),
    Column("difference", ColumnKind.AMOUNT),
    Column("detail"),
    Column("acknowledged"),
)


def build_report(inputs: DayInputs) -> DailyReport:
    """The whole report: five sections, then the findings as a sixth table."""
    findings: list[Finding] = []
    stated = {(f.statement_row, f.kind) for f in inputs.stored_findings if f.statement_row}
    sections = [
        statements_section(inputs.statements, inputs.previous, findings, stated),
        channels_section(inputs.channels),
        settlements_section(inputs.day, inputs.settlements, findings),
        providers_section(inputs.providers),
        review_section(inputs.review),
        equation_section(inputs.accounts, _credits(inputs.statements), inputs.items, findings),
        items_section(inputs.items),
    ]
    findings += [_stored(f) for f in inputs.stored_findings]
    findings += [_pending(p) for p in inputs.pending]
    findings = [_with_ack(f, inputs.acks.get(f.key)) for f in findings]
    table = Section("findings", "Findings (red lines)", FINDINGS_COLUMNS)
    table.rows = [
        (f.key, f.kind.value, f.subject, f.difference, f.detail, f.ack_comment or "")
        for f in findings
    ]
    sections.append(table)
    return DailyReport(inputs.day, sections, findings)


def _credits(statements: Sequence[Statement]) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for s in statements:
        out[s.account] += s.credits
    return out


def _with_ack(f: Finding, ack: tuple[str, str] | None) -> Finding:
    if ack is None or f.ack_comment:
        return f
    return Finding(f.key, f.kind, f.subject, f.difference, f.detail, ack[0], ack[1])


def _stored(f: StoredFinding) -> Finding:
    return Finding(
        f"sf:{f.id}",
        FindingKind.STATEMENT_FINDING,
        f.subject,
        f.difference,
        f"{f.kind}: {f.detail}",
        f.ack_comment,
        f.ack_by,
    )


def _pending(p: PendingItem) -> Finding:
    kind = (
        FindingKind.REVERSAL_UNMATCHED
        if p.reason == "REVERSAL_UNMATCHED"
        else FindingKind.LUMP_SUM_UNMATCHED
    )
    return Finding(f"pay:{p.payment_id}", kind, f"payment {p.payment_id}", p.amount, p.detail)


# --- 1. statements ----------------------------------------------------------------------------

STATEMENT_COLUMNS = (
    Column("account"),
    Column("statement_id"),
    Column("sequence", ColumnKind.COUNT),
    Column("from_day"),
    Column("to_day"),
    Column("previous_closing", ColumnKind.AMOUNT),
    Column("opening", ColumnKind.AMOUNT),
    Column("credits", ColumnKind.AMOUNT),
    Column("debits", ColumnKind.AMOUNT),
    Column("closing", ColumnKind.AMOUNT),
    Column("entries", ColumnKind.COUNT),
    Column("check"),
)


def statements_section(
    statements: Sequence[Statement],
    previous: Mapping[str, Statement],
    findings: list[Finding],
    stated: Collection[tuple[int | None, str]] = (),
) -> Section:
    """Each account's statements in order, each checked against the one before it.

    A red line the bank-file parser already stored for that statement (``stated``: its
    statements.id and the stored kind) is its one finding: the computed twin is not added."""
    section = Section("statements", "Statements per bank account", STATEMENT_COLUMNS)
    by_account: dict[str, list[Statement]] = defaultdict(list)
    for s in statements:
        by_account[s.account].append(s)
    for account in sorted(by_account):
        before = previous.get(account)
        ordered = sorted(by_account[account], key=_statement_order)
        for s in ordered:
            if not s.chained:
                section.rows.append(_statement_row(s, None, "no balances (notification)"))
                continue
            red = check_statement(s, before)
            findings.extend(f for f in red if (s.row_id, _STORED_TWIN.get(f.kind)) not in stated)
            label = "; ".join(f"{f.kind.value} {format_amount(f.difference)}" for f in red)
            section.rows.append(_statement_row(s, before, label or "ok"))
            before = s
    return section


#: The parser's finding (``StatementFindingKind``) that states the same red line.
_STORED_TWIN = {
    FindingKind.STATEMENT_UNBALANCED: "balance_mismatch",
    FindingKind.STATEMENT_BREAK: "balance_chain",
}


def _statement_row(s: Statement, before: Statement | None, check: str) -> tuple:
    return (
        s.account,
        s.statement_id,
        s.sequence,
        _iso(s.from_day),
        _iso(s.to_day),
        before.closing if before else None,
        s.opening if s.chained else None,
        s.credits,
        s.debits,
        s.closing if s.chained else None,
        s.entries,
        check,
    )


def _statement_order(s: Statement) -> tuple:
    return (s.from_day or date.min, s.sequence if s.sequence is not None else -1, s.statement_id)


def check_statement(s: Statement, before: Statement | None) -> list[Finding]:
    """The red lines of one statement: break, gap, unbalanced (each with its difference)."""
    out = []
    subject = f"{s.account} {s.statement_id}"
    moved = s.opening + s.credits - s.debits
    if moved != s.closing:
        out.append(
            Finding(
                f"unbalanced:{s.account}:{s.statement_id}",
                FindingKind.STATEMENT_UNBALANCED,
                subject,
                s.closing - moved,
                f"opening {format_amount(s.opening)} + credits {format_amount(s.credits)} - "
                f"debits {format_amount(s.debits)} = {format_amount(moved)}, "
                f"closing says {format_amount(s.closing)}",
            )
        )
    if before is None:
        return out
    if s.opening != before.closing:
        out.append(
            Finding(
                f"break:{s.account}:{s.statement_id}",
                FindingKind.STATEMENT_BREAK,
                subject,
                s.opening - before.closing,
                f"opening {format_amount(s.opening)} but {before.statement_id} closed at "
                f"{format_amount(before.closing)}",
            )
        )
    if s.sequence is not None and before.sequence is not None and s.sequence > before.sequence + 1:
        out.append(
            Finding(
                f"gap:{s.account}:{s.statement_id}",
                FindingKind.STATEMENT_GAP,
                subject,
                0,
                f"sequence {s.sequence} follows {before.sequence}: "
                f"{s.sequence - before.sequence - 1} statement(s) missing",
            )
        )
    return out


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


# --- 2. channels and collectors --------------------------------------------------------------

CHANNEL_COLUMNS = (
    Column("channel"),
    Column("collector"),
    Column("records", ColumnKind.COUNT),
    Column("amount", ColumnKind.AMOUNT),
)


def channels_section(channels: Sequence[ChannelTotal]) -> Section:
    section = Section("channels", "Records received per channel and collector", CHANNEL_COLUMNS)
    section.rows = [
        (c.channel, c.collector, c.count, c.amount)
        for c in sorted(channels, key=lambda c: (c.channel, c.collector))
    ]
    section.totals = totals_row("total", CHANNEL_COLUMNS, section.rows)
    return section


SETTLEMENT_COLUMNS = (
    Column("collector"),
    Column("batch_ref"),
    Column("registry_day"),
    Column("records", ColumnKind.COUNT),
    Column("registry_total", ColumnKind.AMOUNT),
    Column("lump_sum", ColumnKind.AMOUNT),
    Column("fee_netted", ColumnKind.AMOUNT),
    Column("difference", ColumnKind.AMOUNT),
    Column("status"),
    Column("lag"),
)


def settlements_section(
    day: date, rows: Sequence[SettlementRow], findings: list[Finding]
) -> Section:
    """Each registry (or API agent's day) against its lump sum on the statement."""
    section = Section("settlements", "Registries against their lump sums", SETTLEMENT_COLUMNS)
    for r in sorted(rows, key=lambda r: (r.collector, r.batch_ref)):
        fee = -r.difference if r.status is SettlementStatus.FEE else 0
        diff = r.difference if r.status is SettlementStatus.DIFFERENCE else 0
        elapsed = (day - r.registry_day).days
        lag = (
            f"not arrived, day {elapsed} of {r.lag_days}"
            if r.status is SettlementStatus.UNSETTLED
            else ""
        )
        section.rows.append(
            (
                r.collector,
                r.batch_ref,
                r.registry_day.isoformat(),
                r.registry_count,
                r.registry_total,
                r.credit_amount,
                fee,
                diff if r.status is not SettlementStatus.UNSETTLED else r.difference,
                r.status.value,
                lag,
            )
        )
        subject = f"{r.collector} {r.batch_ref}"
        if r.status is SettlementStatus.UNSETTLED:
            findings.append(
                Finding(
                    f"lump:{r.collector}:{r.batch_ref}",
                    FindingKind.LUMP_SUM_MISSING,
                    subject,
                    r.difference,
                    f"registry of {r.registry_count} records, {format_amount(r.registry_total)}:"
                    f" no lump sum on the statement yet ({lag})",
                )
            )
        elif r.status is SettlementStatus.DIFFERENCE:
            findings.append(
                Finding(
                    f"settle:{r.collector}:{r.batch_ref}",
                    FindingKind.SETTLEMENT_DIFFERENCE,
                    subject,
                    r.difference,
                    f"lump sum {format_amount(r.credit_amount or 0)} against registry "
                    f"{format_amount(r.registry_total)}",
                )
            )
    section.totals = totals_row("total", SETTLEMENT_COLUMNS, section.rows)
    return section


# --- 3. providers and services ---------------------------------------------------------------

PROVIDER_COLUMNS = (
    Column("provider"),
    Column("service"),
    Column("allocated", ColumnKind.AMOUNT),
    Column("reversed", ColumnKind.AMOUNT),
    Column("from_advance", ColumnKind.AMOUNT),
    Column("corrections", ColumnKind.AMOUNT),
    Column("to_remit", ColumnKind.AMOUNT),
    Column("to_advance", ColumnKind.AMOUNT),
)


def providers_section(rows: Sequence[ProviderRow]) -> Section:
    section = Section(
        "providers", "Per provider and service: the amount to remit", PROVIDER_COLUMNS
    )
    section.rows = [
        (
            r.provider or "(advance credit)",
            r.service,
            r.allocated,
            r.reversed,
            r.advance_used,
            r.corrections,
            r.to_remit,
            r.advance_added,
        )
        for r in sorted(rows, key=lambda r: (r.provider, r.service))
    ]
    section.totals = totals_row("total", PROVIDER_COLUMNS, section.rows)
    return section


def remittances(rows: Iterable[ProviderRow]) -> dict[str, int]:
    """Per provider, the amount to remit for the day (services summed); empty provider
    (plain advance credit) excluded."""
    out: dict[str, int] = defaultdict(int)
    for r in rows:
        if r.provider:
            out[r.provider] += r.to_remit
    return dict(out)


# --- 4. review --------------------------------------------------------------------------------

AGE_BUCKETS = ("0-1 days", "2-7 days", "8-30 days", "over 30 days")

REVIEW_COLUMNS = (
    Column("line"),
    Column("items", ColumnKind.COUNT),
    Column("amount", ColumnKind.AMOUNT),
)


def age_bucket(days: int) -> str:
    if days <= 1:
        return AGE_BUCKETS[0]
    if days <= 7:
        return AGE_BUCKETS[1]
    return AGE_BUCKETS[2] if days <= 30 else AGE_BUCKETS[3]


def review_section(fig: ReviewFigures) -> Section:
    section = Section("review", "Review: opened, resolved, still open by age", REVIEW_COLUMNS)
    section.rows = [
        ("opened", *fig.opened),
        ("resolved", *fig.resolved),
        *((f"still open, {b}", *fig.open_by_age.get(b, (0, 0))) for b in AGE_BUCKETS),
    ]
    section.totals = totals_row("still open", REVIEW_COLUMNS, section.rows[2:])
    return section
