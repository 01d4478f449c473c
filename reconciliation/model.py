"""The shapes that flow between the edges and the pure core.

Every format parser returns ``PaymentRecord``s (one shape for every bank, post office and
terminal format, as pretix's bank importers do), the matcher reads ``AccountInfo`` and
``OpenLine`` snapshots that the service loads once per batch, and the core answers with
``Decision``s and ``AllocationRow``s that the service writes in bulk. Nothing here touches a
database or a file. Amounts are integer bani (see ``money``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any, Literal, NamedTuple

from reconciliation.money import format_amount

Direction = Literal["credit", "debit"]

#: The billing centre's time zone: business days are its calendar days. The default of
#: ``gateway.settings.Settings.timezone``, which callers pass down.
CITY_TIMEZONE = "Europe/Chisinau"


class PaymentStatus(StrEnum):
    """A payment's status, as exported (see the export contract in DESIGN.md)."""

    ALLOCATED = "allocated"  # wholly placed on accounts, any excess as advance credit
    SETTLED = "settled"  # a collector's lump sum: allocated through its registry's lines
    REVIEW = "review"
    RETURNED = "returned"
    REJECTED = "rejected"
    REVERSED = "reversed"


class AllocationKind(StrEnum):
    """What an allocation row is (``allocations.kind``, exported as ``kind``)."""

    PAYMENT = "payment"  # a payment placed on an invoice line
    ADVANCE = "advance"  # the excess of a payment, kept as the account's credit
    ADVANCE_USE = "advance_use"  # credit moved onto a new invoice's lines (sums to zero)
    REVERSAL = "reversal"  # the compensation of an earlier row
    CORRECTION = "correction"  # an accountant's correction


class Channel(StrEnum):
    """How the money reached us; the daily report groups by it."""

    BANK_API = "bank_api"  # "Plata Facturilor" real-time API
    TERMINAL = "terminal"  # terminal networks: OSMP facade or JSON feed
    POST = "post"  # Posta Moldovei registry
    BANK_ITEMISED = "bank_itemised"  # a bank's itemised counter payments (camt.054)
    TRANSFER = "transfer"  # direct transfers on the statement (camt.053 / MT940)
    COMPENSATION = "compensation"  # government and city compensation registries
    SETTLEMENT = "settlement"  # a collector's lump sum on the statement


@dataclass(frozen=True, slots=True)
class ServiceAmount:
    service_code: str
    amount: int  # bani


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """One normalised payment as a parser reads it from a file or feed.

    ``external_id`` is the record's identity within its source: the bank's reference where the
    format has one, otherwise a stable hash of the record plus an occurrence counter (see
    ``connectors.formats.base.derive_ids``) so that two identical payments both count.
    """

    source_format: str
    external_id: str
    amount: int  # bani, always positive; direction and reversal carry the sign
    booking_date: date | None = None
    value_date: date | None = None
    currency: str = "MDL"
    direction: Direction = "credit"
    reversal: bool = False
    end_to_end_id: str | None = None
    account_servicer_ref: str | None = None
    remittance: str | None = None
    debtor_name: str | None = None
    debtor_iban: str | None = None
    account_no: str | None = None
    invoice_no: str | None = None
    payment_ref: str | None = None
    services: tuple[ServiceAmount, ...] = ()
    batch_ref: str | None = None
    period: str | None = None  # YYYY-MM, where the record names one (compensations)
    collector: str | None = None  # post office, terminal operator, bank; for settlement
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def business_day(self) -> date | None:
        """The day the money counts for: the booking date, else the value date."""
        return self.booking_date or self.value_date

    def to_json(self) -> dict[str, Any]:
        """The ``gateway parse`` contract: one JSON object per record."""
        return {
            "source_format": self.source_format,
            "external_id": self.external_id,
            "booking_date": self.booking_date.isoformat() if self.booking_date else None,
            "value_date": self.value_date.isoformat() if self.value_date else None,
            "amount": format_amount(self.amount),
            "currency": self.currency,
            "direction": self.direction,
            "reversal": self.reversal,
            "end_to_end_id": self.end_to_end_id,
            "account_servicer_ref": self.account_servicer_ref,
            "remittance": self.remittance,
            "debtor_name": self.debtor_name,
            "debtor_iban": self.debtor_iban,
            "account_no": self.account_no,
            "invoice_no": self.invoice_no,
            "payment_ref": self.payment_ref,
            "services": [
                {"service_code": s.service_code, "amount": format_amount(s.amount)}
                for s in self.services
            ],
            "batch_ref": self.batch_ref,
            "period": self.period,
            "collector": self.collector,
        }


