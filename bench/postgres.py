"""PostgreSQL against SQLite in the same run: the seed register import, then the clean and
the messy day's ingest (``bench.ingest``) on a copy of the imported city.

PostgreSQL is the multi-process database; it must not be the slow one. Each figure's
baseline is the same job on SQLite measured in this run (the ingest's from ``bench.ingest``
when it ran first, else here). Target: ratio <= 1.5 for each. The server is the one the
tests use (``GATEWAY_TEST_PG``, default postgres@127.0.0.1:5432); throw-away databases are
created and dropped here. Run alone: ``python -m bench postgres``.
"""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from bench import ingest
from bench.city import messy_statement, scratch, seed_db, seed_dir
from bench.common import Result
from gateway.db import make_engine
from gateway.migrate import upgrade

RATIO_TARGET = 1.5
ADMIN_URL = os.environ.get("GATEWAY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def _url(name: str) -> str:
    return ADMIN_URL.rsplit("/", 1)[0] + "/" + name


def _admin(sql: str) -> None:
    admin = make_engine(ADMIN_URL, isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        with admin.connect() as conn:
            conn.execute(text(sql))
    finally:
        admin.dispose()


def _import(url: str) -> float:
    """Seconds of ``import_register`` of the seed register into the migrated ``url``."""
    from gateway.services.invoices import import_register

    engine = make_engine(url)
    try:
        upgrade(engine)
        t0 = time.perf_counter()
        import_register(engine, seed_dir() / "register")
        return time.perf_counter() - t0
    finally:
        engine.dispose()


def _sqlite_import() -> float:
    path = scratch("postgres") / "sqlite-import.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return _import(f"sqlite:///{path}")


def _ingest_row(day: str, xml: Path, template: str) -> list[Result]:
    if day not in ingest.SQLITE:
        db = seed_db(f"pg-baseline-{day}")
        ingest.SQLITE[day] = ingest.run_ingest(f"sqlite:///{db}", xml, f"pg-baseline-{day}")
    base = ingest.SQLITE[day]
    name = f"{template}_{day}"
    _admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        ours = ingest.run_ingest(_url(name), xml, f"pg-{day}")
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"  PostgreSQL {day} day ingest outcome: {ours['status']} {ours['counts']}")
    ratio = ours["seconds"] / base["seconds"]
    rows = [
        Result(
            f"gateway ingest, {day} day, PostgreSQL",
            ours["seconds"],
            "s",
            f"the same ingest on SQLite ({day} day, this run)",
            base["seconds"],
            f"ratio <= {RATIO_TARGET}",
            ratio <= RATIO_TARGET,
        )
    ]
    if day == "messy":
        same = ours["decisions"] == ingest.MESSY_GOLDEN
        rows.append(
            Result(
                "  messy day decisions on PostgreSQL identical to the golden (1 = yes)",
                float(same),
                "",
                target="identical",
                ok=same,
            )
        )
    return rows


def bench() -> list[Result]:
    template = f"plata_bench_{uuid.uuid4().hex[:8]}"
    _admin(f'CREATE DATABASE "{template}"')
    try:
        sqlite_s = _sqlite_import()
        pg_s = _import(_url(template))
        print(f"  register import: SQLite {sqlite_s:.1f} s, PostgreSQL {pg_s:.1f} s")
        results = [
            Result(
                "register import, seed scale, PostgreSQL",
                pg_s,
                "s",
                "the same import on SQLite (this run)",
                sqlite_s,
                f"ratio <= {RATIO_TARGET}",
                pg_s / sqlite_s <= RATIO_TARGET,
            )
        ]
        clean = scratch("ingest") / "statement-100k.xml"
        if not clean.exists():
            ingest.write_statement(seed_db("ingest-source"), clean)
        results += _ingest_row("clean", clean, template)
        results += _ingest_row("messy", messy_statement(), template)
        return results
    finally:
        _admin(f'DROP DATABASE IF EXISTS "{template}" WITH (FORCE)')
