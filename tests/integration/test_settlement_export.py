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
from schemas.tables import payments, review_items, settlements
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
    settled = []
    for name, data in files:
        result = ingest_bytes(engine, settings, data, filename=name, source=name)
        assert result.status == "applied"
        settled.append(result.counts.get("settlement_lines", 0))
    with engine.connect() as conn:
        line = conn.execute(select(settlements)).one()
        lump = conn.execute(select(payments).where(payments.c.channel == "settlement")).one()
        post = conn.execute(select(payments).where(payments.c.channel == "post")).all()
        item = conn.execute(select(review_items).where(review_items.c.payment_id == lump.id)).one()
    assert (line.status, line.registry_total, line.difference) == ("fee", 55050, -800)
    assert line.statement_payment_id == lump.id
    # issue 9 defect 3: a lump sum that settled its registry is "settled", not "allocated"
    assert (lump.status, lump.reason) == ("settled", "SETTLEMENT")
    assert {p.status for p in post} == {"allocated"}
    # issue 9 defect 2: its SETTLEMENT_PENDING review item no longer waits in the queue
    assert (item.reason, item.state, item.resolved_by) == (
        "SETTLEMENT_PENDING",
        "resolved_settled",
        "settlement",
    )
    assert item.resolved_at is not None
    # issue 9 defect 4: the summary counts registries settled, only by the file that settled
    assert settled == [0, 1]


def test_a_statement_without_lump_sums_settles_nothing(engine, settings) -> None:
    """Regression (issue 9, defect 4): with a registry waiting, a statement holding no lump
    sum said "1 settlement lines" (the registry's line was rewritten, not settled)."""
    load_tiny_city(engine)
    ingest_bytes(engine, settings, _registry(), filename="reg.txt", source="posta")
    entry = WriterEntry(amount=100, booking_date=DAY, acct_svcr_ref="T1", remittance=ACC_ION)
    data = write_camt053([entry], StatementMeta(iban="MD24AG000225100013104168", statement_id="S2"))
    result = ingest_bytes(engine, settings, data, filename="s2.xml", source="bank")
    assert result.status == "applied" and not result.counts.get("settlement_lines")
    assert "settlement" not in result.describe()


def test_settled_lump_sum_is_exported_as_settled_and_rows_carry_their_kind(
    engine, settings, tmp_path
) -> None:
    """Issue 9 defect 3: nobody summing "allocated" counts a collector's money twice; every
    allocation row says what it is."""
    load_tiny_city(engine)
    for name, data in (("reg.txt", _registry()), ("st.xml", _lump_sum(55050))):
        ingest_bytes(engine, settings, data, filename=name, source=name)
    out = tmp_path / "p.csv"
    export(engine, "payments", DAY, out)
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert sorted((r["channel"], r["status"]) for r in rows) == [
        ("post", "allocated"),
        ("post", "allocated"),
        ("settlement", "settled"),
    ]
    alloc = tmp_path / "a.csv"
    export(engine, "allocations", DAY, alloc)
    arows = list(csv.DictReader(alloc.open(encoding="utf-8")))
    assert {r["kind"] for r in arows} == {"payment"}
    assert sum(int(r["amount"].replace(".", "")) for r in arows) == 55050  # the registry's


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
    assert [(r["service_code"], r["provider_code"], r["amount"], r["kind"]) for r in maria] == [
        ("WATER", "APA", "150.50", "payment")
    ]
    assert sum(int(r["amount"].replace(".", "")) for r in arows) == 55050
