"""The daily report as bytes: JSON, CSV and XLSX carry the same sections.

All three render the report's JSON form (``DailyReport.to_json()``), which is also what a
closed day stores, so a report and its snapshot can never disagree. Every renderer is
deterministic: the same report gives the same bytes (the XLSX creation date is the business
day, and XlsxWriter writes fixed timestamps into the zip).

- JSON: ``{"day", "balanced", "closable", "sections": [{name, title, columns: [{name,
  kind}], rows, totals}], "findings": [...]}``; amounts are strings with two decimals.
- CSV: the sections one after the other, each as a row ``## <name>``, its header row, its
  rows, its totals row (first cell ``total``) when it has one, then an empty row.
- XLSX: one sheet per section (named after it), bold frozen header with an autofilter,
  amounts as numbers formatted ``#,##0.00``, a bold totals row. Excel keeps numbers as
  binary doubles; every amount up to ten billion lei is exact to the ban in one.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import xlsxwriter

from gateway.errors import UserError


class ReportFormat(StrEnum):
    JSON = "json"
    CSV = "csv"
    XLSX = "xlsx"


def parse_format(fmt: ReportFormat | str) -> ReportFormat:
    try:
        return ReportFormat(fmt)
    except ValueError:
        raise UserError(f"unknown format {fmt!r} (xlsx, csv or json)") from None


def render(report: dict[str, Any], fmt: ReportFormat | str) -> bytes:
    fmt = parse_format(fmt)
    if fmt is ReportFormat.JSON:
        return to_json(report)
    if fmt is ReportFormat.CSV:
        return to_csv(report)
    return to_xlsx(report)


def to_json(report: dict[str, Any]) -> bytes:
    return (json.dumps(report, ensure_ascii=False, indent=1, sort_keys=True) + "\n").encode()


def to_csv(report: dict[str, Any]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["# daily report", report["day"]])
    w.writerow([])
    for section in report["sections"]:
        w.writerow([f"## {section['name']}"])
        w.writerow([c["name"] for c in section["columns"]])
        w.writerows([_csv_cell(v) for v in row] for row in section["rows"])
        if section["totals"]:
            w.writerow([_csv_cell(v) for v in section["totals"]])
        w.writerow([])
    return out.getvalue().encode()


def _csv_cell(value: Any) -> Any:
    return "" if value is None else value


def to_xlsx(report: dict[str, Any]) -> bytes:
    day = date.fromisoformat(report["day"])
    return write_xlsx(
        day,
        (
            (
                s["name"],
                [c["name"] for c in s["columns"]],
                [c["kind"] == "amount" for c in s["columns"]],
                s["rows"],
                s["totals"],
            )
            for s in report["sections"]
        ),
    )


Sheet = tuple[str, list[str], list[bool], Iterable[list], list | None]


def write_xlsx(day: date, sheets: Iterable[Sheet]) -> bytes:
    """Sheets of (name, header, which columns are amounts, rows, totals) as XLSX bytes.

    Rows stream through XlsxWriter's constant-memory mode (each row is flushed to its sheet's
    temporary file as soon as the next begins), so memory is flat in the number of rows.
    Amount cells may be text ("12.30") or bani (int) and are written as numbers.
    """
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"constant_memory": True, "in_memory": False})
    wb.set_properties({"created": datetime.combine(day, datetime.min.time())})
    bold = wb.add_format({"bold": True})
    money = wb.add_format({"num_format": "#,##0.00"})
    money_bold = wb.add_format({"num_format": "#,##0.00", "bold": True})
    for name, header, amounts, rows, totals in sheets:
        ws = wb.add_worksheet(name[:31])
        ws.write_row(0, 0, header, bold)
        ws.freeze_panes(1, 0)
        n = 0
        for n, row in enumerate(rows, start=1):
            _write_row(ws, n, row, amounts, money, None)
        if totals:
            n += 1
            _write_row(ws, n, totals, amounts, money_bold, bold)
        ws.autofilter(0, 0, max(n, 1), len(header) - 1)
        ws.set_column(0, len(header) - 1, 16)
    wb.close()
    return buf.getvalue()


def _write_row(ws, r: int, row: list, amounts: list[bool], money, text_fmt) -> None:  # type: ignore[no-untyped-def]
    for c, value in enumerate(row):
        if value is None or value == "":
            continue
        if amounts[c]:
            ws.write_number(r, c, _number(value), money)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            ws.write_number(r, c, value, text_fmt)
        else:
            ws.write_string(r, c, str(value), text_fmt)


def _number(value: Any) -> float:
    """Amount text ("12.30") or bani as the double Excel stores: the nearest double to the
    exact decimal (float() of the text rounds correctly), exact to the ban below 10^13."""
    if isinstance(value, int):
        return value / 100
    return float(value)
