"""The request bodies of the workspace JSON API (``gateway.web.pages.review_api``).

Amounts are text ("1234.50"), parsed with ``reconciliation.money`` here at the edge.
"""

from __future__ import annotations

from datetime import date

import msgspec

from gateway.errors import UserError
from gateway.services.review import bulk
from reconciliation.money import parse_amount


class ServiceIn(msgspec.Struct, frozen=True):
    service_code: str
    amount: str


class ShareIn(msgspec.Struct, frozen=True):
    account_no: str
    amount: str
    service_code: str | None = None


class Versioned(msgspec.Struct, frozen=True, kw_only=True):
    expected_version: int | None = None
    form_token: str | None = None


class AssignIn(Versioned, frozen=True, kw_only=True):
    account_no: str
    invoices: list[str] = []
    services: list[ServiceIn] = []
    note: str = ""


class SplitIn(Versioned, frozen=True, kw_only=True):
    shares: list[ShareIn]
    note: str = ""


class ReturnIn(Versioned, frozen=True, kw_only=True):
    iban: str
    name: str
    reason: str


class ReasonIn(Versioned, frozen=True, kw_only=True):
    reason: str


class DuplicateIn(Versioned, frozen=True, kw_only=True):
    of_payment_id: int
    outcome: str  # return | credit
    iban: str = ""
    name: str = ""
    reason: str = ""


class ClaimIn(Versioned, frozen=True, kw_only=True):
    take_over: bool = False


class CommentIn(msgspec.Struct, frozen=True, kw_only=True):
    text: str
    form_token: str | None = None


class NoteIn(msgspec.Struct, frozen=True, kw_only=True):
    note: str = ""
    form_token: str | None = None


class FilterIn(msgspec.Struct, frozen=True, kw_only=True):
    reason: str | None = None
    channel: str | None = None
    source: str | None = None
    day_from: date | None = None
    day_to: date | None = None
    amount_min: str | None = None
    amount_max: str | None = None
    item_ids: list[int] | None = None


class BulkIn(msgspec.Struct, frozen=True, kw_only=True):
    rule: str = bulk.BulkRule.UNIQUE_CORRECTION_EXACT.value
    filter: FilterIn = FilterIn()
    note: str = ""
    form_token: str | None = None


def bulk_filter(f: FilterIn) -> bulk.BulkFilter:
    return bulk.BulkFilter(
        reason=f.reason,
        channel=f.channel,
        source=f.source,
        day_from=f.day_from,
        day_to=f.day_to,
        item_ids=f.item_ids,
        amount_min=parse_amount(f.amount_min) if f.amount_min else None,
        amount_max=parse_amount(f.amount_max) if f.amount_max else None,
    )


def bulk_rule(text: str) -> bulk.BulkRule:
    try:
        return bulk.BulkRule(text)
    except ValueError:
        raise UserError(
            f"unknown rule {text!r}: one of {[r.value for r in bulk.BulkRule]}"
        ) from None
