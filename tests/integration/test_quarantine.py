"""``gateway quarantine list|retry``: held files are listed with their reason, and a retry
after a parser fix applies the stored bytes once, under the file's own source."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError

from connectors.formats import FormatError, get_format
from gateway.errors import NotFound, UserError
from gateway.services import ingest as ingest_module
from gateway.services.ingest import ingest_bytes
from gateway.services.quarantine import list_held, retry
from gateway.settings import Settings
from schemas.tables import payments, raw_files
from tests.integration.cli import gateway, gateway_env

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
POSTA = SAMPLES / "post_registry" / "posta_cp1251.txt"


def _payments(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(payments.c.source, payments.c.external_id)).all())


def _broken(*_args: object, **_kw: object) -> None:
    raise FormatError("line 3: a parser bug")


def test_retry_after_a_parser_fix_applies_once_under_the_same_source(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as m:
        m.setattr(get_format("post_registry"), "read", _broken)
        first = ingest_bytes(engine, settings, POSTA.read_bytes(), filename="p.txt", source="posta")
    assert first.status == "quarantined" and _payments(engine) == []
    (held,) = list_held(engine)
    assert (held.filename, held.source, held.state) == ("p.txt", "posta", "quarantined")
    assert held.reason == "line 3: a parser bug" and held.sha256 == first.sha256

    (again,) = retry(engine, settings, first.sha256[:8])  # the parser is fixed now
    assert again.status == "applied" and again.records == 4
    applied = _payments(engine)
    assert len(applied) == 4 and {s for s, _ in applied} == {"posta"}
    assert list_held(engine) == []
    (twice,) = retry(engine, settings, first.sha256)
    assert twice.status == "duplicate" and _payments(engine) == applied  # idempotent
    assert retry(engine, settings, None) == []


def test_failed_files_are_listed_and_retried_with_all(
    engine: Engine, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*_args: object, **_kw: object) -> None:  # a passing trouble: failed, not bad
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    with monkeypatch.context() as m:
        m.setattr(ingest_module, "apply_records", crash)
        failed = ingest_bytes(engine, settings, POSTA.read_bytes(), filename="p.txt")
    junk = ingest_bytes(engine, settings, b"not a payment file\n", filename="junk.txt")
    assert (failed.status, junk.status) == ("failed", "quarantined")
    assert [(h.filename, h.state, h.source) for h in list_held(engine)] == [
        ("p.txt", "failed", "cli"),
        ("junk.txt", "quarantined", "cli"),
    ]
    results = retry(engine, settings, None)
    assert [(r.filename, r.status) for r in results] == [
        ("p.txt", "applied"),
        ("junk.txt", "quarantined"),
    ]
    assert {s for s, _ in _payments(engine)} == {"post_registry"}  # as a first ingest names it
    assert [h.filename for h in list_held(engine)] == ["junk.txt"]


def test_names_are_checked(engine: Engine, settings: Settings) -> None:
    ingest_bytes(engine, settings, b"junk one\n", filename="a.txt")
    with pytest.raises(UserError, match="8\\+ of its first hex digits"):
        retry(engine, settings, "abc")
    with pytest.raises(NotFound, match="no stored file"):
        retry(engine, settings, "0" * 12)
    with pytest.raises(UserError, match="unknown format 'posta'"):
        retry(engine, settings, None, fmt="posta")


def test_cli_lists_and_retries(engine: Engine, settings: Settings, tmp_path: Path) -> None:
    env = gateway_env(settings.database_url, settings.data_dir)
    wrong = gateway(env, "ingest", str(POSTA), "--format", "terminal")
    assert wrong.returncode == 4
    listed = gateway(env, "quarantine", "list")
    assert listed.returncode == 0
    header, row = listed.stdout.splitlines()
    assert header.split() == ["SHA256", "RECEIVED", "STATE", "SOURCE", "FILE", "REASON"]
    assert " quarantined " in row and "posta_cp1251.txt" in row and "terminal feed" in row
    sha = row.split()[0]
    done = gateway(env, "quarantine", "retry", sha)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("posta_cp1251.txt: 4 records (post_registry) applied")
    assert gateway(env, "quarantine", "list").stdout == "no quarantined or failed files\n"
    neither = gateway(env, "quarantine", "retry")
    assert neither.returncode == 2 and neither.stderr.count("\n") == 1
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(raw_files)).scalar_one() == 1
