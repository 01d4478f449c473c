"""Operators' agent commands through the real API: rotate (grace period), revoke, list.

The commands run as subprocesses (``gateway agents ...``), then a fresh ``gateway serve``
process answers with real sockets, so no cache of an earlier process hides the outcome.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from litestar.testing import TestClient
from sqlalchemy import Engine

from gateway.app import create_app
from gateway.services.agent_admin import list_agents, revoke_agent, rotate_agent
from gateway.services.agents import add_agent, load_agent
from gateway.settings import Settings
from tests.api.conftest import A1
from tests.api.live import live_server
from tests.integration.cli import gateway, gateway_env

LOOKUP = f"/pf/v1/accounts/{A1}"


def _status(base: str, key: str) -> int:
    return httpx.get(
        base + LOOKUP, headers={"Authorization": f"Bearer {key}"}, timeout=10
    ).status_code


def test_rotate_and_revoke_through_the_cli_and_the_api(
    db_url: str, city: Engine, tmp_path: Path
) -> None:
    env = gateway_env(db_url, tmp_path / "data")
    keys = {}
    for name in ("maib", "micb", "paynet", "qiwi"):
        added = gateway(env, "agents", "add", name)
        assert added.returncode == 0, added.stderr
        keys[name] = added.stdout.splitlines()[-1]
    rotated = gateway(env, "agents", "rotate", "maib")  # default grace: 24 hours
    assert rotated.returncode == 0, rotated.stderr
    *said, new_maib = rotated.stdout.splitlines()
    assert "valid until" in said[0] and new_maib != keys["maib"] and "." in new_maib
    at_once = gateway(env, "agents", "rotate", "micb", "--grace-hours", "0")
    new_micb = at_once.stdout.splitlines()[-1]
    assert "refused from now on" in at_once.stdout
    assert gateway(env, "agents", "revoke", "paynet").returncode == 0
    rotate_agent(city, "qiwi", now=datetime.now(UTC) - timedelta(hours=25))  # grace over

    listed = gateway(env, "agents", "list")
    assert listed.returncode == 0
    assert not any(k.split(".")[1] in listed.stdout for k in (*keys.values(), new_maib, new_micb))
    lines = {ln.split()[0]: ln for ln in listed.stdout.splitlines()[1:]}
    assert keys["maib"].split(".")[0] + " until " in lines["maib"]
    assert " revoked " in lines["paynet"] and " active " in lines["micb"]

    with live_server(db_url) as base:
        assert _status(base, keys["maib"]) == 200  # old key, within its grace period
        assert _status(base, new_maib) == 200
        assert _status(base, keys["micb"]) == 401  # rotated without grace
        assert _status(base, new_micb) == 200
        assert _status(base, keys["paynet"]) == 401  # revoked
        refused = httpx.get(base + LOOKUP, headers={"Authorization": f"Bearer {keys['qiwi']}"})
        assert refused.status_code == 401 and refused.json()["code"] == "UNAUTHORIZED"


def test_a_cached_previous_key_stops_when_its_grace_ends(settings: Settings, city: Engine) -> None:
    old = add_agent(city, "maib").key
    with TestClient(create_app(settings, city)) as client:
        done = rotate_agent(city, "maib", grace=timedelta(seconds=3))
        headers = {"Authorization": f"Bearer {old}"}
        assert client.get(LOOKUP, headers=headers).status_code == 200  # now cached
        assert done.previous_valid_until is not None
        time.sleep(max(0.0, (done.previous_valid_until - datetime.now(UTC)).total_seconds()) + 0.2)
        assert client.get(LOOKUP, headers=headers).status_code == 401


def test_service_rules(city: Engine) -> None:
    first = add_agent(city, "maib")
    second = rotate_agent(city, "maib")
    third = rotate_agent(city, "maib", grace=timedelta(hours=1))
    (summary,) = list_agents(city)
    assert summary.key_id == third.key_id and summary.status == "active"
    assert {k.key_id for k in summary.previous} == {first.key_id, second.key_id}
    assert third.previous_key_id == second.key_id
    record = load_agent(city, first.key_id)
    assert record is not None and record.valid_until is not None and record.name == "maib"
    assert revoke_agent(city, "maib") is True
    assert revoke_agent(city, "maib") is False
    assert load_agent(city, first.key_id) is None, "previous keys end with the revocation"
    current = load_agent(city, third.key_id)
    assert current is not None and not current.active
    (revoked,) = list_agents(city)
    assert revoked.status == "revoked" and revoked.revoked_at is not None and not revoked.previous
