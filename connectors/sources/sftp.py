"""SFTP source: the only module that imports paramiko.

Security: key authentication only (no agent, no ~/.ssh keys), and the server's host key must be
in the connector's own known_hosts file: paramiko's RejectPolicy, no system host keys, never
auto-added. An unknown host or a different key is refused before any file is read, because a
bank statement fetched from an impostor would be posted as money.

Integrity: each file is read into a temporary name in the staging folder, fsynced, and renamed
into place only when the byte count equals the remote size and a second stat shows the file
did not change meanwhile. A dropped connection or a file still growing is retried with
exponential back-off (bounded); a partial file is never handed on.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import posixpath
import stat
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Self, TypeVar

import paramiko
import structlog
from sqlalchemy import Engine

from connectors.config import ConnectorConfig
from connectors.sources.base import (
    Fetched,
    RemoteEntry,
    Retryable,
    Sleep,
    SourceError,
    accept_name,
    clear_stale_parts,
    commit_file,
    inside,
    is_candidate,
    remember,
    remembered,
    retrying,
    temp_path,
    unique_name,
)

log = structlog.get_logger(__name__)

#: Test hook: called after each chunk with the entry and the bytes read so far.
OnChunk = Callable[[RemoteEntry, int], None]
CHUNK = 32768
T = TypeVar("T")


class SftpSource:
    """One SFTP session for one pull of one connector (a context manager)."""

    def __init__(
        self,
        connector: ConnectorConfig,
        engine: Engine,
        staging: Path,
        *,
        on_chunk: OnChunk | None = None,
        chunk_size: int = CHUNK,
        sleep: Sleep = time.sleep,
    ) -> None:
        self.c = connector
        self.engine = engine
        self.staging = staging
        self.on_chunk = on_chunk
        self.chunk_size = chunk_size
        self.sleep = sleep
        self._client: paramiko.SSHClient | None = None
        self._sftp: paramiko.SFTPClient | None = None
        self.connects = 0  # how many sessions were opened (tests read it)

    # --- session ---------------------------------------------------------------------------

    def __enter__(self) -> Self:
        clear_stale_parts(self.staging)
        self._with_retry("connect", lambda _n: self._session())
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the session; closing a connection that already dropped is not an error."""
        for closable in (self._sftp, self._client):
            if closable is None:
                continue
            with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
                closable.close()
        self._sftp = self._client = None

    def _with_retry(self, what: str, action: Callable[[int], T]) -> T:
        label = f"connector {self.c.name}: {what}"
        return retrying(label, self.c.attempts, self.c.backoff, self.sleep, action)

    def _session(self) -> paramiko.SFTPClient:
        """The live SFTP session, reconnecting when the last one dropped."""
        transport = self._client.get_transport() if self._client else None
        if self._sftp is not None and transport is not None and transport.is_active():
            return self._sftp
        self.close()
        self._client = self._connect()
        self._sftp = self._client.open_sftp()
        self._sftp.get_channel().settimeout(self.c.timeout)
        self.connects += 1
        return self._sftp

    def _connect(self) -> paramiko.SSHClient:
        c = self.c
        client = paramiko.SSHClient()
        self._pin_host_keys(client)
        try:
            client.connect(
                c.host or "",
                port=c.port,
                username=c.user,
                key_filename=str(c.key),
                look_for_keys=False,
                allow_agent=False,
                timeout=c.timeout,
                banner_timeout=c.timeout,
                auth_timeout=c.timeout,
            )
        except paramiko.BadHostKeyException:
            client.close()
            raise SourceError(
                f"connector {c.name}: host key of {self._host_label()} does not match the key "
                f"pinned in {c.known_hosts}; refusing to connect"
            ) from None
        except paramiko.AuthenticationException:
            client.close()
            raise SourceError(
                f"connector {c.name}: {c.user}@{self._host_label()} refused key {c.key}"
            ) from None
        except (OSError, EOFError, paramiko.SSHException) as exc:
            client.close()
            raise Retryable(f"cannot connect to {self._host_label()}: {_why(exc)}") from exc
        return client

    def _pin_host_keys(self, client: paramiko.SSHClient) -> None:
        """Trust exactly the connector's known_hosts; refuse a host that is not in it."""
        c = self.c
        try:
            client.load_host_keys(str(c.known_hosts))
        except OSError as exc:
            raise SourceError(f"connector {c.name}: cannot read known_hosts: {_why(exc)}") from None
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        if client.get_host_keys().lookup(self._host_label()) is None:
            raise SourceError(
                f"connector {c.name}: host {self._host_label()} is not in {c.known_hosts}; "
                "refusing an unknown host (add its key with ssh-keyscan after checking it)"
            )

    def _host_label(self) -> str:
        host = self.c.host or ""
        return host if self.c.port == 22 else f"[{host}]:{self.c.port}"

    # --- listing ---------------------------------------------------------------------------

    def pending(self) -> list[RemoteEntry]:
        """Regular files in remote_dir with safe names, oldest first; in remember mode minus
        the known ones. A name that is not a plain base name is refused with a log line."""
        remote_dir = self.c.remote_dir or "."

        def listing(_attempt: int) -> list[paramiko.SFTPAttributes]:
            return self._guard(lambda: self._session().listdir_attr(remote_dir))

        attrs = self._with_retry(f"list {remote_dir}", listing)
        entries = sorted(
            (
                RemoteEntry(
                    path=posixpath.join(remote_dir, a.filename),
                    name=a.filename,
                    size=a.st_size or 0,
                    mtime=int(a.st_mtime or 0),
                )
                for a in attrs
                if stat.S_ISREG(a.st_mode or 0)
                and accept_name(self.c.name, a.filename)
                and is_candidate(a.filename)
            ),
            key=lambda e: (e.mtime, e.name),
        )
        if self.c.archive_dir:
            return entries
        return remembered(self.engine, self.c.name, entries)

    # --- fetching --------------------------------------------------------------------------

    def fetch(self, entry: RemoteEntry) -> Fetched:
        """A complete, verified local copy of ``entry`` (retried; never partial)."""
        return self._with_retry(f"fetch {entry.name}", lambda _n: self._fetch_once(entry))

    def _fetch_once(self, entry: RemoteEntry) -> Fetched:
        tmp = temp_path(self.staging, entry.name)
        try:
            before, size, digest = self._guard(lambda: self._download(entry, tmp))
            after = self._guard(lambda: self._session().stat(entry.path))
            if size != before.st_size or _changed(before, after):
                raise Retryable(
                    f"{entry.name} changed during download (read {size} bytes, remote size "
                    f"{before.st_size} then {after.st_size}); the sender may still be writing"
                )
            final = inside(self.staging, entry.name)
            commit_file(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        fetched_entry = replace(entry, size=size, mtime=int(before.st_mtime or 0))
        log.info("sftp.fetched", connector=self.c.name, file=entry.name, size=size, sha256=digest)
        return Fetched(fetched_entry, final, digest, size)

    def _download(self, entry: RemoteEntry, tmp: Path) -> tuple[paramiko.SFTPAttributes, int, str]:
        """Read the remote file into ``tmp``: (stat before reading, bytes read, sha256)."""
        sftp = self._session()
        before = sftp.stat(entry.path)
        digest = hashlib.sha256()
        size = 0
        with sftp.open(entry.path, "rb") as remote, open(tmp, "wb") as out:
            remote.prefetch(before.st_size)
            while chunk := remote.read(self.chunk_size):
                out.write(chunk)
                digest.update(chunk)
                size += len(chunk)
                if self.on_chunk is not None:
                    self.on_chunk(entry, size)
        return before, size, digest.hexdigest()

    def _guard(self, action: Callable[[], T]) -> T:
        """Run an SFTP call; a dropped session becomes ``Retryable``, a refusal ``SourceError``."""
        try:
            return action()
        except (FileNotFoundError, PermissionError) as exc:
            if self._alive():
                raise SourceError(f"connector {self.c.name}: {_why(exc)}") from None
            self.close()
            raise Retryable(f"connection lost: {_why(exc)}") from exc
        except (OSError, EOFError, paramiko.SSHException) as exc:
            self.close()  # whatever state the session is in, start the next try afresh
            raise Retryable(f"connection lost: {_why(exc)}") from exc

    def _alive(self) -> bool:
        transport = self._client.get_transport() if self._client else None
        return transport is not None and transport.is_active()

    # --- finishing -------------------------------------------------------------------------

    def finish(self, fetched: Fetched) -> None:
        """After the gateway committed the file: archive it remotely, or remember it."""
        if not self.c.archive_dir:
            remember(self.engine, self.c.name, fetched)
            return
        self._with_retry(f"archive {fetched.entry.name}", lambda _n: self._archive(fetched))

    def _archive(self, fetched: Fetched) -> None:
        entry = fetched.entry
        archive = self.c.archive_dir or ""
        sftp = self._session()
        now = self._guard(lambda: sftp.stat(entry.path))
        if (now.st_size, int(now.st_mtime or 0)) != (entry.size, entry.mtime):
            # replaced since we read it: leave it for the next pull rather than archive
            # bytes nobody has seen
            log.warning("sftp.archive_skipped_changed", connector=self.c.name, file=entry.name)
            return
        self._guard(lambda: self._ensure_dir(sftp, archive))
        name = unique_name(entry.name, fetched.sha256, lambda n: _exists(sftp, archive, n))
        self._guard(lambda: sftp.rename(entry.path, posixpath.join(archive, name)))
        log.info("sftp.archived", connector=self.c.name, file=entry.name, archived_as=name)

    @staticmethod
    def _ensure_dir(sftp: paramiko.SFTPClient, path: str) -> None:
        try:
            sftp.stat(path)
        except FileNotFoundError:
            sftp.mkdir(path)


def _exists(sftp: paramiko.SFTPClient, folder: str, name: str) -> bool:
    try:
        sftp.stat(posixpath.join(folder, name))
    except FileNotFoundError:
        return False
    return True


def _changed(before: paramiko.SFTPAttributes, after: paramiko.SFTPAttributes) -> bool:
    return (before.st_size, before.st_mtime) != (after.st_size, after.st_mtime)


def _why(exc: BaseException) -> str:
    """A short reason: the exception's text, or its class name when it has none."""
    text = str(exc).strip()
    if isinstance(exc, OSError) and exc.errno and exc.strerror:
        text = f"{exc.strerror} ({errno.errorcode.get(exc.errno, exc.errno)})"
    return text or type(exc).__name__
