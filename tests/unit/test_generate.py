"""The synthetic city: deterministic, exact counts, valid identifiers, contract formats."""

from __future__ import annotations

import csv
import itertools
import re
from collections import Counter
from pathlib import Path

import pytest

from fixtures.generate import build_city, generate, write_register
from reconciliation.references import is_valid_account_no, normalize_rf

FILES = ("providers.csv", "services.csv", "managers.csv", "accounts.csv", "invoices.csv")


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    write_register(build_city("small", seed=7), out)
    return out / "register"


def test_same_seed_gives_the_same_bytes(tmp_path: Path, small: Path) -> None:
    write_register(build_city("small", seed=7), tmp_path)
    for name in FILES:
        assert (tmp_path / "register" / name).read_bytes() == (small / name).read_bytes(), name


def test_another_seed_gives_another_city(tmp_path: Path, small: Path) -> None:
    write_register(build_city("small", seed=8), tmp_path)
    assert (tmp_path / "register" / "accounts.csv").read_bytes() != (
        small / "accounts.csv"
    ).read_bytes()


def test_small_scale_counts(small: Path) -> None:
    accounts = read(small / "accounts.csv")
    invoices = read(small / "invoices.csv")
    in_period = {r["invoice_no"] for r in invoices if r["period"] == "2026-11"}
    assert len(accounts) == 2000
    assert len(read(small / "providers.csv")) == 24
    assert len(read(small / "managers.csv")) == 40
    assert len(in_period) == 3094
    closed = {a["account_no"] for a in accounts if a["status"] == "closed"}
    assert len(closed) == 20
    assert not closed & {r["account_no"] for r in invoices if r["period"] == "2026-11"}
    earlier = {r["invoice_no"] for r in invoices if r["period"] == "2026-10"}
    assert 0 < len(earlier) < 200  # some accounts still owe October


def test_every_account_number_passes_damm_and_numbers_are_spread(small: Path) -> None:
    numbers = [a["account_no"] for a in read(small / "accounts.csv")]
    assert all(is_valid_account_no(n) for n in numbers)
    assert len(set(numbers)) == len(numbers)
    bases = sorted(int(n[:7]) for n in numbers)
    assert bases[0] < 1_500_000 and bases[-1] > 9_500_000
    assert sum(1 for a, b in itertools.pairwise(bases) if b == a + 1) < len(bases) // 5


def test_every_payment_reference_is_a_valid_rf(small: Path) -> None:
    refs = {r["invoice_no"]: r["payment_ref"] for r in read(small / "invoices.csv")}
    assert all(normalize_rf(ref) == ref for ref in refs.values())
    assert len(set(refs.values())) == len(refs)


def test_amounts_have_the_contract_format_and_credit_is_a_sold_line(small: Path) -> None:
    lines = read(small / "invoices.csv")
    assert all(re.fullmatch(r"-?\d+\.\d{2}", r["amount_due"]) for r in lines)
    negative = [r for r in lines if r["amount_due"].startswith("-")]
    assert negative and all(r["service_code"] == "SOLD" for r in negative)
    keys = Counter((r["invoice_no"], r["service_code"], r["provider_code"]) for r in lines)
    assert max(keys.values()) == 1


def test_termoelectrica_bills_heat_on_its_own_invoice(small: Path) -> None:
    by_invoice: dict[str, set[str]] = {}
    for r in read(small / "invoices.csv"):
        by_invoice.setdefault(r["invoice_no"], set()).add(r["provider_code"])
    with_termo = [p for p in by_invoice.values() if "TERMO" in p]
    assert with_termo and all(p == {"TERMO"} for p in with_termo)


def test_names_and_addresses_look_like_chisinau(small: Path) -> None:
    accounts = read(small / "accounts.csv")
    names = " ".join(a["payer_name"] for a in accounts)
    assert re.search(r"[ăâîșțȚȘ]", names) and re.search(r"[а-яА-Я]", names)
    assert all(re.search(r", ap\. \d+, sect\. \w+", a["address"]) for a in accounts)
    managers = [m["manager_code"] for m in read(small / "managers.csv")]
    assert {m.split("-")[0] for m in managers} == {"IMGFL", "ACC", "APLP"}


@pytest.mark.slow
def test_seed_scale_has_the_real_city_counts(tmp_path: Path) -> None:
    summary = generate(tmp_path, scale="seed", seed=1)
    assert summary["accounts"] == len(read(tmp_path / "register/accounts.csv")) == 213_377
    assert summary["managers"] == len(read(tmp_path / "register/managers.csv")) == 616
    assert summary["providers"] == len(read(tmp_path / "register/providers.csv")) == 24
    assert 10_000 <= summary["payment_records"] <= 15_000  # type: ignore[operator]
    in_period = set()
    with (tmp_path / "register" / "invoices.csv").open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        for row in reader:
            if row[2] == "2026-11":
                in_period.add(row[0])
    assert len(in_period) == 330_046


@pytest.fixture(scope="module")
def small_day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("day")
    generate(out, scale="small", seed=5)
    return out


def _all_files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_whole_output_is_deterministic(tmp_path: Path, small_day: Path) -> None:
    summary = generate(tmp_path, scale="small", seed=5)
    assert _all_files(tmp_path) == _all_files(small_day)
    assert summary["payment_records"] == len(read(small_day / "truth.csv"))


def test_inbox_has_every_channel(small_day: Path) -> None:
    channels = {p.name for p in (small_day / "inbox").iterdir()}
    assert channels == {"bank_itemised", "post", "terminal", "compensation", "statement", "mt940"}


def test_truth_rows_are_consistent_with_the_register(small_day: Path) -> None:
    truth = read(small_day / "truth.csv")
    accounts = {a["account_no"]: a["status"] for a in read(small_day / "register/accounts.csv")}
    assert 250 <= len(truth) <= 400
    assert len({(r["source_format"], r["external_id"]) for r in truth}) == len(truth)
    assert {r["expected"] for r in truth} == {"allocated", "review", "settlement", "returned"}
    for r in truth:
        meant = [a for a in r["account_no"].split(";") if a]
        assert all(a in accounts for a in meant), r
        assert re.fullmatch(r"\d+\.\d{2}", r["amount"]), r
        if r["clear_reference"] == "1":
            assert len(meant) == 1 and accounts[meant[0]] == "open", r
            assert r["expected"] == "allocated", r
        if r["expected"] == "settlement":
            assert r["channel"] == "settlement" and not meant, r
    notes = " ".join(r["note"] for r in truth)
    for kind in ("wrong check digit", "only name and address", "partial payment", "overpayment"):
        assert kind in notes


def test_truth_external_ids_are_what_the_parsers_read(small_day: Path) -> None:
    from connectors.formats import detect_format

    truth_ids = {(r["source_format"], r["external_id"]) for r in read(small_day / "truth.csv")}
    parsed = set()
    for path in (small_day / "inbox").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            fmt = detect_format(data)
            parsed |= {(fmt.name, rec.external_id) for rec in fmt.parse(data)}
    assert parsed == truth_ids
