"""Run the real ``gateway`` command in a subprocess, as an operator would (tests' helper)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

GATEWAY = [sys.executable, "-m", "gateway.cli"]


def gateway_env(database_url: str, data_dir: Path, config: Path | None = None) -> dict[str, str]:
    """The environment of one gateway installation (no GATEWAY_CONFIG unless given)."""
    env = {**os.environ, "GATEWAY_DATABASE_URL": database_url, "GATEWAY_DATA_DIR": str(data_dir)}
    env.pop("GATEWAY_CONFIG", None)
    env.pop("GATEWAY_DEBUG", None)
    if config is not None:
        env["GATEWAY_CONFIG"] = str(config)
    return env


def gateway(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """``gateway ARGS`` with stdout and stderr captured (so neither is a terminal)."""
    return subprocess.run(
        [*GATEWAY, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def gateway_on_terminal(env: dict[str, str], *args: str) -> tuple[int, str]:
    """``gateway ARGS`` with stdin, stdout and stderr on a pseudo-terminal: (exit code, text).

    What an operator at a terminal sees, both streams interleaved as they were written.
    """
    master, slave = pty.openpty()
    proc = subprocess.Popen(
        [*GATEWAY, *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True
    )
    os.close(slave)
    chunks: list[bytes] = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed its side
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    code = proc.wait(timeout=300)
    return code, b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")
