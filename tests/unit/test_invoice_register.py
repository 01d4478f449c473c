"""The register reader refuses a bad register with file, line and reason; one test per rule."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from connectors.formats.base import FormatError
from connectors.formats.invoice_register import COLUMNS, RegisterError, read_register, rf_is_valid
from reconciliation.references import make_account_no, make_rf, normalize_rf

ACC1, ACC2 = make_account_no(1234567), make_account_no(7654321)


def base_register() -> dict[str, list[list[str]]]:
    """A small valid register: two accounts, two invoices, four lines."""
    inv = ["AV26110000001", ACC1, "2026-11", "2026-11-05", "2026-11-25", make_rf("AV26110000001")]
    inv2 = ["AV26110000002", ACC2, "2026-11", "2026-11-05", "2026-11-25", make_rf("AV26110000002")]
    return {
        "providers.csv": [
            ["APACANAL", "S.A. Apă-Canal Chișinău", "MD24AG000225100013104168"],
            ["TERMO", "S.A. Termoelectrica", "MD24AG000225100013104169"],
        ],
        "services.csv": [["APARECE", "apă rece"], ["INCALZ", "încălzire"], ["SOLD", "sold"]],
        "managers.csv": [["IMGFL-1", "Î.M. nr. 1"]],
        "accounts.csv": [
            [ACC1, "IMGFL-1", "Mariana Țurcanu", "str. Ismail 86, ap. 12", "open"],
            [ACC2, "IMGFL-1", "Иван Петров", "bd. Dacia 27/1, ap. 45", "closed"],
        ],
        "invoices.csv": [
            [*inv, "APARECE", "APACANAL", "120.50"],
            [*inv, "INCALZ", "TERMO", "1234.00"],
            [*inv, "SOLD", "TERMO", "-15.00"],
            [*inv2, "APARECE", "APACANAL", "99.99"],
        ],
    }


def write(folder: Path, files: dict[str, list[list[str]]], headers=None) -> Path:  # type: ignore[no-untyped-def]
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in files.items():
        with (folder / name).open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow((headers or {}).get(name, COLUMNS[name]))
            w.writerows(rows)
    return folder


def refused(tmp_path: Path, files, headers=None) -> RegisterError:  # type: ignore[no-untyped-def]
    with pytest.raises(RegisterError) as info:
        read_register(write(tmp_path / "reg", files, headers))
    return info.value


def test_valid_register_is_read_into_invoices_with_lines_in_bani(tmp_path: Path) -> None:
    reg = read_register(write(tmp_path / "reg", base_register()))
    assert reg.periods == ("2026-11",)
    assert reg.line_count == 4
    inv = reg.invoices["AV26110000001"]
    assert inv.account_no == ACC1
    assert inv.lines == [
        ("APARECE", "APACANAL", 12050),
        ("INCALZ", "TERMO", 123400),
        ("SOLD", "TERMO", -1500),
    ]
    assert reg.accounts[1][1:] == ("IMGFL-1", "Иван Петров", "bd. Dacia 27/1, ap. 45", "closed")


def test_error_is_a_format_error_naming_file_line_and_reason(tmp_path: Path) -> None:
    files = base_register()
    files["invoices.csv"][1][8] = "12.345"
    err = refused(tmp_path, files)
    assert isinstance(err, FormatError)  # formats import nothing from the gateway
    assert (err.file, err.line) == ("invoices.csv", 3)
    assert "invoices.csv:3" in str(err) and "12.345" in str(err)


def test_missing_file(tmp_path: Path) -> None:
    files = base_register()
    del files["managers.csv"]
    err = refused(tmp_path, files)
    assert (err.file, err.reason) == ("managers.csv", "file missing")


def test_missing_column(tmp_path: Path) -> None:
    files = base_register()
    files["invoices.csv"] = [row[:8] for row in files["invoices.csv"]]
    err = refused(tmp_path, files, {"invoices.csv": COLUMNS["invoices.csv"][:8]})
    assert (err.file, err.line) == ("invoices.csv", 1)
    assert "amount_due" in err.reason


def test_wrong_number_of_fields(tmp_path: Path) -> None:
    files = base_register()
    files["accounts.csv"][1].append("extra")
    err = refused(tmp_path, files)
    assert (err.file, err.line) == ("accounts.csv", 3)


@pytest.mark.parametrize("amount", ["12.345", "1e3", "12", "1,234.50", "12.3", "abc", ""])
def test_malformed_amount(tmp_path: Path, amount: str) -> None:
    files = base_register()
    files["invoices.csv"][3][8] = amount
    err = refused(tmp_path, files)
    assert (err.file, err.line) == ("invoices.csv", 5)
    assert "amount" in err.reason


def test_unknown_account(tmp_path: Path) -> None:
    files = base_register()
    unknown = make_account_no(5555555)
    files["invoices.csv"][3][1] = unknown
    err = refused(tmp_path, files)
    assert err.line == 5 and f"unknown account {unknown!r}" in err.reason


def test_unknown_provider(tmp_path: Path) -> None:
    files = base_register()
    files["invoices.csv"][1][7] = "NOSUCH"
    assert "unknown provider 'NOSUCH'" in refused(tmp_path, files).reason


def test_unknown_service(tmp_path: Path) -> None:
    files = base_register()
    files["invoices.csv"][1][6] = "NOSUCH"
    assert "unknown service 'NOSUCH'" in refused(tmp_path, files).reason


def test_unknown_manager(tmp_path: Path) -> None:
    files = base_register()
    files["accounts.csv"][0][1] = "ACC-999"
    err = refused(tmp_path, files)
    assert (err.file, err.line) == ("accounts.csv", 2) and "ACC-999" in err.reason


def test_account_number_failing_its_check_digit(tmp_path: Path) -> None:
    files = base_register()
    bad = ACC1[:-1] + str((int(ACC1[-1]) + 1) % 10)
    files["accounts.csv"][0][0] = bad
    err = refused(tmp_path, files)
    assert err.file == "accounts.csv" and "Damm" in err.reason


def test_bad_account_status(tmp_path: Path) -> None:
    files = base_register()
    files["accounts.csv"][0][4] = "frozen"
    assert "status" in refused(tmp_path, files).reason


def test_duplicate_account(tmp_path: Path) -> None:
    files = base_register()
    files["accounts.csv"].append(list(files["accounts.csv"][0]))
    err = refused(tmp_path, files)
    assert (err.file, err.line) == ("accounts.csv", 4) and "duplicate" in err.reason


def test_duplicate_provider_code(tmp_path: Path) -> None:
    files = base_register()
    files["providers.csv"].append(list(files["providers.csv"][0]))
    err = refused(tmp_path, files)
    assert err.file == "providers.csv" and "duplicate" in err.reason


def test_bad_iban(tmp_path: Path) -> None:
    files = base_register()
    files["providers.csv"][0][2] = "not an iban"
    assert "IBAN" in refused(tmp_path, files).reason


def test_duplicate_invoice_line(tmp_path: Path) -> None:
    files = base_register()
    files["invoices.csv"].append(list(files["invoices.csv"][0]))
    err = refused(tmp_path, files)
    assert err.line == 6 and "duplicate line APARECE/APACANAL" in err.reason


def test_same_invoice_no_with_a_different_account(tmp_path: Path) -> None:
    files = base_register()
    files["invoices.csv"][3][0] = "AV26110000001"  # second account, first invoice's number
    err = refused(tmp_path, files)
    assert err.line == 5 and "AV26110000001" in err.reason and "line 2" in err.reason


@pytest.mark.parametrize(
    "ref", ["RF00AV26110000001", "RF10AV26110000002", "AV26110000001", "rf10av26110000001"]
)
def test_bad_payment_reference(tmp_path: Path, ref: str) -> None:
    files = base_register()
    for row in files["invoices.csv"][:3]:
        row[5] = ref
    err = refused(tmp_path, files)
    assert err.line == 2 and "payment_ref" in err.reason


@pytest.mark.parametrize("column,value", [(3, "2026-11-31"), (4, "25.11.2026"), (3, "")])
def test_bad_date(tmp_path: Path, column: int, value: str) -> None:
    files = base_register()
    files["invoices.csv"][3][column] = value
    err = refused(tmp_path, files)
    assert err.line == 5 and ("issued_on" in err.reason or "due_on" in err.reason)


def test_due_before_issued(tmp_path: Path) -> None:
    files = base_register()
    files["invoices.csv"][3][4] = "2026-11-01"
    assert "before issued_on" in refused(tmp_path, files).reason


@pytest.mark.parametrize("period", ["2026-13", "2026-1", "11-2026"])
def test_bad_period(tmp_path: Path, period: str) -> None:
    files = base_register()
    files["invoices.csv"][3][2] = period
    assert "period" in refused(tmp_path, files).reason


def test_quoted_fields_and_column_order_are_honoured(tmp_path: Path) -> None:
    files = base_register()
    order = list(reversed(COLUMNS["invoices.csv"]))
    files["invoices.csv"] = [list(reversed(r)) for r in files["invoices.csv"]]
    reg = read_register(write(tmp_path / "reg", files, {"invoices.csv": order}))
    assert reg.invoices["AV26110000002"].lines == [("APARECE", "APACANAL", 9999)]
    assert reg.accounts[0][3] == "str. Ismail 86, ap. 12"  # a quoted field with a comma


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=21))
def test_fast_rf_check_agrees_with_references_module(body: str) -> None:
    good = make_rf(body)
    assert rf_is_valid(good) and normalize_rf(good) == good
    for bad in (good[:2] + f"{(int(good[2:4]) + 1) % 100:02d}" + good[4:], good.lower()):
        assert rf_is_valid(bad) == (normalize_rf(bad) == bad)
