"""kill -9 at random moments of a register import, then a rerun: the same as a clean import.

The import writes the register in one transaction: a kill leaves the previous state, and the
rerun imports it whole, once (SQLite and PostgreSQL).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from sqlalchemy import func, select

from fixtures.generate import generate
from gateway.db import make_engine
from schemas.tables import accounts, invoice_lines, invoices, register_imports
from tests.conftest import _truncate
from tests.reliability.conftest import SOAK
from tests.reliability.crash import env_for, gateway, kill_at_random

KILLS = 8 if SOAK else 3


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate(out, scale="small", seed=3, progress=False)
    return out / "register"


def _state(engine) -> tuple:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        counts = [
            conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in (accounts, invoices, invoice_lines, register_imports)
        ]
        total = conn.execute(select(func.sum(invoice_lines.c.amount_due))).scalar_one()
    return (*counts, total)


def test_kill_9_during_register_import_then_rerun_equals_a_clean_import(db_url, tmp_path, register):
    env = env_for(db_url, tmp_path / "data")
    engine = make_engine(db_url)
    clean = gateway(["invoices", "import", str(register)], env)
    assert clean.wait(300) == 0
    expected = _state(engine)
    assert expected[2] > 0

    _truncate(engine)
    rng = random.Random(7)
    for _ in range(KILLS):
        kill_at_random(gateway(["invoices", "import", str(register)], env), rng, 3.0)
        state = _state(engine)
        assert state in ((0, 0, 0, 0, None), expected), state  # all or nothing
    final = gateway(["invoices", "import", str(register)], env)
    assert final.wait(300) == 0
    assert _state(engine) == expected
    engine.dispose()
