"""Ingest one file: raw bytes stored first, then parse, persist, match and allocate.

The order is what makes it safe:
1. the bytes go to the content-addressed store and a ``raw_files`` row (committed on its own),
   so nothing that reached us can be lost, whatever happens next;
2. the file is parsed; a parse or control-total error quarantines it with its reason, and
   the database keeps only the raw_files row. A small file is parsed whole before anything
   is applied; a large one (``connectors.parse_worker``) by a worker process while the
   rounds already read are applied, so its late error rolls the transaction back first;
3. payments, allocations, review items and settlements are written in ONE transaction,
   which also flips the file to ``applied``; a failure rolls all of it back.
The same bytes again are a no-op that says so; payments already known by (source,
external_id), e.g. from an overlapping re-sent statement, are skipped one by one.

Two ingests of the same bytes at once (two processes, two schedulers): the apply
transaction first locks the file's row (PostgreSQL ``FOR UPDATE NOWAIT``; SQLite's write lock
serializes anyway) and re-reads its status, so one applies it and the other answers
``in_progress`` ("already being ingested") or ``duplicate``. An error while applying is
retried on the next run only when it is the database's passing trouble (a lock, a lost
connection, a full disk: ``OperationalError``); any other is the file's or the code's and
quarantines it with the reason (``gateway quarantine retry`` after a fix), never "retry
forever".
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError

from connectors.config import GatewayConfig, load_file
from connectors.formats import FORMATS, Format, FormatError, detect_format, get_format
from connectors.formats.base import DEFAULT_OPTIONS, FileReading, ReadOptions
from connectors.parse_worker import WORKER_MIN_BYTES, WorkerFailed, read_in_worker
from gateway.collectors import collectors_of
from gateway.db import AnyRow, reading
from gateway.errors import UserError
from gateway.gcpause import gc_paused
from gateway.logging import get_logger
from gateway.progress import Bar
from gateway.services import ingest_rounds, rawstore
from gateway.services.statements import record_statements
from gateway.settings import Settings
from reconciliation.service import apply_records, business_today
from schemas.tables import payment_order_lines, raw_files

log = get_logger("gateway.ingest")

#: SQLite page cache while a file is applied: the indexes of payments and allocations.
INGEST_CACHE_MB = 16


@dataclass
class IngestResult:
    filename: str
    sha256: str
    status: str  # applied | duplicate | in_progress | quarantined | failed (retried next run)
    format: str | None = None
    reason: str | None = None
    records: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # e.g. allocated / review / ...

    @property
    def exit_code(self) -> int:
        return {"applied": 0, "duplicate": 0, "in_progress": 0, "quarantined": 4}.get(
            self.status, 5
        )

    def describe(self) -> str:
        if self.status == "duplicate":
            return f"{self.filename}: already ingested (sha256 {self.sha256[:12]}), nothing to do"
        if self.status == "in_progress":
            return f"{self.filename}: already being ingested by another process, nothing to do"
        if self.status == "quarantined":
            return f"{self.filename}: quarantined, nothing applied: {self.reason}"
        if self.status == "failed":
            return f"{self.filename}: failed, nothing applied, will be retried: {self.reason}"
        shown = {k: v for k, v in self.counts.items() if v and k not in _NOT_SHOWN}
        parts = ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in shown.items())
        found = self.counts.get("findings", 0)
        if found:  # balances or batch totals the file states do not agree: finance must see it
            parts += f"; {found} statement finding{'s' if found > 1 else ''} for the daily report"
        return f"{self.filename}: {self.records} records ({self.format}) applied: {parts}"


#: Counts kept for the log but left out of the one-line summary.
_NOT_SHOWN = frozenset({"statements", "findings"})


def ingest_bytes(
    engine: Engine,
    settings: Settings,
    data: bytes,
    *,
    filename: str,
    source: str | None = None,
    fmt: str = "auto",
    options: ReadOptions = DEFAULT_OPTIONS,
) -> IngestResult:
    """Store ``data`` content-addressed, then parse, persist, match, allocate in one transaction.

    The same bytes again are a no-op (status "duplicate"). A file that fails to parse or fails
    its control totals is quarantined with the reason; nothing of it is applied. An internal
    failure while applying rolls back and leaves the file "received" (status "failed"), so
    the next run retries it instead of treating it as a bad file.
    """
    return _ingest(
        engine, settings, [data], filename=filename, source=source, fmt=fmt, options=options
    )


def ingest_path(
    engine: Engine,
    settings: Settings,
    path: Path,
    *,
    source: str | None = None,
    fmt: str = "auto",
    options: ReadOptions = DEFAULT_OPTIONS,
    progress: Bar | None = None,
) -> IngestResult:
    """``ingest_bytes`` of a file; ``progress`` shows a large file's records as applied."""
    return _ingest(
        engine,
        settings,
        [path.read_bytes()],
        filename=path.name,
        source=source,
        fmt=fmt,
        options=options,
        progress=progress,
    )


