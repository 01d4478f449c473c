"""Reading an agent never waits for SQLite's write lock; concurrent requests share one load.

Issue 14, defect 1: ``load_agent`` opened a write transaction (BEGIN IMMEDIATE) just to read,
once per request whenever the 30 s cache had expired, with no sharing: while an ingest held
the write lock, every worker thread ended up waiting inside it.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time

from gateway.api import auth
from gateway.services.agents import add_agent, load_agent


def test_load_agent_reads_while_another_process_holds_the_write_lock(sqlite_engine) -> None:
    key_id = add_agent(sqlite_engine, "maib").key_id
    holder = sqlite3.connect(sqlite_engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("UPDATE agents SET rate_per_minute = rate_per_minute")
    try:
        started = time.monotonic()
        agent = load_agent(sqlite_engine, key_id)
        took = time.monotonic() - started
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert agent is not None and agent.name == "maib"
    assert took < 1.0, f"load_agent waited {took:.1f} s for the write lock"


def test_concurrent_requests_for_one_key_share_one_load(sqlite_engine, monkeypatch) -> None:
    key_id = add_agent(sqlite_engine, "maib").key_id
    calls: list[str] = []

    def counting(engine, kid):  # type: ignore[no-untyped-def]
        calls.append(kid)
        time.sleep(0.2)  # a slow database: every request arrives while the load runs
        return load_agent(engine, kid)

    monkeypatch.setattr(auth, "load_agent", counting)
    state = auth.AuthState(sqlite_engine, 300)

    async def burst() -> list:
        return await asyncio.gather(*(state.agent(key_id) for _ in range(40)))

    found = asyncio.run(burst())
    assert len(calls) == 1
    assert {a.name for a in found} == {"maib"}
