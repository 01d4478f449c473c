"""Ingest one file: raw bytes stored first, then parse, persist, match and allocate.

(Interface in place; the body lands with the ingest work.)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from gateway.settings import Settings


@dataclass
class IngestResult:
    filename: str
    sha256: str
    status: str  # "applied" | "duplicate" | "quarantined"
    format: str | None = None
    reason: str | None = None
    records: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # e.g. allocated / review / ...

    @property
    def exit_code(self) -> int:
        return 0 if self.status in ("applied", "duplicate") else 4

    def describe(self) -> str:
        if self.status == "duplicate":
            return f"{self.filename}: already ingested (sha256 {self.sha256[:12]}), nothing to do"
        if self.status == "quarantined":
            return f"{self.filename}: quarantined: {self.reason}"
        parts = ", ".join(f"{v} {k}" for k, v in self.counts.items())
        return f"{self.filename}: {self.records} records ({self.format}) applied: {parts}"


def ingest_bytes(
    engine: Engine,
    settings: Settings,
    data: bytes,
    *,
    filename: str,
    source: str | None = None,
    fmt: str = "auto",
) -> IngestResult:
    """Store ``data`` content-addressed, then parse, persist, match, allocate in one transaction.

    The same bytes again are a no-op (status "duplicate"). A file that fails to parse or fails
    its control totals is quarantined with the reason; nothing of it is applied.
    """
    raise NotImplementedError


def ingest_path(
    engine: Engine, settings: Settings, path: Path, *, source: str | None = None
) -> IngestResult:
    return ingest_bytes(engine, settings, path.read_bytes(), filename=path.name, source=source)
