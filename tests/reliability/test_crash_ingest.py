"""kill -9 at random moments of an ingest, then a rerun: the same result as a clean run.

Issue 14: "a crash at any moment of an ingest left nothing half-applied and the rerun gave
each payment exactly once", on SQLite and PostgreSQL. The ingest commits in rounds
(``GATEWAY_INGEST_ROUND`` small here, so a few thousand entries make many rounds), so a kill
lands before, between or inside rounds; each kill is followed by another run, which resumes.
``make soak`` tries more kill points.
"""

from __future__ import annotations

import random
import signal
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from fixtures.writers.camt import write_camt053
from fixtures.writers.entries import StatementMeta, WriterEntry
from gateway.db import make_engine
from reconciliation.service.apply import business_today
from schemas.tables import raw_files
from tests.conftest import _truncate
from tests.integration.citykit import ACC_ION, ACC_MARIA, load_tiny_city
from tests.reliability.conftest import SOAK
from tests.reliability.crash import env_for, gateway, kill_at_random, snapshot

ENTRIES = 3_000
KILLS = 12 if SOAK else 4


def _statement() -> bytes:
    day = business_today() - timedelta(days=1)
    refs = [f"cont personal {ACC_ION}", f"c/p {ACC_MARIA}", "chirie", f"{ACC_ION[:7]}"]
    entries = [
        WriterEntry(
            amount=100 + i,
            booking_date=day,
            acct_svcr_ref=f"K{i:05d}",
            remittance=refs[i % 4],
            debtor_name="ION RUSU",
        )
        for i in range(ENTRIES)
    ]
    return write_camt053(entries, StatementMeta(iban="MD24AG000225100013104168",
                                                statement_id="KILL"), version="001.08")  # fmt: skip


def _status(engine) -> str | None:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(raw_files.c.status)).scalar()


def _progress(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(raw_files.c.records)).scalar() or 0


def _kill_after(proc, engine, records: int) -> float:  # type: ignore[no-untyped-def]
    """SIGKILL once at least ``records`` are committed (or after 120 s); -1 if it ended."""
    t0 = time.monotonic()
    while proc.poll() is None and time.monotonic() - t0 < 120:
        if _status(engine) != "applied" and _progress(engine) >= records:
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            return time.monotonic() - t0
        time.sleep(0.02)
    return -1.0 if proc.poll() is not None else time.monotonic() - t0


def test_kill_9_during_ingest_then_rerun_equals_a_clean_run(db_url: str, tmp_path: Path):
    statement = tmp_path / "kill.xml"
    statement.write_bytes(_statement())
    env = env_for(db_url, tmp_path / "data", GATEWAY_INGEST_ROUND="250")
    engine = make_engine(db_url)
    load_tiny_city(engine)
    clean = gateway(["ingest", str(statement), "--source", "bank"], env)
    assert clean.wait(300) == 0, clean.stderr.read().decode()[-2000:] if clean.stderr else ""
    expected = snapshot(engine)
    assert len(expected["payments"]) == ENTRIES

    _truncate(engine)
    load_tiny_city(engine)
    rng = random.Random(14)
    landed = []
    for n in range(KILLS):
        proc = gateway(["ingest", str(statement), "--source", "bank"], env)
        if n % 2:  # at a random moment (startup, parse, inside a round)
            delay = kill_at_random(proc, rng, 4.0)
        else:  # once a random share is committed: on a loaded machine time says little
            delay = _kill_after(proc, engine, rng.randrange(250, ENTRIES - 500))
        if delay > 0 and _status(engine) != "applied":
            landed.append((round(delay, 2), _progress(engine)))
        if _status(engine) == "applied":
            break
    final = gateway(["ingest", str(statement), "--source", "bank"], env)
    assert final.wait(300) == 0
    assert _status(engine) == "applied"
    assert snapshot(engine) == expected
    print(f"kill points (seconds, records committed): {landed}")
    assert any(0 < done < ENTRIES for _, done in landed), "no kill landed between rounds"
    engine.dispose()
