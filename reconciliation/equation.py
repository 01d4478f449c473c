"""The equation of a business day, per bank account (section 5 of the daily report).

Every credit on the day's statements (the bank's own figure) is accounted for exactly once
as allocated + settled lump sums + in review + returned + not a utility payment. The
``allocated`` term is summed from the allocation rows of every credit, whatever its status,
and the other terms from the payments' amounts: a credit placed twice, placed short, or
missing from the gateway is a difference, and each item in it is listed (``EquationItem``:
a statement whose entries the gateway holds differently from the bank's total, or a payment
whose allocation rows disagree with its status). Pure, no I/O.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from reconciliation.model import Channel, PaymentStatus
from reconciliation.money import format_amount
from reconciliation.report_parts import (
    Column,
    ColumnKind,
    Finding,
    FindingKind,
    Section,
    totals_row,
)


class Term(StrEnum):
    """Where a statement credit ended up: the terms of the equation."""

    ALLOCATED = "allocated"
    SETTLED = "settled"
    REVIEW = "review"
    RETURNED = "returned"
    NOT_UTILITY = "not_utility"


@dataclass(frozen=True, slots=True)
class AccountTerms:
    """What the gateway holds for one bank account's statement credits of the day."""

    account: str
    terms: Mapping[Term, int]
    payments: int  # credit payments from the day's statements of this account


@dataclass(frozen=True, slots=True)
class EquationItem:
    """One item in an equation difference: a statement the gateway holds differently than the
    bank, or a payment whose allocations do not match what its status says."""

    account: str
    ref: str  # "statement STMT-1" or "payment 123"
    expected: int  # what should be accounted
    actual: int  # what is
    detail: str

    @property
    def difference(self) -> int:
        return self.expected - self.actual


# --- 5. the equation --------------------------------------------------------------------------

EQUATION_COLUMNS = (
    Column("account"),
    Column("statement_credits", ColumnKind.AMOUNT),
    *(Column(t.value, ColumnKind.AMOUNT) for t in Term),
    Column("difference", ColumnKind.AMOUNT),
    Column("payments", ColumnKind.COUNT),
)

ITEM_COLUMNS = (
    Column("account"),
    Column("item"),
    Column("expected", ColumnKind.AMOUNT),
    Column("actual", ColumnKind.AMOUNT),
    Column("difference", ColumnKind.AMOUNT),
    Column("detail"),
)


def equation_section(
    accounts: Sequence[AccountTerms],
    credits_by_account: Mapping[str, int],
    items: Sequence[EquationItem],
    findings: list[Finding],
) -> Section:
    """Per account: the bank's credits against the terms; a difference lists its items."""
    section = Section(
        "equation",
        "Credits = allocated + settled + in review + returned + not a utility payment",
        EQUATION_COLUMNS,
    )
    credits: dict[str, int] = defaultdict(int, credits_by_account)
    held = {a.account: a for a in accounts}
    by_account: dict[str, list[EquationItem]] = defaultdict(list)
    for it in items:
        by_account[it.account].append(it)
    for account in sorted(credits.keys() | held.keys()):
        terms = held[account].terms if account in held else {}
        count = held[account].payments if account in held else 0
        accounted = sum(terms.get(t, 0) for t in Term)
        diff = credits[account] - accounted
        section.rows.append(
            (account, credits[account], *(terms.get(t, 0) for t in Term), diff, count)
        )
        if diff or by_account[account]:
            listed = by_account[account]
            names = ", ".join(f"{i.ref} {format_amount(i.difference)}" for i in listed)
            unexplained = diff - sum(i.difference for i in listed)
            if unexplained:
                names += f"{', ' if names else ''}unexplained {format_amount(unexplained)}"
            findings.append(
                Finding(
                    f"equation:{account}",
                    FindingKind.EQUATION,
                    account,
                    diff,
                    f"credits {format_amount(credits[account])}, accounted "
                    f"{format_amount(accounted)}: {names}",
                )
            )
    section.totals = totals_row("total", EQUATION_COLUMNS, section.rows)
    return section


def items_section(items: Sequence[EquationItem]) -> Section:
    section = Section("equation_items", "Items in an equation difference", ITEM_COLUMNS)
    section.rows = [
        (i.account, i.ref, i.expected, i.actual, i.difference, i.detail)
        for i in sorted(items, key=lambda i: (i.account, i.ref))
    ]
    section.totals = totals_row("total", ITEM_COLUMNS, section.rows)
    return section


@dataclass(frozen=True, slots=True)
class PaymentGroup:
    """Credit payments of one bank account's statements with one status and channel."""

    status: str
    channel: str
    count: int
    amount: int  # sum of the payments' amounts
    allocated: int  # sum of all their allocation rows (compensations included)


#: The export contract's ``settled`` status (a lump sum that settled its registry); older
#: rows say ``allocated`` on the settlement channel, which means the same.
SETTLED_STATUS = "settled"


def term_of(status: str, channel: str) -> Term:
    """The equation term of a statement credit with this status (the export contract's)."""
    allocated = status == PaymentStatus.ALLOCATED
    if status == SETTLED_STATUS or (allocated and channel == Channel.SETTLEMENT):
        return Term.SETTLED
    if allocated:
        return Term.ALLOCATED
    if status in (PaymentStatus.RETURNED, PaymentStatus.REVERSED):
        return Term.RETURNED
    if status == PaymentStatus.REJECTED:
        return Term.NOT_UTILITY
    return Term.REVIEW


def expected_allocation(status: str, channel: str, amount: int) -> int:
    """What a credit's allocation rows must add up to: all of it when allocated, nothing
    otherwise (a settled lump sum is placed through its registry's lines, never again)."""
    return amount if term_of(status, channel) is Term.ALLOCATED else 0


def account_terms(account: str, groups: Iterable[PaymentGroup]) -> AccountTerms:
    """The equation's terms from grouped payments: ``allocated`` is what the allocation rows
    hold (of every credit, whatever its status, so money placed twice shows); the other
    terms are the payments' amounts."""
    terms: dict[Term, int] = dict.fromkeys(Term, 0)
    count = 0
    for g in groups:
        count += g.count
        terms[Term.ALLOCATED] += g.allocated
        term = term_of(g.status, g.channel)
        if term is not Term.ALLOCATED:
            terms[term] += g.amount
    return AccountTerms(account, terms, count)
