"""The daily report's statements as bank files send them (SQLite and PostgreSQL): a red line
the parser stored is shown once, and a file with several accounts' statements counts each
statement's payments under its own account."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from lxml import etree

from fixtures.writers import StatementMeta, WriterEntry, write_camt053
from gateway.services.ingest import ingest_bytes
from gateway.services.report import daily_report
from reconciliation.report_parts import FindingKind
from tests.integration.citykit import ACC_ION, ACC_MARIA, load_tiny_city

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "samples" / "real_shapes"
DAY = date(2024, 11, 15)
IBAN = "MD24AG000225100013104168"
OTHER = "MD72AG000225100013104999"


def _ingest(engine, settings, data: bytes, name: str) -> None:  # type: ignore[no-untyped-def]
    result = ingest_bytes(engine, settings, data, filename=name, source="bank")
    assert result.status == "applied", result.describe()


def _statement_findings(engine) -> list[tuple[str, str, int]]:  # type: ignore[no-untyped-def]
    report = daily_report(engine, DAY)
    return [
        (f.kind.value, f.subject, f.difference)
        for f in report.findings
        if f.kind is not FindingKind.EQUATION
    ]


def test_a_broken_chain_the_parser_stored_is_one_red_line(engine, settings) -> None:
    load_tiny_city(engine)
    data = (CORPUS / "balances" / "mt940_multipart_chain_broken.sta").read_bytes()
    _ingest(engine, settings, data, "chain.sta")
    assert _statement_findings(engine) == [("statement_finding", f"{IBAN} MP-2", -1000)]
    rows = daily_report(engine, DAY).section("statements").rows
    assert [r[-1] for r in rows] == ["ok", "statement_break -10.00"]  # the row still says it


def test_an_unbalanced_statement_without_an_id_is_one_red_line(engine, settings) -> None:
    load_tiny_city(engine)
    data = (CORPUS / "balances" / "camt053_closing_leaves_out_entry.xml").read_bytes()
    assert data.count(b"<Id>CH-STMT-1</Id>") == 1
    _ingest(engine, settings, data.replace(b"<Id>CH-STMT-1</Id>", b""), "no-id.xml")
    assert _statement_findings(engine) == [("statement_finding", IBAN, -3550)]


def _equation(engine) -> dict[str, tuple[int, int, int]]:  # type: ignore[no-untyped-def]
    """account -> (statement credits, payments counted, difference)."""
    report = daily_report(engine, DAY)
    assert report.section("equation_items").rows == []
    assert [f.key for f in report.findings if f.kind is FindingKind.EQUATION] == []
    return {r[0]: (r[1], r[-1], r[7]) for r in report.section("equation").rows if r[0]}


def test_an_mt940_file_of_two_accounts_counts_each_under_its_own(engine, settings) -> None:
    load_tiny_city(engine)
    data = (CORPUS / "mt940" / "several_statements.sta").read_bytes()
    _ingest(engine, settings, data, "two-accounts.sta")
    assert _equation(engine) == {IBAN: (45075, 1, 0), OTHER: (10000, 1, 0)}


def test_a_camt053_file_of_two_accounts_counts_each_under_its_own(engine, settings) -> None:
    load_tiny_city(engine)
    first = write_camt053(
        [_entry(25000, "A-1", ACC_MARIA), _entry(1000, "A-2", ACC_ION)], StatementMeta(IBAN, "A")
    )
    second = write_camt053([_entry(4000, "B-1", ACC_ION)], StatementMeta(OTHER, "B"))
    _ingest(engine, settings, _one_document(first, second), "two-accounts.xml")
    assert _equation(engine) == {IBAN: (26000, 2, 0), OTHER: (4000, 1, 0)}


def _entry(amount: int, ref: str, account_no: str) -> WriterEntry:
    return WriterEntry(
        amount=amount, booking_date=DAY, acct_svcr_ref=ref, remittance=f"cont {account_no}"
    )


def _one_document(first: bytes, second: bytes) -> bytes:
    """The second file's <Stmt> appended to the first's <BkToCstmrStmt>."""
    doc, other = etree.fromstring(first), etree.fromstring(second)
    (group,) = [el for el in doc if etree.QName(el).localname == "BkToCstmrStmt"]
    (more,) = [el for el in other.iter() if etree.QName(el).localname == "Stmt"]
    group.append(more)
    return etree.tostring(doc, xml_declaration=True, encoding="UTF-8")
