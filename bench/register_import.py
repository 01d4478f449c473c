"""Seed-scale generation and invoice register import, against raw sqlite3 in the same run.

Measured:
- generating the seed-scale city (register, inbox, truth.csv): target under 60 s;
- ``import_register`` of the seed register into a fresh, migrated SQLite file (validation,
  upserts, invoices, lines, indexes, foreign keys, one transaction);
- baseline: the least a loader can do with the same data: ``csv.reader`` over invoices.csv
  into tuples, then one sqlite3 ``executemany`` into a table with the same nine columns and
  no index, with the gateway's pragmas (WAL, synchronous=FULL), and commit.

Target: import time <= 2.5 x the executemany alone (the strict reading: the import reads and
validates its files, the baseline is handed its tuples), the best of ``ROUNDS`` interleaved
rounds on each side. Read + executemany is reported too, without a target, as the
like-for-like figure.
"""

from __future__ import annotations

import csv
import gc
import sqlite3
import time
from pathlib import Path

from bench.city import DAY, scratch, seed_dir
from bench.common import Result, timed
from gateway.db import make_engine
from gateway.migrate import upgrade

RATIO_TARGET = 2.5
GENERATION_TARGET_S = 60.0


def _generate() -> tuple[float, Path]:
    """Time the seed city; if another benchmark already built it, build our own copy."""
    if seed_dir.cache_info().currsize == 0:
        seconds, out = timed(seed_dir)
        return seconds, Path(str(out))
    from fixtures.generate import generate

    out = scratch("register-import-city")
    seconds, _ = timed(lambda: generate(out, scale="seed", seed=1, day=DAY))
    return seconds, out


def _baseline(invoices_csv: Path, db: Path) -> tuple[float, float]:
    """(read seconds, executemany + commit seconds) of the raw load.

    The cyclic GC is paused while the tuples are built, as the importer does, so that the
    comparison is between the loads and not between collector settings.
    """
    t0 = time.perf_counter()
    gc.disable()
    try:
        with invoices_csv.open(encoding="utf-8", newline="") as fh:
            reader = csv.reader(fh)
            next(reader)
            rows = [tuple(r) for r in reader]
    finally:
        gc.enable()
    t1 = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute(
        "CREATE TABLE lines (invoice_no TEXT, account_no TEXT, period TEXT, issued_on TEXT, "
        "due_on TEXT, payment_ref TEXT, service_code TEXT, provider_code TEXT, amount_due TEXT)"
    )
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    conn.execute("COMMIT")
    conn.close()
    return t1 - t0, time.perf_counter() - t1


def _import(register: Path, db: Path) -> float:
    from gateway.services.invoices import import_register

    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    try:
        seconds, _ = timed(lambda: import_register(engine, register))
    finally:
        engine.dispose()
    return seconds


#: Rounds of (baseline, import), interleaved; the best of each is compared. The machines
#: are shared virtual ones: one slow round (a neighbour's burst) says nothing about the code.
ROUNDS = 2


def bench() -> list[Result]:
    gen_s, city = _generate()
    work = scratch("register-import")
    read_s = insert_s = import_s = float("inf")
    for n in range(ROUNDS):
        for name in (f"baseline-{n}.db", f"gateway-{n}.db"):
            for suffix in ("", "-wal", "-shm"):
                (work / f"{name}{suffix}").unlink(missing_ok=True)
        read, insert = _baseline(city / "register" / "invoices.csv", work / f"baseline-{n}.db")
        read_s, insert_s = min(read_s, read), min(insert_s, insert)
        import_s = min(import_s, _import(city / "register", work / f"gateway-{n}.db"))
    ratio = import_s / insert_s
    return [
        Result(
            name="seed city generation (register, inbox, truth)",
            value=gen_s,
            unit="s",
            target=f"< {GENERATION_TARGET_S:.0f} s",
            ok=gen_s < GENERATION_TARGET_S,
        ),
        Result(
            name="register import, seed scale, SQLite",
            value=import_s,
            unit="s",
            baseline_name="sqlite3 executemany of the same lines (tuples already read)",
            baseline=insert_s,
            target=f"ratio <= {RATIO_TARGET}",
            ok=ratio <= RATIO_TARGET,
        ),
        Result(
            name="register import vs read + executemany (info)",
            value=import_s,
            unit="s",
            baseline_name="csv.reader of invoices.csv + the same executemany",
            baseline=read_s + insert_s,
        ),
    ]
