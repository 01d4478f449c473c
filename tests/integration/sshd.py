"""A real OpenSSH sshd on loopback for the SFTP tests: temporary keys, config, port.

Everything lives under the folder the test gives (keys, config, pid file, log); the one
exception is sshd's privilege-separation folder /run/sshd, a fixed system path that sshd
refuses to start without when run as root; it is created if missing and left in place.

Use ``running_sshd(folder)`` as a context manager; ``require_sshd()`` skips locally and fails
in CI when sshd is not installed (.ci/install-system-packages.sh installs it).
"""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import require

SSHD_CANDIDATES = ("/usr/sbin/sshd", "/usr/local/sbin/sshd")


def sshd_binary() -> str | None:
    found = shutil.which("sshd")
    if found:
        return found
    return next((p for p in SSHD_CANDIDATES if os.access(p, os.X_OK)), None)


def require_sshd() -> str:
    binary = sshd_binary()
    keygen = shutil.which("ssh-keygen")
    require(binary is not None and keygen is not None, "OpenSSH sshd/ssh-keygen not installed")
    assert binary is not None
    return binary


@dataclass
class SshdServer:
    """A running sshd and the files a client needs to reach it."""

    process: subprocess.Popen[bytes]
    port: int
    user: str
    client_key: Path  # private key accepted by the server
    host_public_key: str  # "ssh-ed25519 AAAA..."
    folder: Path
    log_path: Path

    @property
    def host(self) -> str:
        return "127.0.0.1"

    def known_hosts_line(self, public_key: str | None = None) -> str:
        return f"[{self.host}]:{self.port} {public_key or self.host_public_key}\n"

    def write_known_hosts(self, path: Path, public_key: str | None = None) -> Path:
        path.write_text(self.known_hosts_line(public_key))
        return path

    def session_pids(self) -> list[int]:
        """The per-connection sshd processes (children of the listener)."""
        return _descendants(self.process.pid)

    def kill_sessions(self) -> int:
        """Cut every open connection the hard way, as a network drop would; returns how many."""
        pids = self.session_pids()
        for pid in pids:
            _kill(pid, signal.SIGKILL)
        return len(pids)


def keygen(path: Path, comment: str) -> str:
    """A fresh ed25519 key pair at ``path``; returns the public key line's type and body."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    kind, body, *_ = (path.with_suffix(".pub")).read_text().split()
    return f"{kind} {body}"


@contextmanager
def running_sshd(folder: Path) -> Iterator[SshdServer]:
    """Start sshd on a free loopback port; stop it and its sessions on exit."""
    binary = require_sshd()
    folder.mkdir(parents=True, exist_ok=True)
    host_pub = keygen(folder / "host_ed25519", "plata-test-host")
    client_pub = keygen(folder / "client_ed25519", "plata-test-client")
    (folder / "authorized_keys").write_text(client_pub + "\n")
    if os.geteuid() == 0:
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    server = _start(binary, folder, host_pub)
    try:
        yield server
    finally:
        _stop(server)


def _start(binary: str, folder: Path, host_pub: str) -> SshdServer:
    """Start sshd, retrying on the rare port race; fail with sshd's own log otherwise."""
    log_path = folder / "sshd.log"
    for _ in range(3):
        port = _free_port()
        config = _write_config(folder, port)
        with open(log_path, "ab") as log:
            proc = subprocess.Popen(
                [binary, "-D", "-e", "-f", str(config)],
                stdout=log,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        if _wait_for_port(port, proc):
            return SshdServer(
                proc,
                port,
                getpass.getuser(),
                folder / "client_ed25519",
                host_pub,
                folder,
                log_path,
            )
        _terminate(proc)
    raise RuntimeError(f"sshd did not start; its log:\n{log_path.read_text()}")


def _write_config(folder: Path, port: int) -> Path:
    config = folder / "sshd_config"
    config.write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {folder / 'host_ed25519'}",
                f"PidFile {folder / 'sshd.pid'}",
                f"AuthorizedKeysFile {folder / 'authorized_keys'}",
                "StrictModes no",
                "UsePAM no",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "Subsystem sftp internal-sftp",
                "LogLevel INFO",
                "",
            ]
        )
    )
    return config


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _stop(server: SshdServer) -> None:
    sessions = server.session_pids()
    _terminate(server.process)
    for pid in sessions:  # sshd leaves open sessions running when the listener stops
        _kill(pid, signal.SIGKILL)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def _kill(pid: int, sig: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, sig)


def _descendants(root: int) -> list[int]:
    """Every process below ``root``, found through /proc (sshd sessions call setsid)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat_line = (entry / "stat").read_text()
        except OSError:
            continue
        # the command name is in parentheses and may contain spaces: split after it
        fields = stat_line.rsplit(")", 1)[1].split()
        parents[int(entry.name)] = int(fields[1])
    found: list[int] = []
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found.extend(children)
        frontier.extend(children)
    return found
