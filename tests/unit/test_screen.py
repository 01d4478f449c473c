"""reconciliation.screen: records fitted to the columns and checked for plausible dates."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from connectors.config import parse_config
from reconciliation.model import AllocationRow, PaymentRecord
from reconciliation.screen import Plausibility, implausible_credit, screen

TODAY = date(2026, 12, 2)
WINDOW = Plausibility().window(TODAY)
LIMITS = {"external_id": 128, "debtor_name": 200, "currency": 3, "account_servicer_ref": 64}


def _rec(**kw: object) -> PaymentRecord:
    return PaymentRecord(**{"source_format": "camt053", "external_id": "X1", "amount": 100,
                            "booking_date": TODAY, **kw})  # fmt: skip


def test_a_plain_record_passes_unchanged() -> None:
    r = _rec()
    assert screen(r, LIMITS, WINDOW).record is r and screen(r, LIMITS, WINDOW).reason is None


def test_window_edges() -> None:
    assert (date(2024, 12, 2), date(2027, 1, 2)) == WINDOW
    assert screen(_rec(booking_date=date(2024, 12, 2)), LIMITS, WINDOW).reason is None
    late = screen(_rec(value_date=date(2027, 1, 3)), LIMITS, WINDOW)
    assert late.reason == "IMPLAUSIBLE_DATE" and late.record.business_day() is None


def test_windows_never_overflow() -> None:
    huge = Plausibility(past_days=10**9, future_days=10**9)
    first, last = huge.window(TODAY)
    assert first.year >= 1900 and last.year <= 9000


def test_over_long_texts_are_cut_ids_hashed_currency_not_cut_into_mdl() -> None:
    out = screen(_rec(external_id="E" * 300, debtor_name="n" * 500, currency="MDLX"), LIMITS,
                 WINDOW)  # fmt: skip
    assert out.reason == "FIELD_TOO_LONG"
    assert out.record.external_id.startswith("sha256:") and len(out.record.external_id) == 71
    assert out.record.debtor_name == "n" * 200 and out.record.currency == "XXX"
    again = screen(_rec(external_id="E" * 300), LIMITS, WINDOW)
    assert again.record.external_id == out.record.external_id  # stable on a re-run


def test_implausible_credit_counts_advance_rows_only() -> None:
    rows = [
        AllocationRow("A", 1, "I1", "S", "P", 500),
        AllocationRow("A", None, None, None, None, 2000),
    ]
    assert implausible_credit(rows, 1999) and not implausible_credit(rows, 2000)


def test_plausibility_from_toml() -> None:
    raw = {"plausibility": {"past_days": 30, "future_days": 2, "max_advance_credit": "500.00"}}
    cfg = parse_config(raw, base_dir=Path("."))
    assert cfg.plausibility == Plausibility(30, 2, 50000)