class StatementKind(StrEnum):
    """What a statement block in a bank file is; only booked money counts as payments."""

    STATEMENT = "statement"  # camt.053 Stmt, MT940: booked, end of day
    NOTIFICATION = "notification"  # camt.054 Ntfctn: booked, itemised
    REPORT = "report"  # camt.052 Rpt: intraday, information unless a connector says otherwise
    INTERIM = "interim"  # MT942: intraday, information


class StatementFindingKind(StrEnum):
    """A disagreement a bank file states about itself (the entries are ingested anyway)."""

    BALANCE_MISMATCH = "balance_mismatch"  # opening + credits - debits != closing
    BALANCE_CHAIN = "balance_chain"  # a statement part's opening != the previous part's closing
    BATCH_MISMATCH = "batch_mismatch"  # an entry's batch details do not add up to the entry


@dataclass(frozen=True, slots=True)
class StatementFinding:
    """One disagreement: ``expected`` is what the file's own figures imply, ``actual`` what it
    states (signed bani); the money follows the entries (a batch: the entry's amount)."""

    kind: StatementFindingKind
    expected: int
    actual: int
    detail: str

    @property
    def difference(self) -> int:
        return self.actual - self.expected

    def to_json(self, statement_id: str | None) -> dict[str, Any]:
        """A ``gateway parse`` line of type "finding"."""
        return {
            "type": "finding",
            "kind": self.kind.value,
            "statement_id": statement_id,
            "expected": format_amount(self.expected),
            "actual": format_amount(self.actual),
            "difference": format_amount(self.difference),
            "detail": self.detail,
        }


