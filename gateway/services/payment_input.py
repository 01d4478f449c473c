"""A bank API payment request checked field by field and reduced to a canonical hash.

Touches no database: ``validate`` turns the strings of a request (``PaymentInput``) into a
``ValidPayment`` (bani, a UTC instant and its business day, services sorted) whose
``digest`` identifies the request for idempotency, or raises ``Refused`` with a stable code.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec

from gateway.errors import Refused
from gateway.services.accounts import canonical_account
from reconciliation.model import ServiceAmount
from reconciliation.money import MoneyError, format_amount, parse_amount

#: One million lei: far above any household's utility bill; a larger sum is a typo or worse.
MAX_PAYMENT_BANI = 100_000_000
#: Matched whole (``fullmatch``): with ``$``, "TX1\n" passed as a second id for TX1.
TXN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,34}")
MAX_SERVICES = 50
FUTURE_SKEW = timedelta(days=1)
#: A real-time post is made when the resident pays; one older than this (a bank's backlog
#: after a long outage at most) is a wrong clock or a wrong field, not a payment to place.
PAST_LIMIT = timedelta(days=31)


@dataclass(frozen=True)
class PaymentInput:
    """A payment request as the edge received it (strings, not yet trusted)."""

    agent_txn_id: str
    account_no: str
    amount: str
    currency: str
    paid_at: str
    invoice_no: str | None = None
    services: tuple[tuple[str, str], ...] = ()  # (service_code, amount)


@dataclass(frozen=True)
class ValidPayment:
    txn_id: str
    account_no: str
    amount: int
    currency: str
    paid_at: datetime
    business_day: date
    invoice_no: str | None
    services: tuple[ServiceAmount, ...]
    digest: str


@dataclass(frozen=True)
class Audit:
    """The request as received, kept with its hash in ``api_requests``."""

    method: str
    path: str
    body: bytes


def wire_amount(text_: str, what: str = "amount") -> int:
    """Bani from the wire, or INVALID_AMOUNT with the OSMP result that fits the fault."""
    try:
        bani = parse_amount(text_, allow_negative=True)
    except MoneyError:
        big = bool(re.fullmatch(r"\s*\d{14,}(\.\d*)?\s*", text_))
        raise Refused(
            "INVALID_AMOUNT",
            f'{what} must be a string such as "125.50" (at most two decimals)',
            242 if big else 300,
        ) from None
    if bani <= 0:
        raise Refused("INVALID_AMOUNT", f"{what} must be positive", 241)
    if bani > MAX_PAYMENT_BANI:
        raise Refused("INVALID_AMOUNT", f"{what} exceeds {format_amount(MAX_PAYMENT_BANI)}", 242)
    return bani


def _paid_at(text_: str, tz: ZoneInfo) -> tuple[datetime, date]:
    try:
        paid_at = datetime.fromisoformat(text_)
    except (ValueError, TypeError):
        paid_at = None
    if paid_at is None or paid_at.tzinfo is None:
        raise Refused("INVALID_PAID_AT", "paid_at must be ISO 8601 with an offset")
    try:  # year 1 with a positive offset is before datetime's range once in UTC
        utc = paid_at.astimezone(UTC)
        day = paid_at.astimezone(tz).date()
    except (OverflowError, ValueError):
        raise Refused("INVALID_PAID_AT", "paid_at is out of range") from None
    now = datetime.now(UTC)
    if utc > now + FUTURE_SKEW:
        raise Refused("INVALID_PAID_AT", "paid_at is in the future")
    if utc < now - PAST_LIMIT:
        raise Refused("INVALID_PAID_AT", f"paid_at is more than {PAST_LIMIT.days} days ago")
    return paid_at, day


def validate(inp: PaymentInput, tz: ZoneInfo) -> ValidPayment:
    """Check every field and compute the canonical hash; touches no database."""
    if not TXN_RE.fullmatch(inp.agent_txn_id):
        raise Refused("INVALID_TXN_ID", "agent_txn_id: 1-35 of A-Z a-z 0-9 . _ : -")
    account_no = canonical_account(inp.account_no)
    amount = wire_amount(inp.amount)
    if inp.currency != "MDL":
        raise Refused("INVALID_CURRENCY", "only MDL is accepted")
    paid_at, day = _paid_at(inp.paid_at, tz)
    if inp.invoice_no is not None and not 0 < len(inp.invoice_no) <= 32:
        raise Refused("UNKNOWN_INVOICE", "invoice_no must be 1-32 characters")
    if len(inp.services) > MAX_SERVICES:
        raise Refused("UNKNOWN_SERVICE", f"at most {MAX_SERVICES} services")
    given = [ServiceAmount(c, wire_amount(a, f"amount of {c[:32]}")) for c, a in inp.services]
    services = tuple(sorted(given, key=lambda s: (s.service_code, s.amount)))
    if services and sum(s.amount for s in services) != amount:
        raise Refused("SERVICE_SUM_MISMATCH", "service amounts must add up to the amount")
    canonical = [
        inp.agent_txn_id,
        account_no,
        amount,
        inp.currency,
        paid_at.astimezone(UTC).isoformat(),
        inp.invoice_no,
        [[s.service_code, s.amount] for s in services],
    ]
    digest = hashlib.sha256(msgspec.json.encode(canonical)).hexdigest()
    return ValidPayment(
        inp.agent_txn_id,
        account_no,
        amount,
        inp.currency,
        paid_at,
        day,
        inp.invoice_no,
        services,
        digest,
    )
