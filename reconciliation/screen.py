"""Records checked against what can be stored and what is plausible, before anything is written.

A bank file can carry values no payment should have: an entry booked on 0001-01-01 or
9999-12-31, a 200-character AcctSvcrRef, a 5,000-character debtor name, 9,999,999,999.99 MDL.
Each used to fail deep inside the ingest (an ``OverflowError`` in the duplicate window,
PostgreSQL's ``StringDataRightTruncation``) and the whole file was "retried" forever. Here
every record is screened first, and what fails is a per-record decision, never an error:

- a text longer than its column is cut to fit and the record goes to review
  (``FIELD_TOO_LONG``); an over-long identity (``external_id``) is replaced by the sha256 of
  the whole, so it stays unique and the same on a re-run, and an over-long currency becomes
  ``XXX`` (no currency: never cut "MDLX" into "MDL");
- a booking or value date outside the plausible window (``Plausibility``: by default the last
  two years to 31 days ahead) goes to review (``IMPLAUSIBLE_DATE``), counted on the day of the
  ingest; the dates are dropped from the payment (the raw file keeps them);
- a payment that would leave more than ``max_advance_bani`` of advance credit on one account
  is not placed: review (``IMPLAUSIBLE_CREDIT``; see ``implausible_credit``).

Pure: the column limits come in as a mapping (``gateway``'s ingest reads them off the schema).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from reconciliation.model import AllocationRow, PaymentRecord
from reconciliation.review import ReasonCode

#: PaymentRecord text fields, screened against the column of the same meaning.
TEXT_FIELDS = (
    "external_id",
    "end_to_end_id",
    "account_servicer_ref",
    "remittance",
    "debtor_name",
    "debtor_iban",
    "account_no",
    "invoice_no",
    "payment_ref",
    "batch_ref",
    "period",
    "collector",
    "currency",
)
#: The earliest and latest dates any window may reach (date arithmetic overflows beyond).
_FLOOR, _CEILING = date(1900, 1, 1), date(9000, 1, 1)


@dataclass(frozen=True)
class Plausibility:
    """What an ingest accepts without asking a person (configurable: ``[plausibility]``)."""

    past_days: int = 730
    future_days: int = 31
    #: 100,000.00 MDL: years of any household's bills; more is a typo or worse.
    max_advance_bani: int = 10_000_000

    def window(self, today: date) -> tuple[date, date]:
        first = max(_FLOOR, today - timedelta(days=min(self.past_days, 365_000)))
        last = min(_CEILING, today + timedelta(days=min(self.future_days, 365_000)))
        return first, last


DEFAULT_PLAUSIBILITY = Plausibility()


@dataclass(frozen=True)
class Screened:
    """A record as it may be stored, and the review reason when it must not be placed."""

    record: PaymentRecord
    reason: str | None = None


def screen(record: PaymentRecord, limits: Mapping[str, int], window: tuple[date, date]) -> Screened:
    """``record`` fitted to the columns and checked for plausible dates (see the module doc)."""
    changes: dict[str, Any] = {}
    reason: str | None = None
    for name in TEXT_FIELDS:
        value = getattr(record, name)
        limit = limits.get(name)
        if value is None or limit is None or len(value) <= limit:
            continue
        changes[name] = _fitted(name, value, limit)
        reason = ReasonCode.FIELD_TOO_LONG.value
    first, last = window
    dates = [d for d in (record.booking_date, record.value_date) if d is not None]
    if any(not first <= d <= last for d in dates):
        changes.update(booking_date=None, value_date=None)
        reason = reason or ReasonCode.IMPLAUSIBLE_DATE.value
    if not changes:
        return Screened(record)
    extra = {**record.extra, "screened": {k: _shown(getattr(record, k)) for k in changes}}
    return Screened(replace(record, **changes, extra=extra), reason)


def _fitted(name: str, value: str, limit: int) -> str:
    if name == "external_id":
        return "sha256:" + hashlib.sha256(value.encode()).hexdigest()
    if name == "currency":
        return "XXX"
    return value[:limit]


def _shown(value: object) -> str | None:
    """What the review item keeps of the original value: enough to recognise it."""
    return None if value is None else str(value)[:80]


def implausible_credit(rows: list[AllocationRow], ceiling: int) -> bool:
    """True when the advance credit (rows without an invoice line) exceeds ``ceiling``."""
    return sum(r.amount for r in rows if r.line_id is None) > ceiling
