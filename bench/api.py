"""Bank API speed: lookup and payment posting against a real server on the seed-scale city.

One ``gateway serve`` process (uvicorn) on a SQLite copy of the imported seed city
(``bench.city.seed_db``), then a bounded load generator on loopback: ``wrk`` when installed
(Debian package ``wrk``), else a small asyncio/httpx generator. Measured in the same run:

1. ``GET /health`` at 16 connections: the baseline (the same server doing almost nothing);
2. ``GET /pf/v1/accounts/{n}`` for random open accounts at 16 connections: target at least
   half the baseline's requests per second, and p99 under 10 ms;
3. ``POST /pf/v1/payments`` with unique txn ids on random accounts at 16 connections, every
   payment committed durably (WAL, synchronous=FULL): target at least 1,000 per second.

Each phase has a short warm-up and a fixed duration, so the whole run stays within about a
minute after the city is imported. ``PLATA_BENCH_API_DB`` may name an already imported SQLite
file to copy instead (handy while tuning).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
from sqlalchemy import func, select, text

from bench.city import scratch
from bench.common import Result
from gateway.db import make_engine
from gateway.services.agents import add_agent
from schemas.tables import payments

CONNECTIONS = 16
DURATION = int(os.environ.get("PLATA_BENCH_API_SECONDS", "10"))
WARMUP = 2


@dataclass
class Load:
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    cpu_ms: float = 0.0  # server CPU time per request: what load on a shared machine hides


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc; 0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measured(pid: int, run) -> Load:  # type: ignore[no-untyped-def]
    before = _cpu_seconds(pid)
    load = run()
    load.cpu_ms = (_cpu_seconds(pid) - before) * 1000 / max(1, load.requests)
    return load


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _database(work: Path) -> Path:
    given = os.environ.get("PLATA_BENCH_API_DB")
    if given:
        path = work / "api.db"
        shutil.copyfile(given, path)
        return path
    from bench.city import seed_db

    return seed_db("api")


def _prepare(db: Path) -> tuple[str, list[str]]:
    """An agent without a practical rate limit, and a sample of open accounts with invoices."""
    engine = make_engine(f"sqlite:///{db}")
    agent = add_agent(engine, f"bench{random.randrange(10**6)}", rate_per_minute=10**9)
    with engine.connect() as conn:
        accounts = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT a.account_no FROM accounts a WHERE a.status = 'open' AND EXISTS "
                    "(SELECT 1 FROM invoices i WHERE i.account_id = a.id) "
                    "ORDER BY random() LIMIT 5000"
                )
            )
        ]
    engine.dispose()
    return agent.key, accounts


@contextmanager
def _server(db: Path, port: int) -> Iterator[tuple[str, int]]:
    env = {**os.environ, "GATEWAY_DATABASE_URL": f"sqlite:///{db}", "GATEWAY_LOG_LEVEL": "WARNING"}
    cmd = [sys.executable, "-m", "gateway.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - a pipe nobody reads would stall the server
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=log)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                err = log.read().decode(errors="replace")
                raise RuntimeError(f"gateway serve did not start: {err[-2000:]}")
            time.sleep(0.2)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


# --- wrk ----------------------------------------------------------------------------------

LOOKUP_LUA = """
local accounts = {%(accounts)s}
local headers = {["Authorization"] = "Bearer %(key)s"}
request = function()
  return wrk.format("GET", "/pf/v1/accounts/" .. accounts[math.random(#accounts)], headers)
end
"""

POST_LUA = """
local accounts = {%(accounts)s}
local headers = {["Authorization"] = "Bearer %(key)s", ["Content-Type"] = "application/json"}
local counter = 0
local threads = 0
setup = function(thread)
  threads = threads + 1
  thread:set("tid", threads)
end
local n = 0
request = function()
  n = n + 1
  local body = '{"agent_txn_id":"%(prefix)s' .. tid .. '-' .. n .. '","account_no":"' ..
    accounts[math.random(#accounts)] .. '","amount":"10.00","currency":"MDL",' ..
    '"paid_at":"%(paid_at)s"}'
  return wrk.format("POST", "/pf/v1/payments", headers, body)
end
"""


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _parse_wrk(out: str) -> Load:
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    lat = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    p50, p99 = (re.match(r"([\d.]+)(\w+)", lat[k]).groups() for k in ("50", "99"))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: .*", out)
    n_err = int(errors.group(1)) if errors else 0
    if socket_errors:
        n_err += sum(int(x) for x in re.findall(r"\d+", socket_errors.group(0)))
    return Load(rps, _ms(*p50), _ms(*p99), total, n_err)


def _wrk(url: str, script: str | None, seconds: int) -> Load:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script or "")
    cmd = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", f.name, url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    os.unlink(f.name)
    return _parse_wrk(out)


# --- Python fallback ----------------------------------------------------------------------


async def _py_load(base: str, make, seconds: int) -> Load:  # type: ignore[no-untyped-def]
    """``CONNECTIONS`` keep-alive clients in a loop; ``make(i)`` -> (method, path, json)."""
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    counter = iter(range(10**9))

    async def worker() -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=base, timeout=10) as client:
            while time.perf_counter() < stop:
                method, path, body = make(next(counter))
                t0 = time.perf_counter()
                r = await client.request(method, path, json=body, headers=_py_headers)
                latencies.append(time.perf_counter() - t0)
                errors += r.status_code >= 300

    await asyncio.gather(*(worker() for _ in range(CONNECTIONS)))
    latencies.sort()
    n = len(latencies)
    return Load(n / seconds, latencies[n // 2] * 1000, latencies[int(n * 0.99)] * 1000, n, errors)


_py_headers: dict[str, str] = {}


def _run_py(base: str, make, seconds: int) -> Load:  # type: ignore[no-untyped-def]
    return asyncio.run(_py_load(base, make, seconds))


# --- the benchmark ------------------------------------------------------------------------


def _phases(base: str, pid: int, key: str, accounts: list[str]) -> dict[str, Load]:
    paid_at = datetime.now(UTC).isoformat(timespec="seconds")
    prefix = f"W{int(time.time())}"
    lua_accounts = ",".join(f'"{a}"' for a in accounts)
    out: dict[str, Load] = {}
    if shutil.which("wrk"):
        lookup = LOOKUP_LUA % {"accounts": lua_accounts, "key": key}
        post = POST_LUA % {"accounts": lua_accounts, "key": key, "prefix": prefix,
                           "paid_at": paid_at}  # fmt: skip
        for name, url, script in (
            ("health", f"{base}/health", None),
            ("lookup", base, lookup),
            ("post", base, post.replace(prefix, prefix + "w")),
        ):
            _wrk(url, script, WARMUP)
            out[name] = _measured(pid, partial(_wrk, url, script, DURATION))
        return out
    _py_headers["Authorization"] = f"Bearer {key}"
    ids = itertools.count()  # shared by warm-up and measured phase: an id is never reused
    makers = {
        "health": lambda i: ("GET", "/health", None),
        "lookup": lambda i: ("GET", f"/pf/v1/accounts/{random.choice(accounts)}", None),
        "post": lambda i: ("POST", "/pf/v1/payments", {
            "agent_txn_id": f"{prefix}-{next(ids)}", "account_no": random.choice(accounts),
            "amount": "10.00", "currency": "MDL", "paid_at": paid_at}),
    }  # fmt: skip
    for name, make in makers.items():
        asyncio.run(_py_load(base, make, WARMUP))
        out[name] = _measured(pid, partial(_run_py, base, make, DURATION))
    return out


def _print(name: str, load: Load) -> None:
    print(
        f"  {name:8s} {load.rps:9,.0f} req/s  p50 {load.p50_ms:6.2f} ms  p99 {load.p99_ms:6.2f} ms"
        f"  server CPU {load.cpu_ms:.2f} ms/req  ({load.requests:,} requests, {load.errors} errors)"
    )


def bench() -> list[Result]:
    work = scratch("api")
    db = _database(work)
    key, accounts = _prepare(db)
    port = _free_port()
    with _server(db, port) as (base, pid):
        loads = _phases(base, pid, key, accounts)
    engine = make_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(payments)).scalar_one()
    engine.dispose()
    generator = "wrk" if shutil.which("wrk") else "python/httpx"
    print(f"bank API, one server process, SQLite, {CONNECTIONS} connections, {generator}:")
    for name, load in loads.items():
        _print(name, load)
    print(f"  payments stored: {stored:,}; machine load average {os.getloadavg()[0]:.1f}")
    health, lookup, post = loads["health"], loads["lookup"], loads["post"]
    return [
        Result("API GET /health, 16 connections", health.rps, "req/s"),
        Result(
            "API lookup GET /pf/v1/accounts/{n}", lookup.rps, "req/s",
            "GET /health, same server", health.rps, "ratio >= 0.5",
            lookup.rps >= 0.5 * health.rps and lookup.errors == 0,
        ),
        Result("API lookup p99", lookup.p99_ms, "ms", target="< 10 ms", ok=lookup.p99_ms < 10),
        Result(
            "API POST /pf/v1/payments (durable)", post.rps, "req/s", target=">= 1000/s",
            ok=post.rps >= 1000 and post.errors == 0,
        ),
        Result("API POST p99", post.p99_ms, "ms"),
    ]  # fmt: skip
