"""The CLI contract on what goes wrong: one clear line, the right exit code (defects 5-7).

Real subprocesses; on a pseudo-terminal where what the operator sees on a terminal is tested.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from gateway.db import make_engine
from gateway.migrate import schema_problem, upgrade
from schemas.tables import raw_files
from tests.conftest import PG_ADMIN_URL, require
from tests.integration.cli import gateway, gateway_env, gateway_on_terminal

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
POSTA = SAMPLES / "post_registry" / "posta_cp1251.txt"


@pytest.fixture
def empty_pg_url() -> str:
    """A PostgreSQL database that exists but was never migrated."""
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        require(False, f"PostgreSQL not reachable: {type(exc).__name__}")
    name = f"gw_bare_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_unmigrated_database_says_run_db_upgrade(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """Defect 6: it said "internal error (OperationalError)"."""
    url = (
        f"sqlite:///{tmp_path / 'new.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("empty_pg_url")
    )
    env = gateway_env(url, tmp_path / "data")
    for args in (
        ("ingest", str(POSTA)),
        ("export", "payments", "--day", "2026-11-20", "--out", "x"),
    ):
        done = gateway(env, *args)
        assert done.returncode == 2
        (line,) = done.stderr.splitlines()
        assert line.startswith("error: the database ") and "postgres:" not in line
        assert line.endswith("has no schema yet: run `gateway db upgrade`")


def test_a_database_behind_or_ahead_of_the_code_is_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    upgrade(engine, "0001")
    problem = schema_problem(url)
    assert problem is not None and "is at migration 0001, this gateway needs" in problem
    assert problem.endswith("run `gateway db upgrade`")
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    assert "at migration 9999, which this gateway does not know" in (schema_problem(url) or "")
    upgrade(make_engine(f"sqlite:///{tmp_path / 'new.db'}"))
    assert schema_problem(f"sqlite:///{tmp_path / 'new.db'}") is None
    engine.dispose()


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    env = gateway_env("postgresql://nobody:secret@127.0.0.1:1/none", tmp_path / "data")
    done = gateway(env, "ingest", str(POSTA))
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(
        "error: cannot open the database postgresql://nobody:***@127.0.0.1:1/none: "
    )
    assert "secret" not in done.stderr


@pytest.mark.parametrize(
    ("variable", "value"), [("GATEWAY_TIMEZONE", "Mars/Olympus"), ("GATEWAY_LEARN_AFTER", "two")]
)
def test_a_mistyped_setting_is_one_line(tmp_path: Path, variable: str, value: str) -> None:
    env = gateway_env(f"sqlite:///{tmp_path / 'gw.db'}", tmp_path / "data")
    done = gateway({**env, variable: value}, "db", "upgrade")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: settings: ")
    assert not (tmp_path / "gw.db").exists()  # refused before anything was touched


@pytest.fixture
def migrated(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return gateway_env(url, tmp_path / "data")


def _raw_files(env: dict[str, str]) -> int:
    engine = make_engine(env["GATEWAY_DATABASE_URL"])
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(raw_files)).scalar_one()
    engine.dispose()
    return n


def test_ingest_takes_a_format(migrated: dict[str, str]) -> None:
    """Defect 5: the quarantine reason said "use --format", which ingest did not have."""
    done = gateway(migrated, "ingest", str(POSTA), "--format", "post_registry")
    assert done.returncode == 0, done.stderr
    assert "records (post_registry) applied" in done.stdout
    wrong = gateway(
        migrated, "ingest", str(SAMPLES / "terminal" / "qiwi_page.json"), "--format", "camt053"
    )
    assert wrong.returncode == 4 and "quarantined" in wrong.stdout


def test_unknown_format_is_refused_before_anything_is_stored(migrated: dict[str, str]) -> None:
    done = gateway(migrated, "ingest", str(POSTA), "--format", "posta")
    assert done.returncode == 2 and done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("error: unknown format 'posta' (known: auto, ")
    assert _raw_files(migrated) == 0
    assert not (Path(migrated["GATEWAY_DATA_DIR"]) / "raw").exists()


def test_quarantined_ingest_on_a_terminal_is_one_readable_line(
    migrated: dict[str, str], tmp_path: Path
) -> None:
    """Defect 7: a log line (JSON or coloured) was printed beside the summary."""
    junk = tmp_path / "junk.txt"
    junk.write_text("not a payment file\n")
    code, seen = gateway_on_terminal(migrated, "ingest", str(junk))
    assert code == 4
    assert seen.strip().splitlines() == [
        "junk.txt: quarantined, nothing applied: unrecognised file format (use --format to name it)"
    ]


def test_quarantined_ingest_logs_json_when_stderr_is_not_a_terminal(
    migrated: dict[str, str], tmp_path: Path
) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("still not a payment file\n")
    done = gateway(migrated, "ingest", str(junk))
    assert done.returncode == 4
    assert done.stdout.splitlines() == [
        "junk.txt: quarantined, nothing applied: unrecognised file format (use --format to name it)"
    ]
    logged = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(e["event"], e["level"]) for e in logged] == [("quarantined", "warning")]
