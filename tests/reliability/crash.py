"""Helpers of the crash tests: run a command, kill -9 it at a random moment, snapshot the DB.

A snapshot is what a clean run and a crashed-then-rerun run must agree on: every payment
(identity, status, account, amount, reason), every allocation summed by payment, line and
kind, every review item's reason.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import Engine, func, select

from schemas.tables import allocations, payments, review_items
from tests.api.live import ROOT


def gateway(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def kill_at_random(proc: subprocess.Popen[bytes], rng: random.Random, most: float) -> float:
    """SIGKILL ``proc`` after a random delay up to ``most`` seconds; the delay (or -1 when the
    process had already finished)."""
    delay = rng.uniform(0.05, most)
    deadline = time.monotonic() + delay
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return -1.0
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    return delay


def snapshot(engine: Engine) -> dict[str, list]:
    p, a, r = payments, allocations, review_items
    with engine.connect() as conn:
        pays = conn.execute(
            select(p.c.source, p.c.external_id, p.c.status, p.c.account_no, p.c.amount,
                   p.c.reason).order_by(p.c.source, p.c.external_id)
        ).all()  # fmt: skip
        allocs = conn.execute(
            select(p.c.external_id, a.c.invoice_line_id, a.c.kind, func.sum(a.c.amount))
            .join(p, p.c.id == a.c.payment_id)
            .group_by(p.c.external_id, a.c.invoice_line_id, a.c.kind)
            .order_by(p.c.external_id, a.c.invoice_line_id, a.c.kind)
        ).all()
        reviews = conn.execute(
            select(p.c.external_id, r.c.reason)
            .join(p, p.c.id == r.c.payment_id)
            .order_by(p.c.external_id)
        ).all()
    return {
        "payments": [tuple(x) for x in pays],
        "allocations": [(e, line, k, int(s)) for e, line, k, s in allocs],
        "reviews": [tuple(x) for x in reviews],
    }


def env_for(db_url: str, data_dir: Path, **extra: str) -> dict[str, str]:
    return {"GATEWAY_DATABASE_URL": db_url, "GATEWAY_DATA_DIR": str(data_dir),
            "GATEWAY_LOG_LEVEL": "WARNING", **extra}  # fmt: skip
