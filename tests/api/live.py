"""A real ``gateway serve`` process on loopback, for tests that need real sockets and threads."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def live_server(db_url: str, extra_env: dict[str, str] | None = None) -> Iterator[str]:
    """Start ``python -m gateway.cli serve`` against ``db_url``; yield its base URL."""
    port = free_port()
    env = {**os.environ, "GATEWAY_DATABASE_URL": db_url, "GATEWAY_LOG_LEVEL": "WARNING"}
    env.update(extra_env or {})
    cmd = [sys.executable, "-m", "gateway.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = tempfile.TemporaryFile()  # noqa: SIM115 - a pipe nobody reads would block the server
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=log)
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
                raise RuntimeError(f"server did not start: {log.read()[-2000:]!r}")
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.seek(0)
        sys.stderr.write(log.read().decode(errors="replace")[-20000:])
        log.close()
