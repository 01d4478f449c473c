"""Folder source and the `gateway pull` command: lines printed, exit codes, re-runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.config import ConnectorConfig
from connectors.pull import pull_command, pull_one
from connectors.schedule import start_in_process
from gateway.errors import UserError
from gateway.settings import Settings
from schemas.tables import raw_files, remote_files

SAMPLES = Path(__file__).resolve().parents[2] / "fixtures" / "samples"
CAMT = SAMPLES / "camt053" / "v08_mixed.xml"
POSTA = SAMPLES / "post_registry" / "posta_cp1251.txt"


def count(engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    folder = tmp_path / "drop"
    folder.mkdir()
    return folder


def printed(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The command's own lines (unconfigured structlog also writes to stdout in tests)."""
    return [line for line in capsys.readouterr().out.splitlines() if line.startswith("inbox: ")]


def write_config(tmp_path: Path, body: str, settings: Settings) -> Settings:
    path = tmp_path / "connectors.toml"
    path.write_text(body)
    return settings.with_(config_path=path)


def test_remember_mode_leaves_files_and_takes_each_once(engine, settings, drop) -> None:
    (drop / "a.xml").write_bytes(CAMT.read_bytes())
    c = ConnectorConfig(name="inbox", kind="folder", path=drop)

    assert [r.status for r in pull_one(engine, settings, c)] == ["applied"]
    assert pull_one(engine, settings, c) == []
    assert os.listdir(drop) == ["a.xml"] and count(engine, remote_files) == 1

    (drop / "b.txt").write_bytes(POSTA.read_bytes())
    (drop / "c.txt.part").write_bytes(b"still uploading")
    assert [r.filename for r in pull_one(engine, settings, c)] == ["b.txt"]
    assert count(engine, raw_files) == 2


def test_pull_command_lines_and_exit_codes(engine, settings, drop, tmp_path, capsys) -> None:
    configured = write_config(
        tmp_path,
        f"""
[[connector]]
name = "inbox"
kind = "folder"
path = "{drop}"
archive_dir = "done"

[[connector]]
name = "gone"
kind = "folder"
path = "{tmp_path / "missing"}"
enabled = false
""",
        settings,
    )
    (drop / "a.xml").write_bytes(CAMT.read_bytes())
    assert pull_command(engine, configured, "inbox", progress=True) == 0
    assert printed(capsys) == ["inbox: a.xml: 8 records (camt053) applied: 8 review"]

    (drop / "junk.txt").write_bytes(b"not a payment file\n")
    assert pull_command(engine, configured, None, progress=False) == 4
    (line,) = printed(capsys)
    assert line.startswith("inbox: junk.txt: quarantined, nothing applied: unrecognised file")
    assert sorted(os.listdir(drop / "done")) == ["a.xml", "junk.txt"]  # kept, with its reason

    assert pull_command(engine, configured, None, progress=False) == 0
    assert printed(capsys) == ["inbox: nothing new"]

    with pytest.raises(UserError, match=r"unknown connector 'bank' \(known: inbox, gone\)"):
        pull_command(engine, configured, "bank", progress=False)
    with pytest.raises(UserError, match="connector gone is disabled"):
        pull_command(engine, configured, "gone", progress=False)


def test_a_failing_connector_exits_5_with_one_line(engine, settings, tmp_path, capsys) -> None:
    configured = write_config(
        tmp_path,
        f'[[connector]]\nname = "inbox"\nkind = "folder"\npath = "{tmp_path / "nowhere"}"\n',
        settings,
    )
    assert pull_command(engine, configured, "inbox", progress=False) == 5
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("error: connector inbox: drop folder ")
    assert err[-1].endswith("does not exist")


def test_start_in_process_runs_the_configured_jobs(engine, settings, drop, tmp_path) -> None:
    assert start_in_process(engine, settings) is None  # no GATEWAY_CONFIG: no scheduler
    configured = write_config(
        tmp_path,
        f'[[connector]]\nname = "inbox"\nkind = "folder"\npath = "{drop}"\nschedule = "0 * * * *"',
        settings,
    )
    scheduler = start_in_process(engine, configured)
    assert scheduler is not None
    try:
        assert scheduler.running
        (job,) = scheduler.get_jobs()
        assert job.id == "pull:inbox" and job.next_run_time is not None
    finally:
        scheduler.shutdown(wait=True)
