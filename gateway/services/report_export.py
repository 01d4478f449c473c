"""The daily report as bytes: JSON, CSV and XLSX carry the same sections.

All three render the report's JSON form (``DailyReport.to_json()``), which is also what a
closed day stores, so a report and its snapshot can never disagree. Every renderer is
deterministic: the same report gives the same bytes (the XLSX creation date is the business
day, its zip timestamps fixed).

- JSON: ``{"day", "balanced", "closable", "sections": [{name, title, columns: [{name,
  kind}], rows, totals}], "findings": [...]}``; amounts are strings with two decimals.
- CSV: the sections one after the other, each as a row ``## <name>``, its header row, its
  rows, its totals row (first cell ``total``) when it has one, then an empty row.
- XLSX (``gateway.services.xlsx``): one sheet per section (named after it), bold frozen
  header with an autofilter, amounts as numbers formatted ``#,##0.00``, a bold totals row.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date
from enum import StrEnum
from typing import Any

from gateway.errors import UserError
from gateway.services.xlsx import Sheet, write_xlsx


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
            Sheet(
                s["name"],
                [c["name"] for c in s["columns"]],
                [c["kind"] == "amount" for c in s["columns"]],
                s["rows"],
                s["totals"],
            )
            for s in report["sections"]
        ),
    )
