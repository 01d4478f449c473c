"""A post registry and its lump sum settle each other in either order; exports follow the
contract and re-export identically."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from sqlalchemy import select

from fixtures.writers.camt import write_camt053
from fixtures.writers.entries import StatementMeta, WriterEntry
from fixtures.writers.post_registry import PostLine, write_post_registry
from gateway.collectors import DEFAULT_COLLECTORS
from gateway.services.export import ALLOCATION_COLUMNS, PAYMENT_COLUMNS, export
from gateway.services.ingest import ingest_bytes
from reconciliation.model import ServiceAmount
from schemas.tables import payments, settlements
from tests.integration.citykit import ACC_ION, ACC_MARIA, load_tiny_city

DAY = date(2026, 11, 20)
POSTA_IBAN = DEFAULT_COLLECTORS[0].ibans[0]


def _registry() -> bytes:
    lines = [
        PostLine(ACC_ION[:7] + "-" + ACC_ION[7], 40000, DAY, "MD-2068", "R1"),
        PostLine(ACC_MARIA, 15050, DAY, "MD-2068", "R2", services=(ServiceAmount("WATER", 15050),)),
    ]
    return write_post_registry(lines, registry_date=DAY)


def _lump_sum(amount: int) -> bytes:
    entry = WriterEntry(
        amount=amount,
        booking_date=DAY,
        value_date=date(2026, 11, 21),
        acct_svcr_ref="LS1",
        debtor_name="I.S. Posta Moldovei",
        debtor_iban=POSTA_IBAN,
        remittance="Incasari registru 20.11.2026",
    )
    meta = StatementMeta(iban="MD24AG000225100013104168", statement_id="S1")
    return write_camt053([entry], meta)


@pytest.mark.parametrize("order", ["registry-first", "statement-first"])
def test_registry_and_lump_sum_settle_in_either_order(engine, settings, order) -> None:
    load_tiny_city(engine)
    files = [("reg.txt", _registry()), ("st.xml", _lump_sum(55050 - 800))]  # 8 lei fee
    if order == "statement-first":
        files.reverse()
    for name, data in files:
        assert ingest_bytes(engine, settings, data, filename=name, source=name).status == "applied"
    with engine.connect() as conn:
        line = conn.execute(select(settlements)).one()
        lump = conn.execute(select(payments).where(payments.c.channel == "settlement")).one()
        post = conn.execute(select(payments).where(payments.c.channel == "post")).all()
    assert (line.status, line.registry_total, line.difference) == ("fee", 55050, -800)
    assert line.statement_payment_id == lump.id and lump.status == "allocated"
    assert {p.status for p in post} == {"allocated"}


def test_exports_follow_the_contract_and_are_stable(engine, settings, tmp_path) -> None:
    load_tiny_city(engine)
    ingest_bytes(engine, settings, _registry(), filename="reg.txt", source="posta")
    first, again = tmp_path / "a.csv", tmp_path / "b.csv"
    assert export(engine, "payments", DAY, first) == 2
    export(engine, "payments", DAY, again)
    assert first.read_bytes() == again.read_bytes()
    rows = list(csv.DictReader(first.open(encoding="utf-8")))
    assert list(rows[0]) == PAYMENT_COLUMNS
    assert {(r["account_no"], r["amount"], r["status"]) for r in rows} == {
        (ACC_ION, "400.00", "allocated"),
        (ACC_MARIA, "150.50", "allocated"),
    }
    alloc = tmp_path / "alloc.csv"
    export(engine, "allocations", DAY, alloc)
    arows = list(csv.DictReader(alloc.open(encoding="utf-8")))
    assert list(arows[0]) == ALLOCATION_COLUMNS
    maria = [r for r in arows if r["account_no"] == ACC_MARIA]
    assert [(r["service_code"], r["provider_code"], r["amount"]) for r in maria] == [
        ("WATER", "APA", "150.50")
    ]
    assert sum(int(r["amount"].replace(".", "")) for r in arows) == 55050