def _ingest(
    engine: Engine,
    settings: Settings,
    box: list[bytes],
    *,
    filename: str,
    source: str | None,
    fmt: str,
    options: ReadOptions,
    progress: Bar | None = None,
) -> IngestResult:
    # The bytes travel in a box so that the last reference can be dropped once they are
    # stored: a 100,000-entry statement should not hold its 60 MB of XML while it is applied
    # (it is parsed by a worker that reads the stored file; see connectors.parse_worker).
    config = load_file(settings)  # a broken config file refuses the ingest before anything
    named = named_format(fmt)  # so does an unknown format name: the file is not at fault
    data = box.pop()
    sha, path = rawstore.store(settings.raw_dir, data, filename)
    known = _known(engine, sha)
    if known is not None and known.status == "applied":
        return IngestResult(filename, sha, "duplicate", known.format, records=known.records or 0)
    raw_id = known.id if known is not None else _register(engine, sha, data, filename, source)
    if raw_id is None:  # another process registered the same bytes a moment ago
        return IngestResult(filename, sha, "in_progress", None)
    try:
        parser = named or detect_format(data)
        if progress is not None and len(data) >= PROGRESS_MIN_BYTES:
            progress.stage(f"ingesting {filename}", total=_estimated_records(data, parser.name))
        else:
            progress = None
        if len(data) >= WORKER_MIN_BYTES:  # a worker reads the stored file: let go of ours
            del data
            reading = read_in_worker(path, parser.name, options.in_zone(settings.timezone))
        else:
            with gc_paused():
                reading = parser.read(data, options.in_zone(settings.timezone))
                reading.records = iter(list(reading.records))
    except FormatError as exc:
        return _quarantine(engine, raw_id, filename, sha, None, str(exc))
    try:
        with gc_paused():
            counts = _apply(
                engine,
                config,
                reading,
                raw_id,
                source or parser.name,
                parser.name,
                learn_after=settings.learn_after,
                round_size=settings.ingest_round,
                progress=progress,
                timezone=settings.timezone,
            )
    except _NoRecords as exc:
        return _quarantine(engine, raw_id, filename, sha, parser.name, str(exc))
    except _Taken as exc:
        return IngestResult(filename, sha, exc.status, parser.name)
    except FormatError as exc:  # found late, by a worker still reading the file: undone
        ingest_rounds.undo(engine, raw_id)
        return _quarantine(engine, raw_id, filename, sha, None, str(exc))
    except Exception as exc:
        log.error("ingest failed", file_sha=sha[:12], exc_info=exc)
        if not _passing(exc):
            ingest_rounds.undo(engine, raw_id)
            reason = f"cannot be applied ({_error_name(exc)}); nothing applied, kept for inspection"
            return _quarantine(engine, raw_id, filename, sha, parser.name, reason)
        reason = (
            f"database error while applying ({_error_name(exc)}); the next run resumes "
            "where the last committed round ended"
        )
        _mark(engine, raw_id, status="received", reason=reason, fmt=parser.name)
        return IngestResult(filename, sha, "failed", parser.name, reason)
    n = counts.pop("records", 0)
    log.info("ingested", file_sha=sha[:12], format=parser.name, records=n, **counts)
    _confirm_orders(engine)
    return IngestResult(filename, sha, "applied", parser.name, None, n, counts)


def _confirm_orders(engine: Engine) -> None:
    """A statement's debits may confirm payment orders (see ``orders.confirm_orders``); a
    failure here is logged and retried by the next ingest or listing, never the file's."""
    from gateway.services.orders import confirm_orders

    try:
        with reading(engine) as conn:  # most days have no transfer waiting: no write lock
            waiting = conn.execute(
                select(payment_order_lines.c.id)
                .where(payment_order_lines.c.confirmed_payment_id.is_(None))
                .limit(1)
            ).first()
        if waiting is not None:
            with engine.begin() as conn:
                confirm_orders(conn)
    except Exception as exc:
        log.error("orders.confirm_failed", error=type(exc).__name__)


def named_format(fmt: str | None) -> Format | None:
    """The format called ``fmt``; None for "auto"; ``UserError`` naming the known ones."""
    if fmt in (None, "", "auto"):
        return None
    try:
        return get_format(fmt)
    except FormatError:
        known = ", ".join(sorted(FORMATS))
        raise UserError(f"unknown format {fmt!r} (known: auto, {known})") from None


#: A file at least this large shows a progress bar (when the caller passes one).
PROGRESS_MIN_BYTES = 1 << 20


def _estimated_records(data: bytes, fmt: str) -> int | None:
    """About how many records a large file holds: the bar's end (a count of entry markers,
    cheap beside the parse; a wrong guess only moves the bar, the summary says the truth)."""
    if fmt.startswith("camt"):
        return max(data.count(b"<Ntry>"), data.count(b"<TxDtls>")) or None
    if fmt.startswith("mt94"):
        return data.count(b":61:") or None
    return data.count(b"\n") or None


