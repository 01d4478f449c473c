"""Against a real server process: concurrent duplicates, IP allow-list, OpenAPI + schemathesis."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, func, select

from gateway.services.agents import add_agent
from schemas.tables import allocations, payments
from tests.api.conftest import A1, payment
from tests.api.live import ROOT, live_server


@pytest.fixture
def server(db_url: str, city: Engine):  # type: ignore[no-untyped-def]
    with live_server(db_url) as base:
        yield base


def test_32_identical_posts_at_once_make_one_payment(server: str, city: Engine) -> None:
    key = add_agent(city, "bank32").key
    body = payment("SAME-INSTANT", A1, "123.45")
    barrier = threading.Barrier(32)
    answers: list[httpx.Response] = []
    lock = threading.Lock()

    def post() -> None:
        with httpx.Client(base_url=server, timeout=30) as client:
            client.get("/health")  # connect before the barrier: the posts leave together
            barrier.wait()
            r = client.post(
                "/pf/v1/payments", json=body, headers={"Authorization": f"Bearer {key}"}
            )
            with lock:
                answers.append(r)

    threads = [threading.Thread(target=post) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * 31 + [201]
    assert len({r.content for r in answers}) == 1  # every answer is the original body
    with city.connect() as conn:
        assert conn.execute(select(func.count()).select_from(payments)).scalar_one() == 1
        total = conn.execute(select(func.sum(allocations.c.amount))).scalar_one()
    assert total == 12345


def test_ip_allow_list(server: str, city: Engine) -> None:
    inside = add_agent(city, "inside", ip_allow="127.0.0.0/8").key
    outside = add_agent(city, "outside", ip_allow="10.0.0.0/8, 192.0.2.7").key
    for key, status in ((inside, 200), (outside, 403)):
        r = httpx.get(f"{server}/pf/v1/accounts/{A1}", headers={"Authorization": f"Bearer {key}"})
        assert r.status_code == status
    assert r.json()["code"] == "IP_NOT_ALLOWED"


def test_openapi_describes_every_endpoint(server: str) -> None:
    doc = httpx.get(f"{server}/schema/openapi.json").json()
    paths = doc["paths"]
    assert set(paths["/pf/v1/accounts/{account_no}"]) >= {"get"}
    assert set(paths["/pf/v1/payments"]) >= {"post"}
    assert set(paths["/pf/v1/payments/{agent_txn_id}"]) >= {"get"}
    assert set(paths["/pf/v1/payments/{agent_txn_id}/reversal"]) >= {"post"}
    assert set(paths["/osmp/v1"]) >= {"get"}
    body = paths["/pf/v1/payments"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]


def test_schemathesis_finds_no_server_error(server: str, city: Engine, tmp_path: Path) -> None:
    key = add_agent(city, "fuzz", rate_per_minute=10**6).key
    cmd = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{server}/schema/openapi.json",
        "--checks", "not_a_server_error", "--max-examples", "20", "--seed", "1",
        "--header", f"Authorization: Bearer {key}", "--request-timeout", "10",
        "--phases", "examples,coverage,fuzzing", "--no-color",
    ]  # fmt: skip
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