@dataclass(slots=True)
class StatementSummary:
    """What one statement block says about itself: balances (signed bani, None when the file
    gives none), booked sums and count, and the findings about it. Filled as it is read."""

    kind: StatementKind
    statement_id: str | None = None
    account_iban: str | None = None
    sequence: str | None = None
    from_date: date | None = None
    to_date: date | None = None
    currency: str | None = None
    opening_balance: int | None = None
    closing_balance: int | None = None
    credits: int = 0
    debits: int = 0
    entry_count: int = 0
    last_booking: date | None = None
    findings: list[StatementFinding] = field(default_factory=list)

    def book(self, amount: int, direction: Direction, booking_date: date | None) -> None:
        """Count one booked entry."""
        self.entry_count += 1
        if direction == "credit":
            self.credits += amount
        else:
            self.debits += amount
        if booking_date and (self.last_booking is None or booking_date > self.last_booking):
            self.last_booking = booking_date

    def to_json(self) -> dict[str, Any]:
        """A ``gateway parse --statements`` line of type "statement"."""

        def amount(bani: int | None) -> str | None:
            return None if bani is None else format_amount(bani)

        return {
            "type": "statement",
            "kind": self.kind.value,
            "statement_id": self.statement_id,
            "account_iban": self.account_iban,
            "sequence": self.sequence,
            "from_date": self.from_date.isoformat() if self.from_date else None,
            "to_date": self.to_date.isoformat() if self.to_date else None,
            "currency": self.currency,
            "opening_balance": amount(self.opening_balance),
            "closing_balance": amount(self.closing_balance),
            "credits": format_amount(self.credits),
            "debits": format_amount(self.debits),
            "entry_count": self.entry_count,
        }

    def business_day(self) -> date | None:
        """The day the statement reports on: its end date, else its last booking."""
        return self.to_date or self.last_booking or self.from_date

    def balance_finding(self) -> StatementFinding | None:
        """Opening + credits - debits against closing, when both balances are given."""
        if self.opening_balance is None or self.closing_balance is None:
            return None
        expected = self.opening_balance + self.credits - self.debits
        if expected == self.closing_balance:
            return None
        detail = (
            f"statement {self.statement_id}: balances do not agree: opening "
            f"{format_amount(self.opening_balance)} + credits {format_amount(self.credits)}"
            f" - debits {format_amount(self.debits)} = {format_amount(expected)}, "
            f"but closing is {format_amount(self.closing_balance)}"
        )
        return StatementFinding(
            StatementFindingKind.BALANCE_MISMATCH, expected, self.closing_balance, detail
        )

    def chain_finding(self, before: StatementSummary | None) -> StatementFinding | None:
        """The next part (or page) of an account's statement in the same file must open with
        the closing of the part before it."""
        if (
            before is None
            or before.account_iban != self.account_iban
            or before.closing_balance is None
            or self.opening_balance is None
            or before.closing_balance == self.opening_balance
        ):
            return None
        detail = (
            f"statement {self.statement_id} ({self.sequence or 'no sequence'}): opening "
            f"{format_amount(self.opening_balance)} is not the closing "
            f"{format_amount(before.closing_balance)} of statement {before.statement_id} "
            f"({before.sequence or 'no sequence'}) before it"
        )
        return StatementFinding(
            StatementFindingKind.BALANCE_CHAIN, before.closing_balance, self.opening_balance, detail
        )

    def check(self, before: StatementSummary | None, *, strict: bool) -> None:
        """Balance and chain checks: a disagreement is kept as a finding, or, when ``strict``,
        raised as ``ValueError`` subclass ``StatementRefused`` with the finding's detail."""
        for finding in (self.balance_finding(), self.chain_finding(before)):
            if finding is None:
                continue
            if strict:
                raise StatementRefused(finding.detail)
            self.findings.append(finding)


class StatementRefused(ValueError):
    """A statement whose balances disagree, read for a connector that refuses such files."""


@dataclass(frozen=True, slots=True)
class AccountInfo:
    """What the matcher may know about an account: enough to confirm or suggest it."""

    account_no: str
    payer_name: str
    address: str
    status: Literal["open", "closed"] = "open"


class OpenLine(NamedTuple):
    """An invoice line with what is still open on it, as loaded for a batch.

    A named tuple, not a frozen dataclass: a day's batch builds about a million of these and
    of ``AllocationRow`` (docs/perf.md). Both stay immutable; a changed line or row is a new
    one (``_replace``).
    """

    line_id: int
    invoice_no: str
    account_no: str
    period: str  # YYYY-MM
    service_code: str
    provider_code: str
    open_amount: int  # bani; may be <= 0 when the line is paid or carries credit


class AllocationRow(NamedTuple):
    """One piece of a payment placed on a line, or advance credit when ``line_id`` is None."""

    account_no: str
    line_id: int | None
    invoice_no: str | None
    service_code: str | None
    provider_code: str | None
    amount: int  # bani; negative for a compensating (reversal) row


@dataclass(frozen=True, slots=True)
class Candidate:
    """A suggested account for a review item, with why it was suggested."""

    account_no: str
    score: float  # 0..1, for ranking only; never used to place money
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """What the matcher concluded for one payment.

    ``accounts`` maps account numbers to the bani each receives when the decision is to
    allocate (one entry in the common case, several when a text names several accounts whose
    open totals add up exactly). ``reason`` is a stable code for review items.
    """

    status: Literal["allocate", "review", "reject"]
    accounts: dict[str, int] = field(default_factory=dict)
    reason: str = ""
    candidates: tuple[Candidate, ...] = ()
    evidence: str = ""