class _NoRecords(FormatError):
    """A well-formed file with nothing to apply: quarantined, since no sender means that."""


class _Taken(Exception):
    """Another ingest holds the file (``in_progress``) or has applied it (``duplicate``)."""

    def __init__(self, status: str) -> None:
        super().__init__(status)
        self.status = status


def _claim(conn: Connection, raw_id: int) -> None:
    """Lock the file's row for this transaction; ``_Taken`` when another ingest has it."""
    q = select(raw_files.c.status).where(raw_files.c.id == raw_id)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update(nowait=True)
    try:
        status = conn.execute(q).scalar_one()
    except OperationalError as exc:
        if getattr(exc.orig, "sqlstate", None) == "55P03":  # lock_not_available
            raise _Taken("in_progress") from None
        raise
    if status == "applied":
        raise _Taken("duplicate")


def _passing(exc: BaseException) -> bool:
    """The database's passing trouble (locked, deadlock, disconnected, disk full) or a
    parse worker that died (killed, out of memory): worth a retry. SQLAlchemy's wrapper or
    the driver's own error (the bulk writes speak DBAPI): either way an ``OperationalError``
    or ``InterfaceError`` somewhere in its classes."""
    if isinstance(exc, WorkerFailed):
        return True
    inner = getattr(exc, "orig", None) or exc
    passing = ("OperationalError", "InterfaceError", "DisconnectionError")
    return any(c.__name__ in passing for c in (*type(exc).__mro__, *type(inner).__mro__))


def _error_name(exc: BaseException) -> str:
    inner = getattr(exc, "orig", None) or exc
    return type(inner).__name__


def _apply(
    engine: Engine,
    config: GatewayConfig,
    reading: FileReading,
    raw_id: int,
    source: str,
    fmt: str,
    *,
    learn_after: int,
    round_size: int | None = None,
    progress: Bar | None = None,
    timezone: str,
) -> dict[str, int]:
    today = business_today(timezone)
    with ingest_rounds.rounds_connection(engine, INGEST_CACHE_MB) as conn, _claimed(conn, raw_id):
        _claim(conn, raw_id)
        shown = progress.update if progress is not None else None
        rounds = ingest_rounds.Rounds(conn, raw_id, round_size, on_commit=shown)
        counts = apply_records(
            conn,
            reading.records,
            source=source,
            raw_file_id=raw_id,
            actor="ingest",
            collectors=collectors_of(config),
            today=today,
            learn_after=learn_after,
            plausibility=config.plausibility,
            policy=config.allocation,
            round_size=round_size,
            tx=rounds,
        )
        # an intraday report may hold no money at all, yet its statement is worth keeping
        if not counts.get("records") and not reading.statements:
            raise _NoRecords("the file holds no records")  # rolls back the settlement pass
        n_statements, n_findings = record_statements(conn, raw_id, reading.statements, today)
        counts["statements"], counts["findings"] = n_statements, n_findings
        conn.execute(
            update(raw_files)
            .where(raw_files.c.id == raw_id)
            .values(
                status="applied",
                format=fmt,
                records=counts.get("records", 0),
                reason=None,
                processed_at=datetime.now(UTC),
            )
        )
        conn.commit()
    return counts


@contextmanager
def _claimed(conn: Connection, raw_id: int) -> Iterator[None]:
    try:
        with ingest_rounds.claimed(conn, raw_id):
            yield
    except ingest_rounds.Busy:
        raise _Taken("in_progress") from None


def _known(engine: Engine, sha: str) -> AnyRow | None:
    with engine.connect() as conn:
        return conn.execute(select(raw_files).where(raw_files.c.sha256 == sha)).first()


def _register(
    engine: Engine, sha: str, data: bytes, filename: str, source: str | None
) -> int | None:
    """The new raw_files row's id; None when a concurrent ingest registered it first."""
    row = {
        "sha256": sha,
        "source": source or "cli",
        "filename": filename[:500],
        "size": len(data),
        "status": "received",
        "received_at": datetime.now(UTC),
    }
    try:
        with engine.begin() as conn:
            return conn.execute(insert(raw_files).returning(raw_files.c.id), row).scalar_one()
    except IntegrityError:
        return None


def _mark(engine: Engine, raw_id: int, *, status: str, reason: str, fmt: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(raw_files)
            .where(raw_files.c.id == raw_id)
            .values(status=status, reason=reason, format=fmt, processed_at=datetime.now(UTC))
        )


def _quarantine(
    engine: Engine, raw_id: int, filename: str, sha: str, fmt: str | None, reason: str
) -> IngestResult:
    _mark(engine, raw_id, status="quarantined", reason=reason, fmt=fmt)
    log.warning("quarantined", file_sha=sha[:12], reason=reason)
    return IngestResult(filename, sha, "quarantined", fmt, reason)
