"""The seed-scale city, generated and imported once per `make bench` run and shared.

Benchmarks that need the real city in a database copy ``seed_db()`` (a migrated SQLite file
with the seed register imported) instead of each paying a minute to build their own. The
scratch folder (several GB after a full run) is removed when the run ends, unless
``PLATA_BENCH_KEEP=1`` asks to keep it for inspection.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from datetime import date
from functools import cache
from pathlib import Path

from gateway.db import make_engine
from gateway.migrate import upgrade

DAY = date(2026, 11, 20)
_ROOT = Path(tempfile.mkdtemp(prefix="plata-bench-"))
if os.environ.get("PLATA_BENCH_KEEP") != "1":
    atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


@cache
def seed_dir() -> Path:
    """A generated seed-scale city (register, inbox, truth.csv)."""
    from fixtures.generate import generate

    out = _ROOT / "seed"
    generate(out, scale="seed", seed=1, day=DAY, progress=False)
    return out


@cache
def _seed_db_template() -> Path:
    from gateway.services.invoices import import_register

    path = _ROOT / "seed-template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    import_register(engine, seed_dir() / "register")
    engine.dispose()
    return path


def seed_db(name: str) -> Path:
    """A private copy of the imported seed city (SQLite), for one benchmark to write into."""
    path = _ROOT / f"{name}.db"
    shutil.copyfile(_seed_db_template(), path)
    return path


@cache
def messy_statement() -> Path:
    """The seed city's messy day (``fixtures generate --scale seed --mix messy``): one
    camt.053 of 100,000 hard transfer texts, with its truth.csv beside the inbox."""
    from fixtures.generate import build_city
    from fixtures.messy import MESSY_PAYMENTS, write_messy_day

    out = _ROOT / "messy"
    city = build_city("seed", seed=1, day=DAY)
    write_messy_day(city, out, payments=MESSY_PAYMENTS["seed"], seed=1)
    (xml,) = (out / "inbox" / "statement").iterdir()
    return xml


def scratch(name: str) -> Path:
    path = _ROOT / name
    path.mkdir(parents=True, exist_ok=True)
    return path
