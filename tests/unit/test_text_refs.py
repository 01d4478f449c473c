"""Reading references out of messy payment texts (Romanian and Russian)."""

from __future__ import annotations

import pytest

from reconciliation.references import make_account_no, make_rf
from reconciliation.text_refs import extract, normalize, read_lookalikes

ACC = make_account_no(1234567)  # "12345671"
PRINTED = f"{ACC[:7]}-{ACC[7]}"  # "1234567-1"


def accounts(text):
    return [(m.digits, m.anchored, m.valid) for m in extract(text).of_kind("account")]


def test_normalize_folds_case_and_diacritics_keeping_length():
    text = "Plată ȘI ţară Înscris Лицевой счёт"
    out = normalize(text)
    assert out == "plata si tara inscris лицевои счет"
    assert len(out) == len(text)


def test_lookalikes_are_read_only_inside_number_tokens():
    assert read_lookalikes("c/p l234567-1") == "c/p 1234567-1"
    assert read_lookalikes(normalize("cont 1O23456-7")) == "cont 1023456-7"
    assert read_lookalikes("л/с 1234567-о") == "л/с 1234567-о"  # a lone letter stays
    assert read_lookalikes("л/с 12з4о67") == "л/с 12з4о67"  # з is not a look-alike here
    assert read_lookalikes("л/с 1234о67-1") == "л/с 1234067-1"  # Cyrillic о
    assert read_lookalikes("lol bool 12 io") == "lol bool 12 io"


@pytest.mark.parametrize(
    "text",
    [
        f"Plata pentru cont personal {PRINTED} noiembrie",
        f"PLATA PENTRU CONTUL PERSONAL NR. {PRINTED}",
        f"л/с {ACC[:7]} {ACC[7]} за ноябрь",
        f"Лицевой счёт: {PRINTED}, сумма 150,00 лей, 12.11.2026",
        f"c/p {PRINTED.replace('1', 'l', 1)}",
        f"tel 069123456 cont {ACC}",
        f"cp{ACC}",
        f"cont pers. {ACC[0]} {ACC[1:4]} {ACC[4:7]}-{ACC[7]}",
        f"л.с. № {PRINTED} апрель",
        f"cont personal — {ACC[:7]}–{ACC[7]}",  # typographic dashes
    ],
)
def test_keyword_anchored_account_is_found_and_valid(text):
    assert accounts(text) == [(ACC, True, True)]


def test_lookalike_mention_is_marked():
    (m,) = extract(f"c/p {PRINTED.replace('1', 'l', 1)}").accounts
    assert m.lookalike and m.layout == "printed"


def test_bare_number_is_not_anchored_and_layout_is_reported():
    (m,) = extract(f"plata {ACC} noiembrie").accounts
    assert (m.anchored, m.layout, m.valid) == (False, "plain", True)


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("tel 069123456", "phone"),
        ("tel. 69123456", "phone"),
        ("+373 69 123 456", "phone"),
        ("0 69 123 456", "phone"),
        ("022 23 45 67", "phone"),
        ("din 12.11.2026", "date"),
        ("perioada 2026-11", "date"),
        ("luna 11/2026", "date"),
        ("suma 150.00", "amount"),
        ("suma 150,00 lei", "amount"),
        ("10000 lei", "amount"),
    ],
)
def test_phones_dates_and_amounts_are_never_accounts(text, kind):
    refs = extract(text)
    assert refs.of_kind("account") == ()
    assert kind in {k for k, _ in refs.masked}


def test_invoice_number_is_reported_and_not_an_account():
    refs = extract("factura nr 2026110012345")
    assert [i.invoice_no for i in refs.invoices if i.anchored] == ["2026110012345"]
    assert refs.accounts == ()


def test_russian_invoice_keyword():
    refs = extract("оплата по квитанции? квитанция № 2026110012345")
    assert "2026110012345" in [i.invoice_no for i in refs.invoices]


def test_rf_reference_is_extracted_separately_and_validated():
    rf = make_rf("2026110012345")
    spaced = " ".join(rf[i : i + 4] for i in range(0, len(rf), 4))
    refs = extract(f"plata {spaced} apa")
    assert [(r.ref, r.valid) for r in refs.rf_refs] == [(rf, True)]
    assert refs.accounts == ()
    bad = extract("plata RF00 2026 1100 1234 5")
    assert [r.valid for r in bad.rf_refs] == [False]
    assert bad.accounts == ()


def test_several_accounts_are_all_reported():
    other = make_account_no(2345678)
    found = accounts(f"cont {ACC} si {other}")
    assert found == [(ACC, True, True), (other, False, True)]


def test_typo_fails_the_check_digit():
    typo = ACC[:7] + str((int(ACC[7]) + 1) % 10)
    assert accounts(f"cont personal {typo}") == [(typo, True, False)]


def test_seven_digits_is_a_base_missing_its_check_digit():
    refs = extract(f"л/с {ACC[:7]}")
    assert [(m.kind, m.digits, m.anchored) for m in refs.accounts] == [("base", ACC[:7], True)]


def test_name_and_address_only_has_no_numbers_of_interest():
    refs = extract("Popescu Ion, str. Decebal 99/2 ap. 15")
    assert refs.accounts == () and refs.long_numbers == 0


def test_iban_is_masked():
    refs = extract("din MD24AG000225100013104168 cont " + ACC)
    assert [m.digits for m in refs.of_kind("account")] == [ACC]


def test_empty_text():
    assert extract(None).accounts == () and extract("").normalized == ""
