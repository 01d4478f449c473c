"""The parts a report is made of: tables (``Section``) and red lines (``Finding``).

A section is named columns and rows, amounts in bani; the JSON, CSV and XLSX exports render
every section alike from ``Column.kind``. Pure, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reconciliation.money import format_amount


class FindingKind(StrEnum):
    STATEMENT_BREAK = "statement_break"  # opening != previous closing
    STATEMENT_GAP = "statement_gap"  # sequence number skipped
    STATEMENT_UNBALANCED = "statement_unbalanced"  # opening + credits - debits != closing
    STATEMENT_FINDING = "statement_finding"  # stored by the bank-file parser at ingest
    LUMP_SUM_MISSING = "lump_sum_missing"  # a registry whose lump sum has not arrived
    SETTLEMENT_DIFFERENCE = "settlement_difference"  # lump sum and registry disagree
    LUMP_SUM_UNMATCHED = "lump_sum_unmatched"  # a collector's credit with no registry
    REVERSAL_UNMATCHED = "reversal_unmatched"  # a storno whose original was not found
    EQUATION = "equation"  # a bank account's credits not accounted for exactly once


class ColumnKind(StrEnum):
    TEXT = "text"
    AMOUNT = "amount"  # bani in the model, two decimals in every export
    COUNT = "count"


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: ColumnKind = ColumnKind.TEXT


@dataclass(slots=True)
class Section:
    """One table of the report; rows hold bani for AMOUNT columns."""

    name: str
    title: str
    columns: tuple[Column, ...]
    rows: list[tuple] = field(default_factory=list)
    totals: tuple | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "title": self.title,
            "columns": [{"name": c.name, "kind": c.kind.value} for c in self.columns],
            "rows": [self._cells(r) for r in self.rows],
            "totals": self._cells(self.totals) if self.totals else None,
        }

    def _cells(self, row: tuple) -> list:
        return [
            format_amount(v) if c.kind is ColumnKind.AMOUNT and v is not None else v
            for c, v in zip(self.columns, row, strict=True)
        ]


def totals_row(label: str, columns: Sequence[Column], rows: Iterable[tuple]) -> tuple:
    """A totals row: the label in the first column, sums under amount and count columns."""
    sums: list[Any] = [label] + [None] * (len(columns) - 1)
    for row in rows:
        for i, c in enumerate(columns):
            if c.kind is not ColumnKind.TEXT and row[i] is not None:
                sums[i] = (sums[i] or 0) + row[i]
    return tuple(sums)


@dataclass(frozen=True, slots=True)
class Finding:
    """A red line. ``key`` is stable across runs: acknowledgements refer to it."""

    key: str
    kind: FindingKind
    subject: str
    difference: int  # bani
    detail: str
    ack_comment: str | None = None
    ack_by: str | None = None

    @property
    def open(self) -> bool:
        return not self.ack_comment
