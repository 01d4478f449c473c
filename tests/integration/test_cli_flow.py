"""The `gateway` command end to end on a small generated city, as an operator runs it.

A real subprocess per command (the console script), a temporary SQLite database and data
folder: the contract is the exit code, one clear line on stderr when refusing, and the
database left as it was by a refused file.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

GATEWAY = [sys.executable, "-m", "gateway.cli"]


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    root = tmp_path_factory.mktemp("cli")
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": f"sqlite:///{root / 'gw.db'}",
        "GATEWAY_DATA_DIR": str(root / "data"),
    }
    env.pop("GATEWAY_CONFIG", None)
    run = _runner(env)
    assert run("db", "upgrade").returncode == 0
    assert (
        run("fixtures", "generate", "--out", str(root / "city"), "--scale", "small").returncode == 0
    )
    assert run("invoices", "import", str(root / "city" / "register")).returncode == 0
    return {"root": root, "run": run}


def _runner(env: dict[str, str]):  # type: ignore[no-untyped-def]
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*GATEWAY, *args], env=env, capture_output=True, text=True, timeout=300, check=False
        )

    return run


def _inbox(city: dict[str, object]) -> list[Path]:
    return sorted(p for p in (city["root"] / "city" / "inbox").rglob("*") if p.is_file())  # type: ignore[operator]


def test_every_channel_ingests_then_twice_is_a_noop_and_scores_clean(city) -> None:
    run = city["run"]
    files = _inbox(city)
    assert {p.parent.name for p in files} >= {
        "statement",
        "bank_itemised",
        "mt940",
        "post",
        "terminal",
        "compensation",
    }
    for path in files:
        out = run("ingest", str(path), "--source", path.parent.name)
        assert out.returncode == 0, out.stderr
        assert "applied" in out.stdout
    for path in files:
        again = run("ingest", str(path), "--source", path.parent.name)
        assert again.returncode == 0 and "already ingested" in again.stdout
    score = run("fixtures", "score", str(city["root"] / "city"))
    assert score.returncode == 0, score.stdout
    assert (
        "misallocated:            0" in score.stdout
        and "lost:                    0" in score.stdout
    )


def test_truncated_file_is_refused_with_one_line_and_nothing_applied(city) -> None:
    run, root = city["run"], city["root"]
    statement = next(p for p in _inbox(city) if p.parent.name == "statement")
    cut = root / "cut.xml"
    cut.write_bytes(statement.read_bytes()[:-400])
    before = run("export", "payments", "--day", "2026-11-20", "--out", str(root / "before.csv"))
    out = run("ingest", str(cut), "--source", "other-bank")
    assert out.returncode != 0
    assert "quarantined" in out.stdout and "Traceback" not in out.stderr
    after = run("export", "payments", "--day", "2026-11-20", "--out", str(root / "after.csv"))
    assert before.returncode == after.returncode == 0
    assert (root / "before.csv").read_bytes() == (root / "after.csv").read_bytes()


def test_errors_are_one_line_without_traceback(city) -> None:
    run, root = city["run"], city["root"]
    junk = root / "junk.bin"
    junk.write_bytes(b"\x00\x01 not a payment file")
    for args in (
        ("parse", str(junk)),
        ("invoices", "import", str(root / "missing")),
        ("pull", "nope"),
    ):
        out = run(*args)
        assert out.returncode != 0
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error:"), out.stderr
        assert "Traceback" not in out.stderr


def test_export_follows_the_contract(city) -> None:
    run, root = city["run"], city["root"]
    out = root / "alloc.csv"
    assert run("export", "allocations", "--day", "2026-11-20", "--out", str(out)).returncode == 0
    header = next(csv.reader(out.open(encoding="utf-8")))
    assert header == [
        "payment_id",
        "account_no",
        "invoice_no",
        "service_code",
        "provider_code",
        "amount",
        "kind",
    ]


def test_agents_add_prints_the_key_alone_on_the_last_line(city) -> None:
    out = city["run"]("agents", "add", "test-bank")
    assert out.returncode == 0
    last = out.stdout.strip().splitlines()[-1]
    assert " " not in last and len(last) >= 32
