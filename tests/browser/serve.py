"""A real `gateway serve` on a free port for browser tests, and Chromium launched by playwright
(the ``browser`` fixture is in conftest.py).

Debian's /usr/bin/chromium, never a downloaded browser (`playwright install` is never run).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine

from gateway.db import make_engine
from gateway.migrate import upgrade
from tests.conftest import require
from tests.workspace.kit import PASSWORD, add_people, insert_city

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
VIEWPORT = {"width": 1366, "height": 768}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def gateway_serve(env_extra: dict[str, str]) -> Iterator[str]:
    """Run `gateway serve` with ``env_extra`` until the block ends; yields the base URL."""
    env = {**os.environ, **env_extra, "GATEWAY_LOG_LEVEL": "WARNING"}
    env.pop("GATEWAY_CONFIG", None)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None:
                pytest.fail("gateway serve exited at start")
            time.sleep(0.1)
        else:
            pytest.fail("gateway serve did not start")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def shots_dir(tmp: Path) -> Path:
    """docs/screenshots with PLATA_SCREENSHOTS=1 (`make screenshots`), else a temporary folder,
    so an ordinary test run leaves the repository's pictures alone."""
    if os.environ.get("PLATA_SCREENSHOTS") == "1":
        path = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
    else:
        path = tmp / "screenshots"
    path.mkdir(parents=True, exist_ok=True)
    return path


def workspace_db(tmp_path: Path) -> tuple[Engine, dict[str, int], dict[str, str]]:
    """A fresh SQLite database with the workspace kit's city, queue and people: its engine (for
    a test's own rows; dispose it before serving), the review item ids by reason, and the
    environment of a `gateway serve` on it. Skipped where Chromium is missing."""
    require(Path(CHROMIUM).exists(), f"{CHROMIUM} not installed")
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    engine = make_engine(url)
    upgrade(engine)
    ids = insert_city(engine)
    add_people(engine)
    return engine, ids, {"GATEWAY_DATABASE_URL": url, "GATEWAY_DATA_DIR": str(tmp_path / "data")}


def signed_in(browser, base: str, user: str):  # type: ignore[no-untyped-def]
    """A new browser context (its own cookies) with ``user`` signed in, on the queue."""
    page = browser.new_context(viewport=VIEWPORT).new_page()
    page.goto(f"{base}/app/queue")
    assert "/app/login" in page.url
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/app/queue")
    return page
