"""A full data disk (issue 14, defect 6): no temporary left behind, the file named.

The data folder is a 64 KiB tmpfs mounted for the test (needs root; skipped where mounting
is not allowed). A file larger than the free space is refused in one line that names it,
the raw store holds no ``.tmp`` afterwards, and the same file ingests once there is room.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient

from connectors.config import ConnectorConfig
from connectors.pull import PullFailed, pull_one
from gateway.app import create_app
from gateway.db import make_engine
from gateway.migrate import upgrade
from gateway.services.ingest import ingest_bytes
from gateway.services.rawstore import StoreError
from gateway.settings import Settings

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "samples" / "camt053" / "v08_mixed.xml"


def _mount(mount: Path, size: str) -> Iterator[Path]:
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    yield from _mount(tmp_path / "small", "64k")


@pytest.fixture
def db_disk(tmp_path: Path) -> Iterator[Path]:
    yield from _mount(tmp_path / "dbdisk", "8m")


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.is_file() and p.name.endswith((".tmp", ".part"))]


def test_raw_store_on_a_full_disk_names_the_file_and_leaves_no_tmp(sqlite_engine, small_disk):
    settings = Settings(database_url="sqlite://", data_dir=small_disk / "data")
    big = SAMPLE.read_bytes().replace(b"</Document>", b"<!--" + b"x" * 200_000 + b"--></Document>")

    with pytest.raises(StoreError) as caught:
        ingest_bytes(sqlite_engine, settings, big, filename="stmt-big.xml")

    message = str(caught.value)
    assert "stmt-big.xml" in message and "No space left" in message and "\n" not in message
    assert _leftovers(small_disk) == []


def test_folder_source_on_a_full_staging_disk_names_the_file(sqlite_engine, small_disk, tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    (drop / "big.xml").write_bytes(b"x" * 200_000)
    settings = Settings(database_url="sqlite://", data_dir=small_disk / "data")
    c = ConnectorConfig(name="inbox", kind="folder", path=drop, attempts=1)

    with pytest.raises(PullFailed) as caught:
        pull_one(sqlite_engine, settings, c)

    assert "big.xml" in str(caught.value) and "No space left" in str(caught.value)
    assert _leftovers(small_disk) == []
    assert (drop / "big.xml").exists()  # left for the next pull


def test_health_reports_a_database_disk_that_is_full(db_disk: Path) -> None:
    url = f"sqlite:///{db_disk / 'gw.db'}"
    engine = make_engine(url)
    upgrade(engine)
    settings = Settings(database_url=url, data_dir=db_disk / "data")
    with TestClient(create_app(settings, engine)) as client:
        assert client.get("/health").status_code == 200
        filler = db_disk / "filler"
        with open(filler, "wb") as fh:
            try:
                while True:
                    fh.write(b"\0" * 65536)
            except OSError:
                pass
        r = client.get("/health")
        assert r.status_code == 503 and "full" in r.json()["database"], r.text
        filler.unlink()
        assert client.get("/health").status_code == 200
    engine.dispose()
