"""A hostile SFTP server for the tests: it lists whatever names the test gives it.

A real sshd cannot list a name with a ``/`` in it, so the attack of issue 14 (a listing entry
``/../../../../<path>``) needs a server that lies. paramiko's server classes make one: any
client key is accepted, ``list_folder`` returns the given names as regular files, and every
path opens the same bytes. It runs in a thread on a free loopback port.
"""

from __future__ import annotations

import io
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import paramiko

MTIME = 1_700_000_000


def _attrs(name: str, size: int) -> paramiko.SFTPAttributes:
    a = paramiko.SFTPAttributes()
    a.filename, a.st_size, a.st_mode, a.st_mtime, a.st_atime = name, size, 0o100644, MTIME, MTIME
    return a


class _Auth(paramiko.ServerInterface):
    def check_channel_request(self, kind: str, chanid: int) -> int:
        refused = paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED
        return paramiko.OPEN_SUCCEEDED if kind == "session" else refused

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        return paramiko.AUTH_SUCCESSFUL


class _Handle(paramiko.SFTPHandle):
    def __init__(self, data: bytes) -> None:
        super().__init__()
        self.readfile = io.BytesIO(data)
        self.size = len(data)

    def stat(self) -> paramiko.SFTPAttributes:
        return _attrs("x", self.size)


def _sftp_class(names: list[str], data: bytes) -> type[paramiko.SFTPServerInterface]:
    class Lying(paramiko.SFTPServerInterface):
        def list_folder(self, path: str) -> list[paramiko.SFTPAttributes]:
            return [_attrs(n, len(data)) for n in names]

        def stat(self, path: str) -> paramiko.SFTPAttributes:
            return _attrs(path.rsplit("/", 1)[-1], len(data))

        lstat = stat

        def open(self, path: str, flags: int, attr: object) -> _Handle:
            return _Handle(data)

        def rename(self, oldpath: str, newpath: str) -> int:
            return paramiko.SFTP_OK

        def mkdir(self, path: str, attr: object) -> int:
            return paramiko.SFTP_OK

    return Lying


@dataclass
class HostileServer:
    port: int
    host_key: paramiko.RSAKey
    client_key: Path

    def write_known_hosts(self, path: Path) -> Path:
        key = self.host_key
        path.write_text(f"[127.0.0.1]:{self.port} {key.get_name()} {key.get_base64()}\n")
        return path


@contextmanager
def hostile_sftp(folder: Path, names: list[str], data: bytes) -> Iterator[HostileServer]:
    """Serve ``names`` (each with ``data``) until the block ends."""
    host_key = paramiko.RSAKey.generate(2048)
    client = paramiko.RSAKey.generate(2048)
    client_path = folder / "client_key"
    client.write_private_key_file(str(client_path))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()
    transports: list[paramiko.Transport] = []

    def serve() -> None:
        while not stop.is_set():
            try:
                sock, _ = listener.accept()
            except TimeoutError:
                continue
            t = paramiko.Transport(sock)
            t.add_server_key(host_key)
            t.set_subsystem_handler("sftp", paramiko.SFTPServer, _sftp_class(names, data))
            t.start_server(server=_Auth())
            transports.append(t)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield HostileServer(listener.getsockname()[1], host_key, client_path)
    finally:
        stop.set()
        thread.join(5)
        for t in transports:
            t.close()
        listener.close()
