"""Shared fixtures: real databases, never mocks.

``engine`` runs each integration test on SQLite (a temporary file, WAL) and on PostgreSQL
(a throw-away database created on the server at GATEWAY_TEST_PG, default
127.0.0.1:5432/test, dropped at the end). Where PostgreSQL is missing the PostgreSQL half is
skipped with the reason, except in CI (CI=true), where a missing backend fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from gateway.db import make_engine
from gateway.migrate import upgrade
from gateway.settings import Settings
from schemas.tables import metadata
from tests.golden import REGEN_OPTION, Golden

PG_ADMIN_URL = os.environ.get("GATEWAY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
_REWRITTEN: list[Path] = []  # golden files rewritten by this run (--regen-golden)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        REGEN_OPTION,
        action="store_true",
        default=False,
        help="rewrite the golden expected files from the current output (review with git diff)",
    )


@pytest.fixture
def golden(request: pytest.FixtureRequest) -> Golden:
    """Compare with (or, under --regen-golden, rewrite) an expected file: tests/golden.py."""
    return Golden(bool(request.config.getoption(REGEN_OPTION)), _REWRITTEN)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    if _REWRITTEN:
        terminalreporter.write_sep("-", f"{len(_REWRITTEN)} golden file(s) rewritten")
        for path in _REWRITTEN:
            terminalreporter.write_line(str(path))


def require(available: bool, reason: str) -> None:
    """Skip on a user's machine, fail in CI: a missing backend must not pass silently."""
    if available:
        return
    if IN_CI:
        pytest.fail(f"required backend missing in CI: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated to head."""
    admin = make_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_size=1)
    try:
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        require(False, f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}")
    name = f"gw_test_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate(engine: Engine) -> None:
    tables = [t.name for t in reversed(metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for name in tables:
                conn.execute(text(f"DELETE FROM {name}"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database URL on each backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'gw.db'}"
        eng = make_engine(url)
        upgrade(eng)
        eng.dispose()
        yield url
        return
    url = request.getfixturevalue("pg_url")
    eng = make_engine(url)
    _truncate(eng)
    eng.dispose()
    yield url


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = make_engine(db_url)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, data_dir=tmp_path / "data", log_json=True)


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """SQLite only, for tests whose subject is not the backend."""
    eng = make_engine(f"sqlite:///{tmp_path / 'gw.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()
