"""The payment service called directly (as a background job would), from many threads at once."""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import threading
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select

from gateway.db import make_engine
from gateway.services.agents import add_agent, load_agent
from gateway.services.payments import PaymentInput, post_payment
from gateway.writer import write, write_async
from schemas.tables import allocations, payments
from tests.api.conftest import A1, A2, insert_city, now_iso


def test_threads_posting_directly_store_each_payment_once(engine: Engine) -> None:
    insert_city(engine)
    agent = load_agent(engine, add_agent(engine, "direct").key_id)
    assert agent is not None
    paid_at = now_iso()
    inputs = [
        PaymentInput(f"T{i % 12}", (A1, A2)[i % 2], "5.00", "MDL", paid_at) for i in range(48)
    ]
    statuses: list[int] = []
    barrier = threading.Barrier(16)

    def worker(chunk: list[PaymentInput]) -> None:
        barrier.wait()
        for inp in chunk:
            out = post_payment(engine, agent, inp, tz=ZoneInfo("Europe/Chisinau"))
            statuses.append(out.status)

    threads = [threading.Thread(target=worker, args=(inputs[i::16],)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses).count(201) == 12 and len(statuses) == 48
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(payments)).scalar_one() == 12
        assert conn.execute(select(func.sum(allocations.c.amount))).scalar_one() == 12 * 500


def test_loop_writer_waits_for_another_writer_without_blocking_the_loop(tmp_path: Path) -> None:
    """Another process holds SQLite's write lock: the batch waits, the loop runs."""
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    other = sqlite3.connect(tmp_path / "w.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # as a CLI ingest would

    async def scenario() -> tuple[int, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        tick_task = asyncio.create_task(ticker())
        asyncio.get_running_loop().call_later(0.3, other.execute, "COMMIT")
        n = await write_async(
            engine, lambda c: c.exec_driver_sql("INSERT INTO t VALUES (1)").rowcount
        )
        tick_task.cancel()
        return n, ticks

    inserted, ticks = asyncio.run(scenario())
    assert inserted == 1 and ticks >= 10  # the loop kept running while the writer waited
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 1
        # the writer's connection went back to the pool waiting for locks again
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar_one() == 30_000
        assert conn.exec_driver_sql("PRAGMA temp_store").scalar_one() == 0
    other.close()
    engine.dispose()


def _lateness(db: Path, hold: float, start_write) -> float:  # type: ignore[no-untyped-def]
    """Seconds between another connection's COMMIT (after ``hold`` s) and the start of the
    job that waited for the lock meanwhile."""
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    started: list[float] = []
    released: list[float] = []
    waiter = threading.Thread(target=start_write, args=(started,))
    waiter.start()
    time.sleep(hold)
    other.execute("COMMIT")
    released.append(time.monotonic())
    waiter.join()
    other.close()
    return started[0] - released[0]


def test_writers_get_the_lock_within_milliseconds_of_the_holders_commit(tmp_path: Path) -> None:
    """Issue 14: an ingest leaves a few ms between its write transactions; a writer sleeping
    in SQLite's busy handler (sleeps growing to 100 ms) oversleeps them, ours tries every
    1-5 ms. Both writers of the API: the event loop's and the thread's (group commit)."""
    db = tmp_path / "w.db"
    engine = make_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")

    def job(started: list[float]):  # type: ignore[no-untyped-def]
        return lambda c: (
            started.append(time.monotonic()),
            c.exec_driver_sql("INSERT INTO t VALUES (1)"),
        )

    def on_loop(started: list[float]) -> None:
        asyncio.run(write_async(engine, job(started)))

    def on_thread(started: list[float]) -> None:
        write(engine, job(started))

    # holds of 0.35-0.75 s: SQLite's handler would try again 0-100 ms after the commit
    late = [_lateness(db, 0.35 + i * 0.1, w) for i in range(5) for w in (on_loop, on_thread)]
    assert statistics.median(late) < 0.02, late
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 10
    engine.dispose()
