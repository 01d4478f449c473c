"""Run a connector now: fetch -> ingest (raw stored, parsed, matched) -> archive or remember.

Safe to re-run by construction: a file is archived/remembered (or a feed cursor stored) only
after its ingest committed, and ingest calls the same bytes again a duplicate. So a crash at
any point costs at most one extra download, never a lost or doubled payment.

A run of one connector is exclusive cluster-wide (``connector_lock``): the scheduler and a
manual ``gateway pull`` never work on the same inbox at once.
"""

from __future__ import annotations

import hashlib
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING

import structlog
from sqlalchemy import Connection, Engine, text

from connectors.config import ConnectorConfig, find_connector, load_connectors
from connectors.sources.base import FileSource, SourceError, staging_dir
from gateway.errors import UserError
from gateway.services.ingest import IngestResult, ingest_bytes
from gateway.settings import Settings

if TYPE_CHECKING:
    from rich.status import Status

log = structlog.get_logger(__name__)

#: progress(connector, message): a line of what is happening now (rich status on a terminal)
Progress = Callable[[str, str], None]


class PullFailed(SourceError):
    """A connector stopped part-way; ``results`` holds the files it did take before that."""

    def __init__(self, message: str, results: list[IngestResult]) -> None:
        super().__init__(message)
        self.results = results


def pull_one(
    engine: Engine,
    settings: Settings,
    connector: ConnectorConfig,
    *,
    source: FileSource | None = None,
    progress: Progress | None = None,
) -> list[IngestResult]:
    """Take every new file (or feed page) of ``connector``; one ``IngestResult`` each.

    Raises ``PullFailed`` (with the results so far) when the connector cannot go on; the
    files already taken stay taken.
    """
    results: list[IngestResult] = []
    try:
        if connector.kind == "http":
            _pull_feed(engine, settings, connector, results, progress)
        else:
            src = source or open_file_source(engine, settings, connector)
            _pull_files(engine, settings, connector, src, results, progress)
    except PullFailed:
        raise
    except UserError as exc:
        raise PullFailed(str(exc), results) from exc
    return results


def open_file_source(engine: Engine, settings: Settings, connector: ConnectorConfig) -> FileSource:
    """The source object for a file connector (sftp is imported only when used)."""
    staging = staging_dir(settings.data_dir, connector.name)
    if connector.kind == "sftp":
        from connectors.sources.sftp import SftpSource

        return SftpSource(connector, engine, staging)
    from connectors.sources.folder import FolderSource

    return FolderSource(connector, engine, staging)


def _pull_files(
    engine: Engine,
    settings: Settings,
    c: ConnectorConfig,
    src: FileSource,
    results: list[IngestResult],
    progress: Progress | None,
) -> None:
    failures: list[str] = []
    with src:
        for entry in src.pending():
            if progress:
                progress(c.name, f"fetching {entry.name} ({entry.size} bytes)")
            try:
                fetched = src.fetch(entry)
            except SourceError as exc:  # this file only; the others may still come
                failures.append(str(exc))
                continue
            try:
                if progress:
                    progress(c.name, f"ingesting {entry.name}")
                result = ingest_bytes(
                    engine,
                    settings,
                    fetched.read(),
                    filename=entry.name,
                    source=c.name,
                    fmt=c.format,
                    options=c.read_options(),
                )
            finally:
                Path(fetched.local_path).unlink(missing_ok=True)  # the raw store has the bytes
            results.append(result)
            # a failed apply, or one another process is running, leaves the remote file
            if result.status not in ("failed", "in_progress"):
                src.finish(fetched)  # even when quarantined: the gateway keeps it with the reason
    if failures:
        raise PullFailed("; ".join(failures), results)


def _pull_feed(
    engine: Engine,
    settings: Settings,
    c: ConnectorConfig,
    results: list[IngestResult],
    progress: Progress | None,
) -> None:
    from connectors.sources.http import pull_feed

    def ingest(data: bytes, filename: str) -> IngestResult:
        if progress:
            progress(c.name, f"ingesting {filename}")
        fmt = "terminal" if c.format == "auto" else c.format
        return ingest_bytes(engine, settings, data, filename=filename, source=c.name, fmt=fmt)

    pull_feed(engine, c, ingest, results)


