"""camt.053 parsing at scale: a 100,000-entry statement, time and peak memory.

The statement is written with ``fixtures.writers.write_camt053`` (a mix of single transfers
with remittance text and debtor, and batch entries of five TxDtls) to a temporary file. Each
measurement runs in a fresh subprocess so its peak (VmHWM) is that run's own:

- time: ``Camt053Format.parse`` consuming every record vs a bare ``lxml.etree.iterparse``
  over the same bytes that does nothing per element (the floor any lxml reader pays);
- memory: peak RSS growth while parsing (input bytes already loaded), for 100,000 entries
  vs 10,000 entries: a streaming reader's growth must not scale with the entry count.
  The bare iterparse, which keeps the whole tree, is shown for scale.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from bench.common import PEAK_MB_SOURCE, Result
from fixtures.writers import StatementMeta, TxDetail, WriterEntry, write_camt053

ENTRIES = 100_000
SMALL = 10_000
TIME_TARGET = 8.0  # our parse may cost this many times the bare iterparse
MEMORY_TARGET = 2.0  # RSS growth at 100k entries vs 10k entries (floored at 1 MB)

_CHILD = (
    PEAK_MB_SOURCE
    + r"""
import json, sys, time, io
from pathlib import Path
from lxml import etree
from connectors.formats.camt053 import CAMT053  # imported before measuring: not our parse
data = Path(sys.argv[2]).read_bytes()
before = peak_mb()
t0 = time.perf_counter()
if sys.argv[1] == "parse":
    n = sum(1 for _ in CAMT053.parse(data))
else:
    n = sum(1 for _ in etree.iterparse(io.BytesIO(data), events=("end",)))
seconds = time.perf_counter() - t0
after = peak_mb()
print(json.dumps({"seconds": seconds, "grown_mb": after - before, "count": n}))
"""
)


def _entries(count: int) -> list[WriterEntry]:
    day = date(2024, 11, 15)
    out = []
    for i in range(count):
        if i % 10 == 9:
            details = tuple(
                TxDetail(1000 + j, acct_svcr_ref=f"T{i}-{j}", remittance=f"cont {i:07d}-{j}")
                for j in range(5)
            )
            amount = sum(d.amount for d in details)
            out.append(WriterEntry(amount, day, entry_ref=f"B{i}", batch=details))
        else:
            out.append(
                WriterEntry(
                    10000 + i % 50000,
                    day,
                    acct_svcr_ref=f"AG{i:010d}",
                    end_to_end_id=f"E2E{i}",
                    remittance=f"Plata servicii comunale cont {i % 9999999:07d}-1 noiembrie",
                    debtor_name="Ion Țurcanu",
                    debtor_iban="MD21MO2224ASV12345678901",
                )
            )
    return out


def _write(path: Path, count: int) -> None:
    meta = StatementMeta(iban="MD24AG000225100013104168", statement_id=f"BENCH-{count}")
    with path.open("wb") as fh:
        write_camt053(_entries(count), meta, out=fh)


def _run(mode: str, path: Path) -> dict:
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, mode, str(path)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout)


def bench() -> list[Result]:
    with tempfile.TemporaryDirectory() as tmp:
        big, small = Path(tmp) / "big.xml", Path(tmp) / "small.xml"
        _write(big, ENTRIES)
        _write(small, SMALL)
        parse = _run("parse", big)
        bare = _run("bare", big)
        parse_small = _run("parse", small)
    time_ratio = parse["seconds"] / bare["seconds"]
    growth = parse["grown_mb"] / max(parse_small["grown_mb"], 1.0)
    return [
        Result(
            name=f"camt.053 parse, {ENTRIES:,} entries ({parse['count']:,} records)",
            value=parse["seconds"],
            unit="s",
            baseline_name="bare lxml iterparse, same file",
            baseline=bare["seconds"],
            target=f"ratio <= {TIME_TARGET}",
            ok=time_ratio <= TIME_TARGET,
        ),
        Result(
            name=f"camt.053 parse peak RSS growth, {ENTRIES:,} entries",
            value=parse["grown_mb"],
            unit="MB",
            baseline_name=f"same parser, {SMALL:,} entries",
            baseline=max(parse_small["grown_mb"], 1.0),
            target=f"ratio <= {MEMORY_TARGET}",
            ok=growth <= MEMORY_TARGET,
        ),
        Result(
            name="bare lxml iterparse peak RSS growth (keeps the tree), for scale",
            value=bare["grown_mb"],
            unit="MB",
        ),
    ]


if __name__ == "__main__":
    for result in bench():
        print(result, "ratio:", result.ratio)
