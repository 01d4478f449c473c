"""Agent keys, HMAC signatures with a replay window, rate limiting, and logs without people."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import time

import pytest
from litestar.testing import TestClient
from sqlalchemy import Engine, select, update

from gateway.api.auth import sign
from gateway.services.agents import add_agent, hash_secret
from gateway.settings import Settings
from schemas.tables import agents
from tests.api.conftest import A1, Api, payment
from tests.api.live import ROOT


def test_agent_key_is_shown_once_and_only_its_hash_is_stored(city: Engine) -> None:
    created = add_agent(city, "bank-a")
    key_id, secret = created.key.split(".", 1)
    assert key_id == created.key_id and len(secret) >= 40
    with city.connect() as conn:
        row = conn.execute(select(agents).where(agents.c.name == "bank-a")).one()
    assert row.key_hash == hash_secret(secret)
    assert secret not in str(tuple(row)) and created.key not in str(tuple(row))


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess:
    """The real command in its own process (it configures logging for the whole process)."""
    env = {**os.environ, "GATEWAY_DATABASE_URL": settings.database_url}
    cmd = [sys.executable, "-m", "gateway.cli", *args]
    return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_cli_prints_the_key_alone_on_the_last_line(city: Engine, settings: Settings) -> None:
    run = _cli(settings, "agents", "add", "cli-bank", "--ip-allow", "10.0.0.0/8", "--sign")
    assert run.returncode == 0, run.stderr
    key = run.stdout.strip().splitlines()[-1]
    with city.connect() as conn:
        row = conn.execute(select(agents).where(agents.c.name == "cli-bank")).one()
    assert key.startswith(row.key_id + ".") and row.key_hash == hash_secret(key.split(".", 1)[1])
    assert row.ip_allow == "10.0.0.0/8" and row.signing_secret
    again = _cli(settings, "agents", "add", "cli-bank")
    assert again.returncode != 0 and "already exists" in again.stderr


def test_serve_refuses_several_workers_on_sqlite(settings: Settings) -> None:
    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the refusal is about SQLite")
    run = _cli(settings, "serve", "--workers", "2")
    assert run.returncode != 0 and "PostgreSQL" in run.stderr


@pytest.mark.parametrize("name", ["", "Bank A", "x" * 33, "bank/a"])
def test_agent_names_are_plain(city: Engine, name: str) -> None:
    with pytest.raises(Exception, match="agent name"):
        add_agent(city, name)


def test_key_forms(bank: Api) -> None:
    key_id, secret = bank.agent.key.split(".", 1)
    basic = base64.b64encode(f"{key_id}:{secret}".encode()).decode()
    for headers in (
        {"Authorization": f"Bearer {bank.agent.key}"},
        {"X-API-Key": bank.agent.key},
        {"Authorization": f"Basic {basic}"},
    ):
        assert bank.client.get(f"/pf/v1/accounts/{A1}", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Bearer abc.def"},
        {"X-API-Key": "0123456789ab.wrong-secret"},
        {"Authorization": "Basic !!!"},
    ],
)
def test_bad_keys_are_refused(bank: Api, headers: dict[str, str]) -> None:
    r = bank.client.get(f"/pf/v1/accounts/{A1}", headers=headers)
    assert r.status_code == 401 and r.json()["code"] == "UNAUTHORIZED"


def test_right_key_id_with_wrong_secret(bank: Api) -> None:
    secret = bank.agent.key.split(".", 1)[1]
    wrong = ("y" if secret[0] == "x" else "x") + secret[1:]  # always differs from the secret
    key = bank.agent.key_id + "." + wrong
    r = bank.client.get(f"/pf/v1/accounts/{A1}", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 401


def test_inactive_agent_is_refused(settings: Settings, city: Engine) -> None:
    created = add_agent(city, "gone")
    with city.begin() as conn:
        conn.execute(update(agents).where(agents.c.name == "gone").values(active=False))
    from gateway.app import create_app

    with TestClient(create_app(settings, city)) as client:
        r = client.get(f"/pf/v1/accounts/{A1}", headers={"X-API-Key": created.key})
    assert r.status_code == 401


# --- signatures -------------------------------------------------------------------------


@pytest.fixture
def signer(app_client: TestClient, city: Engine) -> Api:
    return Api(app_client, add_agent(city, "signer", sign=True))


def _signed_post(api: Api, body: bytes, *, ts: int | None = None, tamper: bool = False):  # type: ignore[no-untyped-def]
    stamp = str(int(time.time()) if ts is None else ts)
    sig = sign(api.agent.signing_secret or "", "POST", "/pf/v1/payments", stamp, body)
    sent = body.replace(b"10.00", b"11.00") if tamper else body
    headers = {**api.headers(), "X-Timestamp": stamp, "X-Signature": sig,
               "Content-Type": "application/json"}  # fmt: skip
    return api.client.post("/pf/v1/payments", content=sent, headers=headers)


def test_signed_request_is_accepted(signer: Api) -> None:
    body = json.dumps(payment("SIG1", A1, "10.00")).encode()
    assert _signed_post(signer, body).status_code == 201


def test_unsigned_request_from_a_signing_agent_is_refused(signer: Api) -> None:
    r = signer.post(payment("SIG2", A1, "10.00"))
    assert r.status_code == 401 and r.json()["code"] == "BAD_SIGNATURE"


def test_tampered_body_is_refused(signer: Api, city: Engine) -> None:
    body = json.dumps(payment("SIG3", A1, "10.00")).encode()
    r = _signed_post(signer, body, tamper=True)
    assert r.status_code == 401 and r.json()["code"] == "BAD_SIGNATURE"


@pytest.mark.parametrize("age", [-330, 330, 3600])  # margin: the clock moves during the call
def test_signature_outside_the_five_minute_window_is_refused(signer: Api, age: int) -> None:
    body = json.dumps(payment("SIG4", A1, "10.00")).encode()
    r = _signed_post(signer, body, ts=int(time.time()) - age)
    assert r.status_code == 401 and r.json()["code"] == "SIGNATURE_EXPIRED"


def test_signature_inside_the_window_is_accepted(signer: Api) -> None:
    body = json.dumps(payment("SIG5", A1, "10.00")).encode()
    assert _signed_post(signer, body, ts=int(time.time()) - 290).status_code == 201


def test_signed_get_covers_the_path(signer: Api) -> None:
    stamp = str(int(time.time()))
    path = f"/pf/v1/accounts/{A1}"
    sig = sign(signer.agent.signing_secret or "", "GET", path, stamp, b"")
    headers = {**signer.headers(), "X-Timestamp": stamp, "X-Signature": sig}
    assert signer.client.get(path, headers=headers).status_code == 200
    other = f"/pf/v1/accounts/{A1[:-1]}-{A1[-1]}"
    assert signer.client.get(other, headers=headers).status_code == 401


# --- rate limit and logs ----------------------------------------------------------------


def test_rate_limit_per_agent(app_client: TestClient, city: Engine, bank: Api) -> None:
    slow = Api(app_client, add_agent(city, "slow", rate_per_minute=6))  # burst of one
    assert slow.get(f"/pf/v1/accounts/{A1}").status_code == 200
    r = slow.get(f"/pf/v1/accounts/{A1}")
    assert r.status_code == 429
    assert r.json()["code"] == "RATE_LIMITED" and r.json()["result"] == 1
    assert int(r.headers["retry-after"]) >= 1
    assert bank.get(f"/pf/v1/accounts/{A1}").status_code == 200  # other agents unaffected


def test_logs_carry_no_personal_data(bank: Api, capfd) -> None:  # type: ignore[no-untyped-def]
    bank.get(f"/pf/v1/accounts/{A1}")
    bank.post(payment("LOG1", A1, "10.00"))
    bank.post(payment("LOG2", "00000000", "10.00"))
    out, err = capfd.readouterr()
    logs = out + err
    assert "maib" in logs  # the agent is named
    for personal in ("Popescu", "Ion", "Ismail", "ap. 12"):
        assert personal not in logs
