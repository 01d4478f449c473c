"""Pairing collectors' registries with their lump sums: fees, lags, names, leftovers."""

from __future__ import annotations

import unicodedata
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from reconciliation.settlement import Collector, Credit, RegistryBatch, fold, identify, settle

POSTA = Collector(
    "POSTA",
    "Poșta Moldovei",
    ibans=("MD00POSTA",),
    name_patterns=("posta",),
    fee_max_permille=15,
    lag_days=3,
)
DAY = date(2026, 11, 20)


def _batch(total: int, ref: str = "POSTA:2026-11-20", day: date = DAY) -> RegistryBatch:
    return RegistryBatch("POSTA", ref, day, total, 10)


def test_exact_lump_sum_settles() -> None:
    lines, left = settle([_batch(100000)], [Credit(1, "POSTA", DAY, 100000)], [POSTA])
    assert [(ln.status, ln.credit_id, ln.difference) for ln in lines] == [("settled", 1, 0)]
    assert left == []


def test_fee_netted_within_limit_is_fee_beyond_is_not_paired() -> None:
    lines, _ = settle([_batch(100000)], [Credit(1, "POSTA", DAY, 98500)], [POSTA])
    assert (lines[0].status, lines[0].difference) == ("fee", -1500)
    lines, left = settle([_batch(100000)], [Credit(1, "POSTA", DAY, 98000)], [POSTA])
    assert lines[0].status == "unsettled" and [c.payment_id for c in left] == [1]


def test_value_date_lag_is_bounded() -> None:
    late = Credit(1, "POSTA", date(2026, 11, 23), 100000)
    too_late = Credit(2, "POSTA", date(2026, 11, 24), 100000)
    assert settle([_batch(100000)], [late], [POSTA])[0][0].status == "settled"
    assert settle([_batch(100000)], [too_late], [POSTA])[0][0].status == "unsettled"
    early = Credit(3, "POSTA", date(2026, 11, 19), 100000)
    assert settle([_batch(100000)], [early], [POSTA])[0][0].status == "unsettled"


def test_named_registry_pairs_despite_a_shortfall_and_reports_difference() -> None:
    credit = Credit(1, "POSTA", DAY, 90000, remittance="Registru POSTA:2026-11-20 incasari")
    lines, _ = settle([_batch(100000)], [credit], [POSTA])
    assert (lines[0].status, lines[0].difference) == ("difference", -10000)


def test_each_credit_settles_one_registry_the_exact_one_preferred() -> None:
    b1 = _batch(50000, "POSTA:A")
    b2 = _batch(70000, "POSTA:B")
    credits = [Credit(1, "POSTA", DAY, 69500), Credit(2, "POSTA", DAY, 50000)]
    lines, left = settle([b1, b2], credits, [POSTA])
    got = {ln.batch_ref: (ln.credit_id, ln.status) for ln in lines}
    assert got == {"POSTA:A": (2, "settled"), "POSTA:B": (1, "fee")}
    assert left == []


def test_other_collectors_credits_never_pair() -> None:
    lines, left = settle([_batch(100)], [Credit(1, "QIWI", DAY, 100)], [POSTA])
    assert lines[0].status == "unsettled" and len(left) == 1


def test_identify_by_iban_or_name() -> None:
    assert identify([POSTA], "MD00 POSTA", None) == "POSTA"
    assert identify([POSTA], None, "Î.S. POȘTA MOLDOVEI") == "POSTA"
    assert identify([POSTA], "MD00OTHER", "Ion Rusu") is None


@given(st.text())
def test_fold_is_casefold_without_any_combining_mark(text: str) -> None:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    expected = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    assert fold(text) == expected


def test_fold_folds_romanian_and_russian_names() -> None:
    assert fold("Poșta Moldovei ÎS") == "posta moldovei is"
    assert fold("ИВАНОВ Ёлкин") == "иванов елкин"
