"""A generated small city and its day, loaded through the real import and ingest, for the
finance tests (report, day close, payment orders)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import Engine

from fixtures.generate import generate
from gateway.services.ingest import ingest_bytes, ingest_path
from gateway.services.invoices import import_register
from gateway.settings import Settings

DAY = date(2026, 11, 20)
CENTRE_IBAN = "MD24AG000225100013104168"
XSD = Path(__file__).resolve().parents[2] / "schemas" / "xsd" / "pain.001.001.03.xsd"


def make_city(root: Path) -> Path:
    generate(root, scale="small", seed=1, day=DAY, progress=False)
    return root


def load_day(engine: Engine, settings: Settings, city: Path, *, skip: tuple[str, ...] = ()) -> None:
    import_register(engine, city / "register")
    for path in sorted((city / "inbox").rglob("*")):
        if path.is_file() and path.parent.name not in skip:
            result = ingest_path(engine, settings, path, source=path.parent.name)
            assert result.status == "applied", result.describe()


def ingest(engine: Engine, settings: Settings, data: bytes, name: str, source: str) -> None:
    result = ingest_bytes(engine, settings, data, filename=name, source=source)
    assert result.status == "applied", result.describe()
