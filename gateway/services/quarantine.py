"""Files that were not applied: list them, and retry them after a fix (``gateway quarantine``).

A quarantined file (refused by its parser or its control totals) and a failed one (an
internal error while applying; left "received") keep their stored bytes and their reason
(``raw_files``). ``retry`` re-reads those bytes from the raw store with today's parsers and
ingests them exactly as a new file: the same claim, the same one transaction, so a retry is
as safe as an ingest and as idempotent: a file applied meanwhile (by another retry or a
pull) says "already ingested" and nothing changes; one that is still bad stays quarantined
with its new reason.

Decisions:

- A file is named by its sha256 or a unique prefix of at least 8 hex characters (what
  ``list`` shows is 12); an ambiguous prefix is refused with the candidates' count.
- A retry keeps the file's source (the connector that fetched it), so its payments get
  the identities they would have had; a file ingested by ``gateway ingest`` without
  ``--source`` (stored as source "cli") gets its format's name, as at the first try.
- ``--format NAME`` forces the parser, for a file the detector cannot place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Engine, Row, or_, select

from gateway.db import as_utc, reading
from gateway.errors import NotFound, UserError
from gateway.services import rawstore
from gateway.services.ingest import IngestResult, ingest_bytes, named_format
from gateway.settings import Settings
from schemas.tables import raw_files

MIN_PREFIX = 8
NO_SOURCE = "cli"  # what raw_files.source holds for `gateway ingest` without --source


@dataclass(frozen=True)
class HeldFile:
    """A stored file that is not applied, as ``gateway quarantine list`` shows it."""

    sha256: str
    filename: str
    source: str
    state: str  # "quarantined" (the file is at fault) or "failed" (the gateway was)
    received_at: datetime
    reason: str


def _not_applied() -> ColumnElement[bool]:
    f = raw_files.c
    return or_(f.status == "quarantined", (f.status == "received") & f.reason.is_not(None))


def list_held(engine: Engine) -> list[HeldFile]:
    """Every quarantined or failed file, oldest first."""
    f = raw_files.c
    with reading(engine) as conn:
        rows = conn.execute(
            select(f.sha256, f.filename, f.source, f.status, f.received_at, f.reason)
            .where(_not_applied())
            .order_by(f.received_at, f.id)
        ).all()
    return [
        HeldFile(
            sha256=r.sha256,
            filename=r.filename,
            source=r.source,
            state="quarantined" if r.status == "quarantined" else "failed",
            received_at=as_utc(r.received_at),
            reason=r.reason or "",
        )
        for r in rows
    ]


def retry(
    engine: Engine, settings: Settings, sha: str | None, *, fmt: str = "auto"
) -> list[IngestResult]:
    """Ingest again the stored bytes of one file (``sha``) or of every held one (None)."""
    named_format(fmt)  # an unknown format name is refused before any file is touched
    targets = _targets(engine, sha)
    results = []
    for row in targets:
        try:
            data = rawstore.load(settings.raw_dir, row.sha256)
        except FileNotFoundError:
            reason = f"stored bytes missing from {settings.raw_dir} (was GATEWAY_DATA_DIR moved?)"
            results.append(IngestResult(row.filename, row.sha256, "failed", row.format, reason))
            continue
        source = None if row.source == NO_SOURCE else row.source
        results.append(
            ingest_bytes(engine, settings, data, filename=row.filename, source=source, fmt=fmt)
        )
    return results


def _targets(engine: Engine, sha: str | None) -> Sequence[Row[Any, Any, Any, Any, Any]]:
    f = raw_files.c
    q = select(f.sha256, f.filename, f.source, f.format, f.status).order_by(f.received_at, f.id)
    with reading(engine) as conn:
        if sha is None:
            return conn.execute(q.where(_not_applied())).all()
        prefix = sha.strip().lower()
        if len(prefix) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in prefix):
            raise UserError(f"name a file by its sha256 or {MIN_PREFIX}+ of its first hex digits")
        rows = conn.execute(q.where(f.sha256.startswith(prefix, autoescape=True)).limit(2)).all()
    if not rows:
        raise NotFound(f"no stored file with sha256 {prefix}… (gateway quarantine list)")
    if len(rows) > 1:
        raise UserError(f"sha256 prefix {prefix} names several files: give more digits")
    return rows
