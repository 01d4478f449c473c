"""kill -9 of the server during a burst of posts, restart, every post retried: each once.

A bank that got no answer retries with the same agent_txn_id. After the crash, whatever was
committed is replayed (200, same body), whatever was not is posted now (201): every
transaction ends as exactly one payment whose allocations add up to its amount, on SQLite
and PostgreSQL.
"""

from __future__ import annotations

import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import func, select

from gateway.db import make_engine
from gateway.services.agents import add_agent
from schemas.tables import allocations, payments
from tests.api.conftest import A1, A2, insert_city, now_iso
from tests.api.live import free_port
from tests.reliability.conftest import SOAK
from tests.reliability.crash import env_for, gateway

POSTS = 400 if SOAK else 120


def _serve(db_url: str, port: int, tmp: Path):  # type: ignore[no-untyped-def]
    proc = gateway(["serve", "--host", "127.0.0.1", "--port", str(port)], env_for(db_url, tmp))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start")


def _post(base: str, key: str, i: int, paid_at: str) -> int | None:
    body = {"agent_txn_id": f"B{i:04d}", "account_no": (A1, A2)[i % 2],
            "amount": f"{1 + i % 7}.{i % 100:02d}", "paid_at": paid_at}  # fmt: skip
    try:
        r = httpx.post(f"{base}/pf/v1/payments", json=body, timeout=10,
                       headers={"Authorization": f"Bearer {key}"})  # fmt: skip
    except httpx.HTTPError:
        return None
    return r.status_code


def test_kill_9_during_a_burst_of_posts_then_retries_make_each_payment_once(db_url, tmp_path):
    engine = make_engine(db_url)
    insert_city(engine)
    key = add_agent(engine, "burst", rate_per_minute=10**6).key
    paid_at = now_iso()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = _serve(db_url, port, tmp_path / "data")
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(_post, base, key, i, paid_at) for i in range(POSTS)]
        share = random.Random(14).uniform(0.2, 0.6)  # kill when this share was answered
        deadline = time.monotonic() + 60
        while sum(f.done() for f in futures) < share * POSTS and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        first = [f.result() for f in futures]
    assert None in first, "the kill came after the burst; nothing was tested"
    proc = _serve(db_url, port, tmp_path / "data")
    try:
        again = [_post(base, key, i, paid_at) for i in range(POSTS)]
    finally:
        proc.terminate()
        proc.wait(30)

    assert set(again) <= {200, 201}, again
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(payments)).scalar_one()
        unbalanced = conn.execute(
            select(payments.c.id)
            .join(allocations, allocations.c.payment_id == payments.c.id)
            .group_by(payments.c.id, payments.c.amount)
            .having(func.sum(allocations.c.amount) != payments.c.amount)
        ).all()
    assert n == POSTS and unbalanced == []
    print(f"posts answered before the kill: {sum(s is not None for s in first)} of {POSTS}")
    engine.dispose()
