"""Terminal operators' JSON feed pages (format: schemas/formats/terminal_feed.md).

One page is one JSON object with the operator's name, the paging cursors and a list of
transactions. Amounts must be JSON strings ("12.30"): a JSON number would reach Python as a
binary float in most clients, so the feed contract forbids it and we refuse it. ``paid_at``
must carry a UTC offset; the record's ``booking_date`` is its date in the billing centre's
time zone (``ReadOptions.timezone``, from ``Settings.timezone``), which is the payment's
business day (in Chisinau a payment at 23:30 UTC on 14 November counts for the 15th).
``external_id`` is the operator's ``txn_id``; a repeat within the page refuses the page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors.formats.base import (
    DEFAULT_OPTIONS,
    FileReading,
    Format,
    FormatError,
    ReadOptions,
    amount_or_error,
    register,
)
from reconciliation.model import CITY_TIMEZONE, PaymentRecord, ServiceAmount
from reconciliation.money import format_amount
from reconciliation.references import normalize_account_no

SOURCE = "terminal"
_SERVICE_CODE = re.compile(r"[A-Z0-9_]{1,20}")


class TerminalFeedFormat(Format):
    name = SOURCE

    def detect(self, head: bytes) -> bool:
        head = head.removeprefix(b"\xef\xbb\xbf").lstrip()
        return head.startswith(b"{") and b'"transactions"' in head and b'"operator"' in head

    def parse(self, data: bytes) -> Iterator[PaymentRecord]:
        return iter(parse_page(data))

    def read(self, source: bytes | Path, options: ReadOptions = DEFAULT_OPTIONS) -> FileReading:
        data = source.read_bytes() if isinstance(source, Path) else source
        return FileReading(iter(parse_page(data, options.timezone)))


def load_page(data: bytes) -> dict[str, Any]:
    """The page as a dict, with its envelope checked (operator, cursors, transactions)."""
    try:
        page = json.loads(data.decode("utf-8-sig"), parse_float=Decimal)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise FormatError(f"terminal feed: not valid UTF-8 JSON ({str(exc)[:120]})") from None
    if not isinstance(page, dict):
        raise FormatError("terminal feed: the page must be a JSON object")
    operator = page.get("operator")
    if not isinstance(operator, str) or not operator.strip():
        raise FormatError("terminal feed: operator must be a non-empty string")
    for key in ("cursor", "next_cursor"):
        if page.get(key) is not None and not isinstance(page[key], str):
            raise FormatError(f"terminal feed: {key} must be a string or null")
    if not isinstance(page.get("has_more", False), bool):
        raise FormatError("terminal feed: has_more must be true or false")
    if page.get("has_more") and not page.get("next_cursor"):
        raise FormatError("terminal feed: has_more is true but next_cursor is missing")
    if not isinstance(page.get("transactions"), list):
        raise FormatError("terminal feed: transactions must be a list")
    return page


def parse_page(data: bytes, timezone: str = CITY_TIMEZONE) -> list[PaymentRecord]:
    """Every transaction of one page, as records dated by their day in ``timezone``."""
    zone = ZoneInfo(timezone)
    page = load_page(data)
    operator = page["operator"].strip()
    records = []
    seen: set[str] = set()
    for i, txn in enumerate(page["transactions"], start=1):
        record = _record(txn, f"terminal feed transaction {i}", operator, zone)
        if record.external_id in seen:
            raise FormatError(
                f"terminal feed transaction {i}: txn_id {record.external_id} repeated"
            )
        seen.add(record.external_id)
        records.append(record)
    return records


def _text(txn: dict[str, Any], key: str, where: str) -> str:
    value = txn.get(key)
    if not isinstance(value, str) or not value.strip():
        raise FormatError(f"{where}: {key} must be a non-empty string")
    return value.strip()


def _record(txn: Any, where: str, operator: str, zone: ZoneInfo) -> PaymentRecord:
    if not isinstance(txn, dict):
        raise FormatError(f"{where}: must be a JSON object")
    txn_id = _text(txn, "txn_id", where)
    where = f"{where} ({txn_id})"
    account = _text(txn, "account", where)
    amount = amount_or_error(_text(txn, "amount", where), where)
    paid_at = _paid_at(_text(txn, "paid_at", where), where)
    return PaymentRecord(
        source_format=SOURCE,
        external_id=txn_id,
        amount=amount,
        booking_date=paid_at.astimezone(zone).date(),
        account_no=normalize_account_no(account) or account,
        services=_services(txn.get("services"), where, amount),
        collector=operator,
        extra={"paid_at": paid_at.isoformat()},
    )


def _paid_at(text: str, where: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise FormatError(f"{where}: paid_at {text!r} is not ISO-8601") from None
    if when.tzinfo is None or when.utcoffset() is None:
        raise FormatError(f"{where}: paid_at {text!r} has no UTC offset")
    return when


def _services(value: Any, where: str, amount: int) -> tuple[ServiceAmount, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise FormatError(f"{where}: services must be a list")
    services = []
    for item in value:
        if not isinstance(item, dict):
            raise FormatError(f"{where}: each service must be an object")
        code = _text(item, "service_code", where).upper()
        if not _SERVICE_CODE.fullmatch(code):
            raise FormatError(f"{where}: bad service code {code!r}")
        services.append(ServiceAmount(code, amount_or_error(_text(item, "amount", where), where)))
    split_total = sum(s.amount for s in services)
    if services and split_total != amount:
        raise FormatError(
            f"{where}: services add up to {format_amount(split_total)}, "
            f"amount is {format_amount(amount)}"
        )
    return tuple(services)


TERMINAL = register(TerminalFeedFormat())
