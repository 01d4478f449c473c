"""Poșta Moldovei daily payment registry (format: schemas/formats/post_registry.md).

Semicolon-separated text, one header ``H``, detail lines ``D``, one trailer ``T``. The header
and the trailer both carry the line count and the total; if either disagrees with the lines,
or the sequence numbers skip, the whole file is refused: a registry that lost a line must not
be half-applied. Amounts may use a decimal comma (the post's software writes them so).
Text is UTF-8 (with or without BOM) or cp1251 (``base.decode_text``).

A detail line may carry a ninth field, the payer's name as the clerk wrote it (debtor_name).
Each detail line becomes one record: ``external_id`` = office:payment_date:receipt_no
(unique by the post's own rules; a repeat refuses the file), ``booking_date`` = the payment
date, ``collector`` = the header's collector, ``batch_ref`` = collector:registry date.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, datetime

from connectors.formats.base import (
    Format,
    FormatError,
    amount_or_error,
    decode_text,
    register,
)
from reconciliation.model import PaymentRecord, ServiceAmount
from reconciliation.money import format_amount
from reconciliation.references import normalize_account_no

SOURCE = "post_registry"
_SERVICE_CODE = re.compile(r"[A-Z0-9_]{1,20}")


class PostRegistryFormat(Format):
    name = SOURCE

    def detect(self, head: bytes) -> bool:
        head = head.removeprefix(b"\xef\xbb\xbf")
        return re.match(rb"H;[^;\r\n]+;[^;\r\n]*;\d{2}\.\d{2}\.\d{4};\d+;", head) is not None

    def parse(self, data: bytes) -> Iterator[PaymentRecord]:
        return iter(parse_registry(data))


def parse_registry(data: bytes) -> list[PaymentRecord]:
    """All records of a registry, after every control check has passed."""
    lines = decode_text(data, "post registry").splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if len(lines) < 2:
        raise FormatError("post registry: needs a header and a trailer line")
    header = _fields(lines[0], 1, "H", 6)
    trailer = _fields(lines[-1], len(lines), "T", 3)
    collector = header[1].strip()
    if not collector:
        raise FormatError("post registry line 1: collector is empty")
    reg_date = _date(header[3], 1)
    batch_ref = f"{collector}:{reg_date.isoformat()}"
    records: list[PaymentRecord] = []
    seen: set[str] = set()
    for no, line in enumerate(lines[1:-1], start=2):
        record = _detail(
            _fields(line, no, "D", 8, optional=1), no, len(records) + 1, collector, batch_ref
        )
        if record.external_id in seen:
            raise FormatError(f"post registry line {no}: receipt {record.external_id} repeated")
        seen.add(record.external_id)
        records.append(record)
    total = sum(r.amount for r in records)
    for where, count_text, total_text in (
        ("header", header[4], header[5]),
        ("trailer", trailer[1], trailer[2]),
    ):
        _check_control(where, count_text, total_text, len(records), total)
    return records


def _fields(line: str, no: int, kind: str, count: int, optional: int = 0) -> list[str]:
    fields = line.split(";")
    if fields[0] != kind or not count <= len(fields) <= count + optional:
        raise FormatError(
            f"post registry line {no}: expected a {kind} line with {count} fields, "
            f"got {line[:60]!r}"
        )
    return fields


def _detail(f: list[str], no: int, seq: int, collector: str, batch_ref: str) -> PaymentRecord:
    where = f"post registry line {no}"
    if f[1].strip() != str(seq):
        raise FormatError(f"{where}: sequence number {f[1]!r}, expected {seq}")
    account_raw = f[2].strip()
    if not account_raw:
        raise FormatError(f"{where}: account number is empty")
    amount = amount_or_error(f[3], where, allow_comma=True)
    services = _services(f[4], where, amount)
    paid_on = _date(f[5], no)
    office, receipt = f[6].strip(), f[7].strip()
    if not office or not receipt:
        raise FormatError(f"{where}: office and receipt number are required")
    return PaymentRecord(
        source_format=SOURCE,
        external_id=f"{office}:{paid_on.isoformat()}:{receipt}",
        amount=amount,
        booking_date=paid_on,
        account_no=normalize_account_no(account_raw) or account_raw,
        debtor_name=(f[8].strip() or None) if len(f) > 8 else None,
        services=services,
        batch_ref=batch_ref,
        collector=collector,
        extra={"office": office, "receipt_no": receipt, "seq": seq},
    )


def _services(text: str, where: str, amount: int) -> tuple[ServiceAmount, ...]:
    """ "APA:120,50|TERM:300,00" -> services; when given they must add up to the amount."""
    if not text.strip():
        return ()
    services = []
    for part in text.split("|"):
        code, sep, value = part.partition(":")
        code = code.strip().upper()
        if not sep or not _SERVICE_CODE.fullmatch(code):
            raise FormatError(f"{where}: malformed service split {part!r}")
        services.append(
            ServiceAmount(code, amount_or_error(value, f"{where} {code}", allow_comma=True))
        )
    split_total = sum(s.amount for s in services)
    if split_total != amount:
        raise FormatError(
            f"{where}: services add up to {format_amount(split_total)}, "
            f"line amount is {format_amount(amount)}"
        )
    return tuple(services)


def _date(text: str, no: int) -> date:
    text = text.strip()
    for fmt in ("%d.%m.%Y", "%Y-%m-%d") if text.isascii() else ():  # strptime takes "٢٠"
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise FormatError(f"post registry line {no}: bad date {text!r} (expected DD.MM.YYYY)")


def _check_control(where: str, count_text: str, total_text: str, count: int, total: int) -> None:
    if not count_text.strip().isdigit() or int(count_text) != count:
        raise FormatError(f"post registry {where}: count {count_text!r} but {count} lines")
    declared = amount_or_error(total_text, f"post registry {where} total", allow_comma=True)
    if declared != total:
        raise FormatError(
            f"post registry {where}: total {format_amount(declared)} "
            f"but the lines add up to {format_amount(total)}"
        )


POST_REGISTRY = register(PostRegistryFormat())
