"""Every camt sample and every writer output validates against the official ISO 20022 XSDs.

The XSDs live outside the repository in ../shared/iso20022/. Without them the tests are
skipped with the reason, except in CI (CI=true), where a missing folder fails the run. The
folder holds some versions only (camt.052 .02/.04/.06/.08, camt.053 .02/.03/.04/.08, camt.054
.02/.04/.08): a version without its XSD is skipped, named, even in CI.
"""

from __future__ import annotations

import os
from datetime import date
from functools import cache
from pathlib import Path

import pytest
from lxml import etree

from fixtures.writers import (
    StatementMeta,
    TxDetail,
    WriterEntry,
    write_camt052,
    write_camt053,
    write_camt054,
)
from fixtures.writers.camt import VERSIONS


def _xsd_dir() -> Path:
    """../shared/iso20022 beside the repository (or beside a worktree's parent folders)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "iso20022").is_dir():
            return parent / "shared" / "iso20022"
    return Path(__file__).resolve().parents[2].parent / "shared" / "iso20022"


XSD_DIR = _xsd_dir()
SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"


@cache
def _schema(message: str) -> etree.XMLSchema:
    path = XSD_DIR / f"{message}.xsd"
    if not path.is_file():
        if not XSD_DIR.is_dir() and os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"XSD folder {XSD_DIR} missing in CI")
        pytest.skip(f"XSD {path} not available")
    return etree.XMLSchema(etree.parse(str(path)))


def _validate(data: bytes) -> None:
    root = etree.fromstring(data)
    message = etree.QName(root).namespace.rsplit(":", 1)[1]
    schema = _schema(message)
    assert schema.validate(root), f"{message}: {schema.error_log.last_error}"


@pytest.mark.parametrize(
    "path",
    sorted(
        [*SAMPLES.glob("camt05*/*.xml"), *SAMPLES.glob("real_shapes/**/*.xml")],
    ),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_sample_is_schema_valid(path: Path) -> None:
    if "refused" in path.name or path.parent.name == "refused":
        pytest.skip("a refused shape: broken on purpose")
    _validate(path.read_bytes())


def _entries() -> list[WriterEntry]:
    day = date(2024, 11, 15)
    return [
        WriterEntry(
            amount=45075,
            booking_date=day,
            acct_svcr_ref="A1",
            end_to_end_id="E1",
            remittance="Plată cont personal 1234567-1 & <noiembrie> " + "x" * 200,
            creditor_ref="RF18539007547034",
            debtor_name="Ion Țurcanu",
            debtor_iban="MD21MO2224ASV12345678901",
        ),
        WriterEntry(
            amount=300,
            booking_date=day,
            entry_ref="B1",
            batch=(TxDetail(100, debtor_name="Мария"), TxDetail(200, remittance="apă")),
        ),
        WriterEntry(amount=90000, booking_date=day, batch_count=12, entry_ref="POSTA"),
        WriterEntry(amount=500, booking_date=day, direction="debit", reversal=True),
        WriterEntry(amount=700, booking_date=day, status="PDNG"),
    ]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "writer", [write_camt052, write_camt053, write_camt054], ids=["052", "053", "054"]
)
def test_writer_output_is_schema_valid(writer, version: str) -> None:
    meta = StatementMeta(iban="MD24AG000225100013104168", statement_id="S1", opening_balance=-1)
    _validate(writer(_entries(), meta, version=version))
