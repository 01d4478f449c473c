"""The figures a day's report is built from, as the service loads them (sets, never rows
per payment). Pure shapes, amounts in bani."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from reconciliation.equation import AccountTerms, EquationItem


class SettlementStatus(StrEnum):
    SETTLED = "settled"
    FEE = "fee"
    DIFFERENCE = "difference"
    UNSETTLED = "unsettled"


# --- inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Statement:
    account: str  # IBAN
    statement_id: str
    sequence: int | None
    from_day: date | None
    to_day: date | None
    opening: int
    credits: int
    debits: int
    closing: int
    entries: int
    chained: bool = True  # False: a notification or a block without balances (not chained)
    row_id: int | None = None  # statements.id: what a stored finding names


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """A finding the bank-file parser stored at ingest (statement_findings)."""

    id: int
    kind: str
    subject: str
    difference: int
    detail: str
    ack_comment: str | None = None
    ack_by: str | None = None
    statement_row: int | None = None  # statements.id; None: about the file as a whole


@dataclass(frozen=True, slots=True)
class ChannelTotal:
    channel: str
    collector: str
    count: int
    amount: int


@dataclass(frozen=True, slots=True)
class SettlementRow:
    collector: str
    batch_ref: str
    registry_day: date
    registry_count: int
    registry_total: int
    credit_amount: int | None
    difference: int
    status: SettlementStatus
    lag_days: int  # allowed value-date lag for this collector


@dataclass(frozen=True, slots=True)
class ProviderRow:
    provider: str
    service: str
    allocated: int
    reversed: int  # <= 0
    advance_used: int  # taken from advance credit onto this provider's lines
    advance_added: int  # earmarked (or, with no provider, plain) advance credit received
    corrections: int = 0

    @property
    def to_remit(self) -> int:
        return self.allocated + self.reversed + self.advance_used + self.corrections


@dataclass(frozen=True, slots=True)
class ReviewFigures:
    opened: tuple[int, int]  # (count, bani)
    resolved: tuple[int, int]
    open_by_age: Mapping[str, tuple[int, int]]  # age bucket -> (count, bani)


@dataclass(frozen=True, slots=True)
class PendingItem:
    """A review item of the settlement layer: a lump sum with no registry, or a storno."""

    payment_id: int
    reason: str
    amount: int
    detail: str


@dataclass(frozen=True, slots=True)
class DayInputs:
    day: date
    statements: Sequence[Statement] = ()
    previous: Mapping[str, Statement] = field(default_factory=dict)  # account -> last before
    stored_findings: Sequence[StoredFinding] = ()
    channels: Sequence[ChannelTotal] = ()
    settlements: Sequence[SettlementRow] = ()
    providers: Sequence[ProviderRow] = ()
    review: ReviewFigures = ReviewFigures((0, 0), (0, 0), {})
    accounts: Sequence[AccountTerms] = ()
    items: Sequence[EquationItem] = ()
    pending: Sequence[PendingItem] = ()
    acks: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # key -> (comment, by)
