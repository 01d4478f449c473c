"""An open-loop load of bank API posts, a /health poller and an outside SQLite write lock.

Open loop: a new post every ``1/rate`` seconds whatever the answers (a slow server does not
slow the load down, as a bank's customers would not), each on a new connection, with a
client timeout. Shared by ``bench.reliability`` and tests/reliability.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx


@dataclass
class Shot:
    txn: str
    sent: float  # monotonic seconds
    latency: float | None = None  # None: no answer (timeout, connection error)
    status: int | None = None


@dataclass
class Poll:
    at: float
    latency: float | None
    status: int | None


@dataclass
class Load:
    shots: list[Shot] = field(default_factory=list)
    polls: list[Poll] = field(default_factory=list)

    def latencies(self, since: float = 0.0, until: float = float("inf")) -> list[float]:
        return sorted(s.latency for s in self.shots if s.latency is not None
                      and since <= s.sent < until)  # fmt: skip

    def p99_ms(self, since: float = 0.0, until: float = float("inf")) -> float:
        lat = self.latencies(since, until)
        return lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000 if lat else float("nan")

    def errors(self, allowed: tuple[int, ...] = (201,)) -> list[Shot]:
        return [s for s in self.shots if s.status not in allowed]


async def post_open_loop(
    base: str, key: str, accounts: list[str], *, rate: float, seconds: float, prefix: str,
    timeout: float = 10.0, health_every: float = 0.5, load: Load | None = None,
    until: Callable[[], bool] | None = None,
) -> Load:  # fmt: skip
    """Post at ``rate``/s for ``seconds`` (or until ``until()`` is true); poll /health."""
    load = load or Load()
    paid_at = datetime.now(UTC).isoformat(timespec="seconds")
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=base, timeout=timeout, limits=limits) as client:

        async def post(i: int) -> None:
            shot = Shot(f"{prefix}-{i}", time.monotonic())
            load.shots.append(shot)
            body = {"agent_txn_id": shot.txn, "account_no": accounts[i % len(accounts)],
                    "amount": "10.00", "currency": "MDL", "paid_at": paid_at}  # fmt: skip
            try:
                r = await client.post("/pf/v1/payments", json=body, headers=headers)
                shot.status = r.status_code
            except httpx.HTTPError:
                return
            shot.latency = time.monotonic() - shot.sent

        async def health(stop: float) -> None:
            while time.monotonic() < stop and not (until and until()):
                t0 = time.monotonic()
                try:
                    r = await client.get("/health", timeout=2.0)
                    load.polls.append(Poll(t0, time.monotonic() - t0, r.status_code))
                except httpx.HTTPError:
                    load.polls.append(Poll(t0, None, None))
                await asyncio.sleep(max(0.0, health_every - (time.monotonic() - t0)))

        start = time.monotonic()
        tasks = [asyncio.create_task(health(start + seconds))]
        i = 0
        while (now := time.monotonic()) < start + seconds and not (until and until()):
            tasks.append(asyncio.create_task(post(i)))
            i += 1
            await asyncio.sleep(max(0.0, start + i / rate - now))
        await asyncio.gather(*tasks)
    return load


def run_open_loop(*args: object, **kwargs: object) -> Load:
    return asyncio.run(post_open_loop(*args, **kwargs))  # type: ignore[arg-type]


class HeldLock:
    """SQLite's write lock held by another connection (another process's view) for a while."""

    def __init__(self, db: Path, seconds: float) -> None:
        self.db, self.seconds = db, seconds
        self.taken = threading.Event()
        self.released_at: float | None = None
        self.thread = threading.Thread(target=self._hold, daemon=True)

    def start(self) -> HeldLock:
        self.thread.start()
        self.taken.wait(60)
        return self

    def _hold(self) -> None:
        conn = sqlite3.connect(self.db, isolation_level=None, timeout=60)
        conn.execute("BEGIN IMMEDIATE")
        self.taken.set()
        time.sleep(self.seconds)
        conn.execute("ROLLBACK")
        self.released_at = time.monotonic()
        conn.close()

    def join(self) -> None:
        self.thread.join()
