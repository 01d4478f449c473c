"""`gateway export payments|allocations --day D --out F.csv`, per the contract in DESIGN.md.

Rows are ordered by id so that re-exporting a day gives byte-identical files: allocations
are append-only, so a day's rows never change once written (later corrections land on the
day they are made). A payment's status can still change (a review item resolved later), so
a closed day's exports are the bytes stored at its close (``day_close.frozen_export``).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import TextIO

from sqlalchemy import Connection, Engine, select

from gateway.db import reading
from gateway.errors import UserError
from gateway.services.allocation_names import named_allocations
from gateway.services.frozen import frozen_export
from gateway.services.xlsx import Sheet, write_xlsx
from reconciliation.money import format_amount
from schemas.tables import (
    accounts,
    allocations,
    invoices,
    payments,
    providers,
    services,
)

PAYMENT_COLUMNS = [
    "payment_id",
    "source",
    "channel",
    "external_id",
    "end_to_end_id",
    "business_day",
    "amount",
    "status",
    "account_no",
    "reason",
]
ALLOCATION_COLUMNS = [
    "payment_id",
    "account_no",
    "invoice_no",
    "service_code",
    "provider_code",
    "amount",
    "kind",
]


class ExportKind(StrEnum):
    PAYMENTS = "payments"
    ALLOCATIONS = "allocations"


def export(engine: Engine, kind: str, day: date, out: Path, fmt: str = "csv") -> int:
    """Write the day's rows (a closed day's frozen rows) as CSV or XLSX; returns the number
    of data rows. The XLSX of a closed day is rendered from its frozen CSV, so it too is the
    same bytes every time."""
    try:
        kind = ExportKind(kind)
    except ValueError:
        raise UserError(f"unknown export {kind!r} (payments or allocations)") from None
    if fmt not in ("csv", "xlsx"):
        raise UserError(f"unknown format {fmt!r} (csv or xlsx)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with reading(engine) as conn:
        frozen = frozen_export(conn, day, f"{kind.value}.csv")
        if frozen is not None and fmt == "csv":
            out.write_bytes(frozen)
            return frozen.count(b"\n") - 1
        if frozen is not None:
            rows = csv.reader(io.StringIO(frozen.decode()))
            next(rows)
            return write_xlsx_rows(kind, day, rows, out)
        if fmt == "xlsx":
            return write_xlsx_rows(kind, day, _rows(conn, kind, day), out)
        with open(out, "w", newline="", encoding="utf-8") as fh:
            return write_csv(conn, kind, day, fh)


def write_xlsx_rows(kind: ExportKind, day: date, rows: Iterable[list], out: Path) -> int:
    """One sheet of the export's rows, streamed (constant memory), amounts as numbers."""
    header = PAYMENT_COLUMNS if kind is ExportKind.PAYMENTS else ALLOCATION_COLUMNS
    counted = _Counter(rows)
    amounts = [c == "amount" for c in header]
    out.write_bytes(write_xlsx(day, [Sheet(kind.value, header, amounts, counted)]))
    return counted.n


class _Counter:
    def __init__(self, rows: Iterable[list]) -> None:
        self.rows, self.n = rows, 0

    def __iter__(self) -> Iterator[list]:
        for row in self.rows:
            self.n += 1
            yield row


def _rows(conn: Connection, kind: ExportKind, day: date) -> Iterator[list]:
    return _payment_rows(conn, day) if kind is ExportKind.PAYMENTS else _allocation_rows(conn, day)


def write_csv(conn: Connection, kind: ExportKind, day: date, fh: TextIO) -> int:
    """Stream the day's rows as CSV into a text file; returns the number of data rows."""
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(PAYMENT_COLUMNS if kind is ExportKind.PAYMENTS else ALLOCATION_COLUMNS)
    n = 0
    for row in _rows(conn, kind, day):
        writer.writerow(row)
        n += 1
    return n


def export_bytes(conn: Connection, kind: ExportKind, day: date) -> bytes:
    """The day's live CSV as bytes (what a close stores)."""
    buf = io.StringIO()
    write_csv(conn, kind, day, buf)
    return buf.getvalue().encode()


def _payment_rows(conn: Connection, day: date) -> Iterator[list]:
    p = payments
    q = (
        select(
            p.c.id,
            p.c.source,
            p.c.channel,
            p.c.external_id,
            p.c.end_to_end_id,
            p.c.business_day,
            p.c.amount,
            p.c.status,
            p.c.account_no,
            p.c.reason,
        )
        .where(p.c.business_day == day)
        .order_by(p.c.id)
    )
    for r in conn.execute(q):
        yield [
            r.id,
            r.source,
            r.channel,
            r.external_id,
            r.end_to_end_id or "",
            r.business_day.isoformat(),
            format_amount(r.amount),
            r.status,
            r.account_no or "",
            r.reason or "",
        ]


def _allocation_rows(conn: Connection, day: date) -> Iterator[list]:
    a = allocations
    q = (
        select(
            a.c.payment_id,
            accounts.c.account_no,
            invoices.c.invoice_no,
            services.c.code,
            providers.c.code,
            a.c.amount,
            a.c.kind,
        )
        .select_from(named_allocations())
        .where(a.c.business_day == day)
        .order_by(a.c.id)
    )
    for r in conn.execute(q):
        yield [r[0], r[1], r[2] or "", r[3] or "", r[4] or "", format_amount(r[5]), r[6]]
