"""Compensation registries: the government's "Ajutor la contor" and the city's own
(format: schemas/formats/compensation.md).

Comma-separated UTF-8 (cp1251 tolerated): line 1 is the header record
``H,program,period,payer,created_on,count,total``, line 2 the column names
``account_no,service_code,period,amount``, then one row per account and service. The count
and total in the header must match the rows or the whole file is refused. Each row becomes a
record with one ``ServiceAmount`` (compensation is always for a named service), ``period``
set, ``collector`` = payer, ``batch_ref`` = payer:program:period, ``booking_date`` = the
registry's ``created_on``. Rows have no id of their own, so ids are derived
(``base.derive_ids``): the same registry parsed twice gives the same ids.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date

from connectors.formats.base import (
    Format,
    FormatError,
    amount_or_error,
    decode_text,
    derive_ids,
    register,
)
from reconciliation.model import PaymentRecord, ServiceAmount
from reconciliation.money import format_amount
from reconciliation.references import normalize_account_no

SOURCE = "compensation"
COLUMNS = ["account_no", "service_code", "period", "amount"]
_PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
_CODE = re.compile(r"[A-Z0-9_]{1,32}")


class CompensationFormat(Format):
    name = SOURCE

    def detect(self, head: bytes) -> bool:
        head = head.removeprefix(b"\xef\xbb\xbf")
        return (
            re.match(rb"H,[A-Z0-9_]+,\d{4}-\d{2},[^,\r\n]+,[^\r\n]*\r?\naccount_no,", head)
            is not None
        )

    def parse(self, data: bytes) -> Iterator[PaymentRecord]:
        return derive_ids(parse_registry(data))


def parse_registry(data: bytes) -> list[PaymentRecord]:
    """Every row as a record, after the header's control figures were checked."""
    try:
        rows = list(csv.reader(io.StringIO(decode_text(data, "compensation registry"), newline="")))
    except csv.Error as exc:
        raise FormatError(f"compensation registry: not readable as CSV ({exc})") from None
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()
    if len(rows) < 2 or len(rows[0]) != 7 or rows[0][0] != "H":
        raise FormatError(
            "compensation registry line 1: expected H,program,period,payer,created_on,count,total"
        )
    if [c.strip() for c in rows[1]] != COLUMNS:
        raise FormatError(f"compensation registry line 2: expected columns {','.join(COLUMNS)}")
    _, program, period, payer, created, count_text, total_text = (c.strip() for c in rows[0])
    if not _CODE.fullmatch(program) or not payer:
        raise FormatError("compensation registry line 1: program and payer are required")
    _period(period, 1)
    try:
        created_on = date.fromisoformat(created)
    except ValueError:
        raise FormatError(f"compensation registry line 1: bad created_on {created!r}") from None
    batch_ref = f"{payer}:{program}:{period}"
    records = [
        _row(row, no, created_on, period, payer, program, batch_ref)
        for no, row in enumerate(rows[2:], start=3)
    ]
    _check_control(count_text, total_text, records)
    return records


def _period(text: str, no: int) -> str:
    if not _PERIOD.fullmatch(text):
        raise FormatError(f"compensation registry line {no}: bad period {text!r} (YYYY-MM)")
    return text


def _row(
    row: list[str], no: int, created_on: date, period: str, payer: str, program: str, batch_ref: str
) -> PaymentRecord:
    where = f"compensation registry line {no}"
    if len(row) != len(COLUMNS):
        raise FormatError(f"{where}: expected {len(COLUMNS)} fields, got {len(row)}")
    account, service, row_period, amount_text = (c.strip() for c in row)
    if not account or not _CODE.fullmatch(service.upper()):
        raise FormatError(f"{where}: account_no and service_code are required")
    amount = amount_or_error(amount_text, where)
    return PaymentRecord(
        source_format=SOURCE,
        external_id="",
        amount=amount,
        booking_date=created_on,
        account_no=normalize_account_no(account) or account,
        services=(ServiceAmount(service.upper(), amount),),
        batch_ref=batch_ref,
        period=_period(row_period or period, no),
        collector=payer,
        extra={"program": program, "line": no},
    )


def _check_control(count_text: str, total_text: str, records: list[PaymentRecord]) -> None:
    if not count_text.isdigit() or int(count_text) != len(records):
        raise FormatError(
            f"compensation registry header: count {count_text!r} but {len(records)} rows"
        )
    declared = amount_or_error(total_text, "compensation registry header total")
    total = sum(r.amount for r in records)
    if declared != total:
        raise FormatError(
            f"compensation registry header: total {format_amount(declared)} "
            f"but the rows add up to {format_amount(total)}"
        )


COMPENSATION = register(CompensationFormat())
