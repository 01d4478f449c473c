"""What the file sources share: the entry shapes, the error, staging, back-off, remembering.

A file source lists what is new, fetches one file into the local staging folder (temporary
name, fsync, atomic rename, sha256 over the bytes), and after the gateway has committed the
file, *finishes* it: moves it to an archive folder or remembers it in ``remote_files``. That
order is what makes a pull safe to re-run: a crash anywhere leaves the file either still new
(fetched again, and ingest calls the same bytes a duplicate) or finished.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, Self, TypeVar

import structlog
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from gateway.errors import UserError
from schemas.tables import remote_files

#: Names a sender uses while a file is still being written; never taken.
PARTIAL_SUFFIXES = (".part", ".partial", ".tmp", ".filepart", ".crdownload")
#: Longest remote name taken: room for the staging temporary's prefix and suffix and for
#: the archive's ``.<sha12>`` within a file system's 255 bytes.
MAX_NAME_BYTES = 200

Sleep = Callable[[float], None]
T = TypeVar("T")
log = structlog.get_logger(__name__)


class SourceError(UserError):
    """A connector could not fetch or finish a file; one line naming the connector."""

    exit_code = 5


class Retryable(Exception):
    """A transient failure (dropped connection, file changing under us, 5xx): try again."""


@dataclass(frozen=True)
class RemoteEntry:
    """A file as listed on the remote side (or in the drop folder), not yet fetched."""

    path: str  # remote path, or the absolute local path for a folder source
    name: str
    size: int
    mtime: int  # whole seconds since the epoch


@dataclass(frozen=True)
class Fetched:
    """A complete local copy of ``entry``; ``local_path`` is in the staging folder."""

    entry: RemoteEntry
    local_path: Path
    sha256: str
    size: int

    def read(self) -> bytes:
        return self.local_path.read_bytes()


class FileSource(Protocol):
    """The shape pull.py drives; used as a context manager around one pull."""

    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...
    def pending(self) -> list[RemoteEntry]: ...
    def fetch(self, entry: RemoteEntry) -> Fetched: ...
    def finish(self, fetched: Fetched) -> None: ...


def is_candidate(name: str) -> bool:
    """True for a name worth fetching: not hidden, not a sender's in-progress upload."""
    return not name.startswith(".") and not name.lower().endswith(PARTIAL_SUFFIXES)


def unsafe_name(name: str) -> str | None:
    """Why ``name`` is not a plain base name we may write under, or None when it is.

    The name comes from the other side (an SFTP server's listing, a drop folder anyone may
    write to) and becomes a path in our staging folder: a separator or ``..`` would write
    outside it, a NUL or control character truncates or forges log lines. Such a name is
    refused, not repaired: a repaired name could collide with a real file's.
    """
    if not name or name in (".", ".."):
        return "empty or a dot name"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        return "contains a NUL or control character"
    if len(name.encode("utf-8", "surrogateescape")) > MAX_NAME_BYTES:
        return f"longer than {MAX_NAME_BYTES} bytes"
    return None


def accept_name(connector: str, name: str) -> bool:
    """True for a safe base name; any other is refused with a log line (see unsafe_name)."""
    why = unsafe_name(name)
    if why is not None:
        log.warning("source.name_refused", connector=connector, name=repr(name)[:80], why=why)
    return why is None


def inside(staging: Path, name: str) -> Path:
    """``staging / name``, checked to stay in ``staging`` (a last guard behind unsafe_name)."""
    if name in ("", ".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise SourceError(f"refusing unsafe file name {name[:80]!r}")
    return staging / name


def backoff_delays(attempts: int, first: float) -> list[float]:
    """Sleeps between ``attempts`` tries: first, 2*first, 4*first ... capped at 60 s."""
    return [min(first * (2**i), 60.0) for i in range(max(attempts - 1, 0))]


def staging_dir(data_dir: Path, connector: str) -> Path:
    """Where a connector's downloads land before ingest: next to the raw store, same disk."""
    path = data_dir / "staging" / connector
    path.mkdir(parents=True, exist_ok=True)
    return path


def temp_path(staging: Path, name: str) -> Path:
    """A unique hidden name beside the final one, so a crash never leaves a plausible file."""
    return inside(staging, f".{name}.{uuid.uuid4().hex[:8]}.part")


def clear_stale_parts(staging: Path) -> None:
    """Drop temporaries left by a crashed earlier run; they are never trusted."""
    for leftover in staging.glob(".*.part"):
        leftover.unlink(missing_ok=True)


def commit_file(tmp: Path, final: Path) -> None:
    """fsync the temporary, rename it atomically over ``final``, fsync the folder."""
    with open(tmp, "rb+") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, final)
    dir_fd = os.open(final.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def unique_name(name: str, sha256: str, exists: Callable[[str], bool]) -> str:
    """``name``, or ``stem.<sha12>.ext`` when an archived file already has that name."""
    if not exists(name):
        return name
    stem, dot, ext = name.rpartition(".")
    if not stem:
        stem, dot, ext = name, "", ""
    return f"{stem}.{sha256[:12]}{dot}{ext}"


def remembered(engine: Engine, connector: str, entries: Iterable[RemoteEntry]) -> list[RemoteEntry]:
    """The entries not yet fetched: same path, size and mtime means the same file."""
    entries = list(entries)
    if not entries:
        return []
    t = remote_files
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.remote_path, t.c.size, t.c.mtime).where(t.c.connector == connector)
        ).all()
    known = {(r.remote_path, r.size, r.mtime) for r in rows}
    return [e for e in entries if (e.path, e.size, e.mtime) not in known]


def remember(engine: Engine, connector: str, fetched: Fetched) -> None:
    """Record a finished file; a second record of the same file (a re-run) is a no-op."""
    e = fetched.entry
    try:
        with engine.begin() as conn:
            conn.execute(
                remote_files.insert().values(
                    connector=connector,
                    remote_path=e.path,
                    size=e.size,
                    mtime=e.mtime,
                    sha256=fetched.sha256,
                    fetched_at=datetime.now(UTC),
                )
            )
    except IntegrityError:
        pass  # already remembered by an earlier run: nothing to add


def retrying(
    what: str, attempts: int, first_delay: float, sleep: Sleep, action: Callable[[int], T]
) -> T:
    """Run ``action(attempt)`` until it returns; retry on ``Retryable`` with back-off.

    The last failure becomes a ``SourceError`` naming ``what`` and the number of tries.
    """
    delays = backoff_delays(attempts, first_delay)
    for attempt in range(attempts):
        try:
            return action(attempt)
        except Retryable as exc:
            if attempt == attempts - 1:
                raise SourceError(f"{what}: gave up after {attempts} attempts: {exc}") from exc
            sleep(delays[attempt])
    raise AssertionError("unreachable")
