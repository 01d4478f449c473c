"""Malformed input never escapes as anything but ``FormatError``, and never hangs.

Hypothesis feeds every parser random bytes and damaged copies of the golden samples
(truncated, bytes flipped, spans deleted or duplicated). A parser may accept the damage (a
flipped letter in a remittance text is still a valid file) but must then return real
records; otherwise it raises ``FormatError``. Deadlines catch pathological slowness.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from connectors.formats import FORMATS, FormatError, detect_format, get_format
from reconciliation.model import PaymentRecord, StatementSummary

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
MINE = [
    "camt052",
    "camt053",
    "camt054",
    "mt940",
    "mt942",
    "post_registry",
    "terminal",
    "compensation",
]
REAL_SHAPES = SAMPLES / "real_shapes"  # bank files in real shapes: fuzzed per detected format
FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "60")),
    deadline=2000,
    derandomize=os.environ.get("FUZZ_RANDOM") != "1",
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def _samples(fmt: str) -> list[bytes]:
    own = [p for p in sorted((SAMPLES / fmt).glob("*")) if p.is_file()]
    shapes = [
        p
        for p in sorted(REAL_SHAPES.rglob("*"))
        if p.is_file() and not p.name.endswith(".jsonl") and _detected(p) == fmt
    ]
    skip = (".expected.jsonl", ".options.json", ".md")
    return [p.read_bytes() for p in own + shapes if not p.name.endswith(skip)]


def _detected(path: Path) -> str | None:
    try:
        return detect_format(path.read_bytes()).name
    except FormatError:
        return None


def _check(fmt: str, data: bytes) -> None:
    try:
        reading = get_format(fmt).read(data)
        records = list(reading.records)
    except FormatError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    for r in records:
        assert isinstance(r, PaymentRecord)
        assert isinstance(r.amount, int) and r.amount >= 0
        assert r.external_id
    for summary in reading.statements:  # what the ingest stores: whole bani, one-line findings
        assert isinstance(summary, StatementSummary)
        assert isinstance(summary.credits, int) and summary.credits >= 0
        assert all("\n" not in f.detail for f in summary.findings)


@st.composite
def damaged(draw: st.DrawFn, fmt: str) -> bytes:
    data = bytearray(draw(st.sampled_from(_samples(fmt))))
    for _ in range(draw(st.integers(1, 4))):
        if not data:
            break
        i = draw(st.integers(0, len(data) - 1))
        op = draw(st.sampled_from(["flip", "delete", "dup", "truncate", "insert"]))
        if op == "flip":
            data[i] = draw(st.integers(0, 255))
        elif op == "delete":
            del data[i : i + draw(st.integers(1, 40))]
        elif op == "dup":
            data[i:i] = data[i : i + draw(st.integers(1, 80))]
        elif op == "truncate":
            del data[i:]
        else:
            data[i:i] = draw(st.sampled_from([b";", b"<", b"&", b":61:", b"\r\n", b"-", b"\x00"]))
    return bytes(data)


@pytest.mark.parametrize("fmt", MINE)
def test_damaged_samples(fmt: str) -> None:
    assert fmt in FORMATS

    @FUZZ
    @given(damaged(fmt))
    def run(data: bytes) -> None:
        _check(fmt, data)

    run()


@pytest.mark.parametrize("fmt", MINE)
def test_random_bytes(fmt: str) -> None:
    @FUZZ
    @given(st.binary(max_size=600))
    def run(data: bytes) -> None:
        _check(fmt, data)

    run()


@FUZZ
@given(st.binary(max_size=400))
def test_detect_format_only_ever_refuses_with_format_error(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        assert detect_format(data).name in FORMATS
