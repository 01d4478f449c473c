"""The streaming XLSX writer: what Excel (here openpyxl) reads back is what was written."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import openpyxl

from gateway.services.xlsx import Sheet, write_xlsx

DAY = date(2026, 11, 20)


def _book(data: bytes):  # type: ignore[no-untyped-def]
    return openpyxl.load_workbook(io.BytesIO(data))


def test_amounts_are_two_decimal_numbers_with_a_bold_frozen_header_and_totals():
    rows = [["POSTA", 12, "1234.50"], ["A & B <co>", 3, "-0.07"], ["", None, 99]]
    data = write_xlsx(
        DAY, [Sheet("settlements", ["who", "n", "amount"], [False, False, True], rows,
                    ("total", 15, "1234.42"))]
    )  # fmt: skip
    ws = _book(data)["settlements"]
    assert [c.value for c in ws[1]] == ["who", "n", "amount"] and ws["A1"].font.b
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:C5"
    assert ws["C2"].value == 1234.5 and ws["C2"].number_format == "#,##0.00"
    assert Decimal(str(ws["C3"].value)) == Decimal("-0.07")
    assert ws["A3"].value == "A & B <co>" and ws["B2"].value == 12
    assert ws["C4"].value == 0.99  # bani given as int
    assert ws["A5"].value == "total" and ws["C5"].font.b


def test_one_sheet_per_section_and_the_same_rows_give_the_same_bytes():
    sheets = [Sheet(n, ["a"], [True], [["1.00"]]) for n in ("one", "two")]
    first = write_xlsx(DAY, sheets)
    assert _book(first).sheetnames == ["one", "two"]
    assert write_xlsx(DAY, [Sheet(n, ["a"], [True], [["1.00"]]) for n in ("one", "two")]) == first


def test_rows_are_consumed_as_they_come():
    produced = (["x", f"{i}.00"] for i in range(10_000))
    ws = _book(write_xlsx(DAY, [Sheet("big", ["k", "v"], [False, True], produced)]))["big"]
    assert ws.max_row == 10_001 and ws["B10001"].value == 9999
