"""Bank files in real shapes at ingest: refused ones leave nothing, statements and findings
are stored with the file, intraday reports are kept as information (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.formats.base import ReadOptions
from fixtures.writers import PostLine, StatementMeta, WriterEntry, write_camt053
from fixtures.writers.post_registry import write_post_registry
from gateway.services.ingest import ingest_bytes, ingest_path
from schemas.tables import payments, raw_files, settlements, statement_findings, statements
from tests.integration.citykit import ACC_ION, ACC_MARIA, load_tiny_city

DAY = date(2026, 11, 20)
IBAN = "MD24AG000225100013104168"
CORPUS = Path(__file__).resolve().parents[2] / "fixtures" / "samples" / "real_shapes"
REFUSED = sorted(
    p
    for p in CORPUS.rglob("*")
    if p.is_file() and "refused" in str(p.relative_to(CORPUS)) and p.suffix in (".xml", ".sta")
)


def _options(path: Path) -> ReadOptions:
    side = path.with_name(path.name + ".options.json")
    return ReadOptions(**json.loads(side.read_text("utf-8"))) if side.is_file() else ReadOptions()


def _count(engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def test_refused_shapes_are_quarantined_and_leave_nothing(engine, settings) -> None:
    load_tiny_city(engine)
    assert len(REFUSED) >= 4
    for path in REFUSED:
        result = ingest_path(engine, settings, path, options=_options(path))
        assert result.status == "quarantined", path.name
        assert result.reason and "\n" not in result.reason
    assert [_count(engine, t) for t in (payments, statements, statement_findings)] == [0, 0, 0]
    with engine.connect() as conn:
        assert set(conn.execute(select(raw_files.c.status)).scalars()) == {"quarantined"}


def test_multipart_mt940_with_a_broken_chain_stores_two_statements_and_a_finding(
    engine, settings
) -> None:
    load_tiny_city(engine)
    path = CORPUS / "balances" / "mt940_multipart_chain_broken.sta"
    result = ingest_path(engine, settings, path, source="bank-mt940")
    assert (result.status, result.records) == ("applied", 2)
    with engine.connect() as conn:
        rows = conn.execute(select(statements).order_by(statements.c.id)).all()
        (finding,) = conn.execute(select(statement_findings)).all()
    assert [(r.sequence, r.opening_balance, r.closing_balance) for r in rows] == [
        ("00021/001", 10000, 15000),
        ("00021/002", 14000, 16500),
    ]
    assert (finding.kind, finding.expected, finding.actual, finding.difference) == (
        "balance_chain",
        15000,
        14000,
        -1000,
    )
    assert finding.statement_id == rows[1].id


def test_intraday_report_is_kept_as_information_not_money(engine, settings) -> None:
    load_tiny_city(engine)
    path = CORPUS / "versions" / "camt.052.001.08.xml"
    result = ingest_path(engine, settings, path, source="bank-intraday")
    assert (result.status, result.records) == ("applied", 0)
    assert _count(engine, payments) == 0
    with engine.connect() as conn:
        row = conn.execute(select(statements)).one()
    assert (row.kind, row.entry_count, row.credits, row.debits) == ("report", 3, 75075, 1250)


@pytest.mark.parametrize("strict", [False, True])
def test_swiss_closing_balance_is_a_finding_unless_the_connector_is_strict(
    engine, settings, strict: bool
) -> None:
    load_tiny_city(engine)
    path = CORPUS / "balances" / "camt053_closing_leaves_out_entry.xml"
    result = ingest_path(engine, settings, path, options=ReadOptions(strict_balances=strict))
    if strict:
        assert result.status == "quarantined" and "balances do not agree" in str(result.reason)
        assert _count(engine, payments) == 0 and _count(engine, statement_findings) == 0
        return
    assert (result.status, result.records) == ("applied", 2)
    assert result.describe().endswith("; 1 statement finding for the daily report")
    with engine.connect() as conn:
        (finding,) = conn.execute(select(statement_findings)).all()
    assert (finding.kind, finding.difference) == ("balance_mismatch", -3550)


def test_lump_sum_known_only_by_its_entry_text_settles_the_registry(
    engine, settings, tmp_path: Path
) -> None:
    """A bank books the post office's lump sum as a batch without details: no payer, only
    AddtlNtryInf names it. A collector's ``entry_patterns`` recognises it."""
    load_tiny_city(engine)
    config = tmp_path / "gateway.toml"
    config.write_text(
        '[[collector]]\ncode = "POSTA"\nname = "Posta Moldovei"\n'
        'entry_patterns = ["posta moldovei reestru"]\nfee_max_permille = 15\n',
        "utf-8",
    )
    settings = replace(settings, config_path=config)
    lines = [
        PostLine(ACC_ION, 40000, DAY, "MD-2068", "R1"),
        PostLine(ACC_MARIA, 15050, DAY, "MD-2068", "R2"),
    ]
    entry = WriterEntry(amount=55050 - 800, booking_date=DAY, acct_svcr_ref="LS9", batch_count=2)
    statement = write_camt053([entry], StatementMeta(iban=IBAN, statement_id="S9")).replace(
        b"</NtryDtls>",
        b"</NtryDtls><AddtlNtryInf>INCASARE POSTA MOLDOVEI REESTRU 20.11.2026</AddtlNtryInf>",
    )
    registry = write_post_registry(lines, registry_date=DAY)
    for name, data in (("reg.txt", registry), ("s.xml", statement)):
        assert ingest_bytes(engine, settings, data, filename=name, source=name).status == "applied"
    with engine.connect() as conn:
        line = conn.execute(select(settlements)).one()
        lump = conn.execute(select(payments).where(payments.c.external_id == "LS9")).one()
    assert (lump.channel, line.collector, line.status, line.difference) == (
        "settlement",
        "POSTA",
        "fee",
        -800,
    )
    assert line.statement_payment_id == lump.id
