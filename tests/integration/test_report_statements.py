"""The daily report's statements as bank files send them (SQLite and PostgreSQL): a red line
the parser stored is shown once, and a file with several accounts' statements counts each
statement's payments under its own account."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from gateway.services.ingest import ingest_bytes
from gateway.services.report import daily_report
from reconciliation.report_parts import FindingKind
from tests.integration.citykit import load_tiny_city

CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "samples" / "real_shapes"
DAY = date(2024, 11, 15)
IBAN = "MD24AG000225100013104168"


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
