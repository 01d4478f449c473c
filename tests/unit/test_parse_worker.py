"""The parse worker gives exactly what the format's own parse gives, or the same error."""

from __future__ import annotations

import os
import signal
import subprocess
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from connectors import parse_worker
from connectors.formats import FormatError, get_format
from connectors.formats.base import ReadOptions
from connectors.parse_worker import WorkerFailed, parse_in_worker, read_in_worker
from fixtures.writers.camt import write_camt053
from fixtures.writers.entries import StatementMeta, WriterEntry

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"


_SAMPLES = [
    (fmt, path)
    for fmt in ("camt053", "camt054", "mt940", "post_registry", "terminal", "compensation")
    for path in sorted((SAMPLES / fmt).iterdir())
    if not path.name.endswith((".expected.jsonl", ".md"))
]


@pytest.mark.parametrize(("fmt", "sample"), _SAMPLES, ids=lambda x: getattr(x, "name", x))
def test_worker_records_equal_the_in_process_parse(fmt: str, sample: Path) -> None:
    expected = list(get_format(fmt).parse(sample.read_bytes()))
    assert list(parse_in_worker(sample, fmt)) == expected


def test_camt_read_from_its_file_equals_camt_read_from_bytes() -> None:
    for fmt in ("camt053", "camt054"):
        for sample in sorted((SAMPLES / fmt).glob("*.xml")):
            by_bytes = list(get_format(fmt).parse(sample.read_bytes()))
            assert list(get_format(fmt).parse_file(sample)) == by_bytes, sample.name


def test_more_records_than_one_batch_arrive_in_order(tmp_path: Path) -> None:
    day = date(2026, 11, 20)
    entries = [WriterEntry(100 + i, day, acct_svcr_ref=f"R{i:05d}") for i in range(4500)]
    path = tmp_path / "big.xml"
    path.write_bytes(
        write_camt053(entries, StatementMeta(iban="MD24AG000225100013104168", statement_id="S1"))
    )
    got = list(parse_in_worker(path, "camt053"))
    assert [r.external_id for r in got] == [f"R{i:05d}" for i in range(4500)]
    assert [r.amount for r in got] == [100 + i for i in range(4500)]


def test_a_bad_file_raises_the_same_format_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_bytes(b"<?xml version='1.0'?><Document xmlns='urn:x'><Unclosed></Document>")
    with pytest.raises(FormatError) as in_process:
        list(get_format("camt053").parse(path.read_bytes()))
    with pytest.raises(FormatError) as in_worker:
        list(parse_in_worker(path, "camt053"))
    assert str(in_worker.value) == str(in_process.value)


def test_a_worker_that_cannot_read_its_file_is_a_worker_failure(tmp_path: Path) -> None:
    with pytest.raises(WorkerFailed, match="FileNotFoundError"):
        list(parse_in_worker(tmp_path / "missing.xml", "camt053"))


def test_abandoning_the_iterator_stops_the_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Closed after the first record of a 20,000-entry file: the worker is killed mid-file
    and reaped (no process left behind), and its pipes are closed."""
    day = date(2026, 11, 20)
    entries = [WriterEntry(100 + i, day, acct_svcr_ref=f"R{i:05d}") for i in range(20_000)]
    path = tmp_path / "big.xml"
    path.write_bytes(
        write_camt053(entries, StatementMeta(iban="MD24AG000225100013104168", statement_id="S1"))
    )
    started: list[subprocess.Popen[bytes]] = []

    class Recorded(subprocess.Popen[bytes]):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            started.append(self)

    monkeypatch.setattr(parse_worker.subprocess, "Popen", Recorded)
    records = parse_in_worker(path, "camt053", batch=10)
    assert next(records).external_id == "R00000"
    (worker,) = started
    assert worker.poll() is None, "the worker should still be parsing when abandoned"
    records.close()
    assert worker.returncode == -signal.SIGKILL  # stopped, not left to finish the file
    with pytest.raises(ProcessLookupError):
        os.kill(worker.pid, 0)  # reaped: no zombie
    assert worker.stdout is not None and worker.stdout.closed
    assert worker.stderr is not None and worker.stderr.closed


def test_a_worker_that_crashes_says_why_without_a_traceback(tmp_path: Path) -> None:
    sample = sorted((SAMPLES / "camt053").glob("*.xml"))[0]
    with pytest.raises(WorkerFailed) as failed:  # its command line is broken: it dies at once
        list(parse_in_worker(sample, "camt053", batch="many"))  # type: ignore[arg-type]
    message = str(failed.value)
    assert "exited with code 1" in message and "ValueError" in message
    assert "Traceback" not in message


@pytest.mark.parametrize(
    ("fmt", "name", "options"),
    [
        ("mt940", "balances/mt940_multipart_chain_broken.sta", ReadOptions()),
        ("camt053", "balances/camt053_closing_leaves_out_entry.xml", ReadOptions()),
        ("camt052", "versions/camt.052.001.08.xml", ReadOptions(intraday_booked=True)),
    ],
)
def test_worker_hands_over_statements_and_findings_with_the_connector_options(
    fmt: str, name: str, options: ReadOptions
) -> None:
    path = SAMPLES / "real_shapes" / name
    here = get_format(fmt).read(path.read_bytes(), options)
    here_records = list(here.records)
    there = read_in_worker(path, fmt, options, batch=1)
    assert list(there.records) == here_records and here_records
    assert there.statements == here.statements and there.statements


def test_worker_refuses_like_the_in_process_read_when_strict() -> None:
    path = SAMPLES / "real_shapes" / "balances" / "camt053_closing_leaves_out_entry.xml"
    with pytest.raises(FormatError, match="balances do not agree"):
        list(read_in_worker(path, "camt053", ReadOptions(strict_balances=True)).records)
