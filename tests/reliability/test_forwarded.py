"""X-Forwarded-For is believed only from configured proxies (issue 14, defect 5).

A real ``gateway serve`` on loopback: an agent allowed only from 192.0.2.7 must not get in
from 127.0.0.1 by sending ``X-Forwarded-For: 192.0.2.7``, unless 127.0.0.1 is a configured
proxy (``GATEWAY_TRUSTED_PROXIES``).
"""

from __future__ import annotations

from pathlib import Path

import httpx

from gateway.db import make_engine
from gateway.migrate import upgrade
from gateway.services.agents import add_agent
from tests.api.conftest import A1, insert_city
from tests.api.live import live_server


def _city(tmp_path: Path) -> tuple[str, str]:
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    engine = make_engine(url)
    upgrade(engine)
    insert_city(engine)
    key = add_agent(engine, "far", ip_allow="192.0.2.7").key
    engine.dispose()
    return url, key


def _status(base: str, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}", "X-Forwarded-For": "192.0.2.7"}
    return httpx.get(f"{base}/pf/v1/accounts/{A1}", headers=headers, timeout=10).status_code


def test_forwarded_header_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    url, key = _city(tmp_path)
    with live_server(url) as base:
        assert _status(base, key) == 403


def test_forwarded_header_from_a_configured_proxy_is_believed(tmp_path: Path) -> None:
    url, key = _city(tmp_path)
    with live_server(url, {"GATEWAY_TRUSTED_PROXIES": "127.0.0.1"}) as base:
        assert _status(base, key) == 200