# --- exclusivity -------------------------------------------------------------------------------

_local_locks: dict[str, threading.Lock] = {}
_local_guard = threading.Lock()


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for a connector (same in every process)."""
    digest = hashlib.sha256(f"plata:connector:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def connector_lock(engine: Engine, name: str) -> Iterator[bool]:
    """Yield True when this caller may run ``name`` now, False when a run is under way.

    PostgreSQL: a session-level ``pg_try_advisory_lock`` on a connection of its own, held for
    the whole run, so exactly one of several gateway processes works a connector. SQLite is
    single-process by design, so a process-local lock is enough there.
    """
    if engine.dialect.name != "postgresql":
        with _local_lock(name) as got:
            yield got
        return
    conn = engine.connect()
    key = lock_key(name)
    try:
        got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar())
        conn.commit()  # the lock is session-level: do not sit idle in a transaction
        try:
            yield got
        finally:
            if got:
                _pg_unlock(conn, key)
    finally:
        conn.close()


def _pg_unlock(conn: Connection, key: int) -> None:
    """Release the lock; if that fails, drop the connection so the pool never keeps it."""
    try:
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
        conn.commit()
    except Exception:
        conn.invalidate()  # closing the session releases every lock it held
        raise


@contextmanager
def _local_lock(name: str) -> Iterator[bool]:
    with _local_guard:
        lock = _local_locks.setdefault(name, threading.Lock())
    got = lock.acquire(blocking=False)
    try:
        yield got
    finally:
        if got:
            lock.release()


# --- the CLI ---------------------------------------------------------------------------------


def pull_command(engine: Engine, settings: Settings, name: str | None, progress: bool) -> int:
    """``gateway pull NAME|--all``: one line per file, one line per failure.

    Exit 0 when every file was applied or already there; 4 when a file was quarantined;
    5 when a connector failed (both: 5). Unknown or disabled name: ``UserError``.
    """
    connectors = load_connectors(settings)
    if name is None:
        chosen = [c for c in connectors if c.enabled]
        if not chosen:
            raise UserError("no enabled connectors in the connectors file")
    else:
        chosen = [find_connector(connectors, name)]
        if not chosen[0].enabled:
            raise UserError(f"connector {name} is disabled (enabled = false in the config)")
    status = _Status(progress)
    code = 0
    with status.live():
        for c in chosen:
            code = max(code, _run_cli(engine, settings, c, status))
    return code


def _run_cli(engine: Engine, settings: Settings, c: ConnectorConfig, status: _Status) -> int:
    with connector_lock(engine, c.name) as got:
        if not got:
            print(f"{c.name}: already running elsewhere, skipped")
            return 0
        try:
            results = pull_one(engine, settings, c, progress=status.update)
            failure = None
        except PullFailed as exc:
            results, failure = exc.results, str(exc)
        except Exception as exc:  # a bug or the database: this connector fails, others go on
            if os.environ.get("GATEWAY_DEBUG"):
                raise
            log.error("pull.crashed", connector=c.name, error=type(exc).__name__)
            results, failure = [], f"connector {c.name}: internal error ({type(exc).__name__})"
    code = 0
    for r in results:
        print(f"{c.name}: {r.describe()}")
        code = max(code, 0 if r.exit_code == 0 else 4)
    if not results and failure is None:
        print(f"{c.name}: nothing new")
    if failure is not None:
        print(f"error: {failure}", file=sys.stderr)
        code = 5
    return code


class _Status:
    """A rich spinner on stderr when it is a terminal; silent otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._status: Status | None = None

    def live(self) -> AbstractContextManager[object]:
        if not self.enabled:
            return nullcontext()
        from rich.console import Console

        self._status = Console(stderr=True).status("pulling")
        return self._status

    def update(self, connector: str, message: str) -> None:
        if self._status is not None:
            self._status.update(f"{connector}: {message}")
