"""Progress bars: shown on a terminal for a register import and a large ingest, never when
the output is not a terminal (no escape codes or carriage returns in a log or a pipe)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from fixtures.generate import build_city, write_register
from fixtures.writers.camt import write_camt053
from fixtures.writers.entries import StatementMeta, WriterEntry
from gateway.db import make_engine
from gateway.migrate import upgrade
from gateway.progress import Bar, RichBar, bar
from gateway.services.ingest import PROGRESS_MIN_BYTES
from tests.integration.cli import gateway, gateway_env, gateway_on_terminal

HIDE_CURSOR = "\x1b[?25l"  # rich hides the cursor while a live bar is shown


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("progress")
    write_register(build_city("small", seed=3), root)
    day = date(2026, 11, 20)
    entries = [WriterEntry(100 + i, day, acct_svcr_ref=f"R{i:05d}") for i in range(4000)]
    meta = StatementMeta(iban="MD24AG000225100013104168", statement_id="S1")
    big = root / "big.xml"
    big.write_bytes(write_camt053(entries, meta))
    assert big.stat().st_size >= PROGRESS_MIN_BYTES
    return {"register": root / "register", "big": big}


def _env(tmp_path: Path) -> dict[str, str]:
    url = f"sqlite:///{tmp_path / 'gw.db'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return gateway_env(url, tmp_path / "data")


@pytest.mark.parametrize("what", ["register", "big"])
def test_a_bar_on_a_terminal(files: dict[str, Path], tmp_path: Path, what: str) -> None:
    args = (
        ("invoices", "import", str(files[what]))
        if what == "register"
        else ("ingest", str(files[what]))
    )
    code, seen = gateway_on_terminal(_env(tmp_path), *args)
    assert code == 0, seen
    assert HIDE_CURSOR in seen and "━" in seen
    # a small register is read between two refreshes: any of its stages may be the one drawn
    stages = ("checking register", "reading register", "writing register")
    assert any(s in seen for s in stages) if what == "register" else "ingesting big.xml" in seen
    if what == "big":
        assert "4,000 records" in seen
    last = seen.rstrip().splitlines()[-1]
    assert last.endswith("4000 records (camt053) applied: 4000 review") or what == "register"


@pytest.mark.parametrize("what", ["register", "big"])
def test_no_bar_when_not_a_terminal(files: dict[str, Path], tmp_path: Path, what: str) -> None:
    args = (
        ("invoices", "import", str(files[what]))
        if what == "register"
        else ("ingest", str(files[what]))
    )
    done = gateway(_env(tmp_path), *args)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert "\x1b" not in done.stdout and "\r" not in done.stdout and "━" not in done.stdout


def test_the_silent_bar_is_chosen_off_a_terminal() -> None:
    assert type(bar(False)) is Bar and not bar(False).active
    assert isinstance(bar(True), RichBar) and bar(True).active
