"""The daily report of a seed-scale day, and the XLSX export of its allocations.

The seed day (every channel of the generated seed city: about 11,000 payments and 80,000
allocation rows) is ingested into a copy of the seed database, then measured:

- ``daily_report`` of the day on SQLite and on PostgreSQL (the same day loaded there through
  the same import and ingest): target <= 2 s each, best of three; a bare aggregate over the
  day's allocations (the least any report reads) is the baseline, for information;
- the XLSX of the day's allocations against the same rows written as CSV (both from the
  database, end to end): target ratio <= 4;
- memory: the Python heap's peak (tracemalloc) while the report is built and while the
  XLSX is written; the rows stream, so it stays a few MB whatever the day's size (target
  <= 32 MB against the 80,000 rows, which held in memory would take well over that).
"""

from __future__ import annotations

import os
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select, text

from bench.city import DAY, scratch, seed_db, seed_dir
from bench.common import Result
from gateway.collectors import DEFAULT_COLLECTORS
from gateway.db import make_engine, reading
from gateway.migrate import upgrade
from gateway.services.export import ExportKind, export
from gateway.services.ingest import ingest_path
from gateway.settings import Settings
from schemas.tables import allocations

REPORT_TARGET_S = 2.0
XLSX_RATIO_TARGET = 4.0
HEAP_TARGET_MB = 32.0
PG_ADMIN = os.environ.get("GATEWAY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _best(fn: Callable[[], object], rounds: int = 3) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _heap_peak_mb(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _load_day(url: str, data: Path, with_register: bool) -> None:
    engine = make_engine(url)
    if with_register:
        from gateway.services.invoices import import_register

        upgrade(engine)
        import_register(engine, seed_dir() / "register")
    settings = Settings(database_url=url, data_dir=data, log_json=True, log_level="WARNING")
    for path in sorted((seed_dir() / "inbox").rglob("*")):
        if path.is_file():
            ingest_path(engine, settings, path, source=path.parent.name)
    engine.dispose()


def _report_results(url: str, backend: str) -> list[Result]:
    from gateway.services.report import daily_report

    engine = make_engine(url)
    report = daily_report(engine, DAY, DEFAULT_COLLECTORS)
    assert report.balanced, "the seed day does not balance"
    seconds = _best(lambda: daily_report(engine, DAY, DEFAULT_COLLECTORS))

    def bare() -> None:
        with reading(engine) as conn:
            conn.execute(
                select(func.count(), func.sum(allocations.c.amount)).where(
                    allocations.c.business_day == DAY
                )
            ).one()

    baseline = _best(bare)
    engine.dispose()
    return [
        Result(
            f"daily report, seed day, {backend}",
            seconds,
            "s",
            "one aggregate over the day's allocations",
            baseline,
            f"<= {REPORT_TARGET_S:.0f} s",
            seconds <= REPORT_TARGET_S,
        )
    ]


def _pg_url() -> str | None:
    try:
        admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", pool_size=1)
        name = f"plata_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
    except Exception:
        return None
    return PG_ADMIN.rsplit("/", 1)[0] + "/" + name


def _drop_pg(url: str) -> None:
    admin = make_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", pool_size=1)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


def bench() -> list[Result]:
    work = scratch("report")
    db = seed_db("report")
    url = f"sqlite:///{db}"
    _load_day(url, work / "data", with_register=False)
    results = _report_results(url, "SQLite")

    engine = make_engine(url)
    from gateway.services.report import daily_report

    heap = _heap_peak_mb(lambda: daily_report(engine, DAY, DEFAULT_COLLECTORS))
    xlsx_path, csv_path = work / "allocations.xlsx", work / "allocations.csv"
    rows = export(engine, ExportKind.ALLOCATIONS, DAY, csv_path)
    csv_s = _best(lambda: export(engine, ExportKind.ALLOCATIONS, DAY, csv_path))
    xlsx_s = _best(lambda: export(engine, ExportKind.ALLOCATIONS, DAY, xlsx_path, "xlsx"))
    xlsx_heap = _heap_peak_mb(
        lambda: export(engine, ExportKind.ALLOCATIONS, DAY, xlsx_path, "xlsx")
    )
    engine.dispose()
    results += [
        Result(
            f"XLSX of the day's allocations ({rows:,} rows)",
            xlsx_s,
            "s",
            "the same rows as CSV",
            csv_s,
            f"ratio <= {XLSX_RATIO_TARGET:.0f}",
            xlsx_s <= XLSX_RATIO_TARGET * csv_s,
        ),
        Result(
            "daily report, Python heap peak",
            heap,
            "MB",
            target=f"<= {HEAP_TARGET_MB:.0f} MB (flat: rows streamed)",
            ok=heap <= HEAP_TARGET_MB,
        ),
        Result(
            "XLSX of the allocations, Python heap peak",
            xlsx_heap,
            "MB",
            target=f"<= {HEAP_TARGET_MB:.0f} MB (flat: rows streamed)",
            ok=xlsx_heap <= HEAP_TARGET_MB,
        ),
    ]
    pg = _pg_url()
    if pg is None:
        print("bench.report: PostgreSQL not reachable, its figure is skipped")
        return results
    try:
        _load_day(pg, work / "data-pg", with_register=True)
        results += _report_results(pg, "PostgreSQL")
    finally:
        _drop_pg(pg)
    return results
