"""Hostile file names from an SFTP server or a drop folder never write outside staging.

Issue 14, defect 2: a listing entry named ``/../../../../<path>`` was written outside the
staging folder and later deleted; the folder source followed links to system files. Names
are now refused unless they are plain base names, links and special files are refused, and
each refusal leaves a log line.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import func, select
from structlog.testing import capture_logs

from connectors.config import ConnectorConfig
from connectors.pull import pull_one
from connectors.sources.base import unsafe_name
from gateway.settings import Settings
from schemas.tables import raw_files
from tests.integration.sshd import running_sshd
from tests.reliability.hostile_sftp import hostile_sftp

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "samples" / "camt053" / "v08_mixed.xml"


def _files(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(raw_files)).scalar_one()


def _refused(logs: list[dict]) -> list[str]:
    events = ("source.name_refused", "folder.refused")
    return [e.get("name") or e["file"] for e in logs if e["event"] in events]


@pytest.mark.parametrize(
    "name",
    ["..", ".", "", "a/b.xml", "/etc/passwd", "..\\..\\x.xml", "a\x00b.xml", "a\nb.xml", "x" * 201],
)
def test_unsafe_names_are_named(name: str) -> None:
    assert unsafe_name(name) is not None


@pytest.mark.parametrize("name", ["stmt.xml", "MT940_2026-11-20.sta", "Выписка 1.xml", "x" * 200])
def test_plain_names_pass(name: str) -> None:
    assert unsafe_name(name) is None


def test_hostile_sftp_server_cannot_write_outside_staging(sqlite_engine, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    target = victim / "overwritten.xml"
    target.write_bytes(b"precious")
    hostile = [
        "/.." * 12 + str(target),
        "../../../../victim/overwritten.xml",
        "sub/../../evil.xml",
        "..",
        "bad\x00name.xml",
        "y" * 300,
        "stmt.xml",
    ]
    settings = Settings(database_url="sqlite://", data_dir=tmp_path / "data")
    with hostile_sftp(tmp_path, hostile, SAMPLE.read_bytes()) as server:
        c = ConnectorConfig(
            name="evil", kind="sftp", host="127.0.0.1", port=server.port, user="u",
            key=server.client_key, known_hosts=server.write_known_hosts(tmp_path / "kh"),
            remote_dir="/out", archive_dir="/done", attempts=1, timeout=5.0,
        )  # fmt: skip
        with capture_logs() as logs:
            results = pull_one(sqlite_engine, settings, c)

    assert [(r.filename, r.status) for r in results] == [("stmt.xml", "applied")]
    assert target.read_bytes() == b"precious"
    assert sorted(os.listdir(victim)) == ["overwritten.xml"]
    assert not (tmp_path / "evil.xml").exists() and not (tmp_path / "data" / "evil.xml").exists()
    # each refusal has its own line (paramiko's listdir_attr itself drops "." and "..")
    assert len(_refused(logs)) == len(hostile) - 2
    assert _files(sqlite_engine) == 1


@pytest.mark.sshd
def test_real_sshd_names_that_are_not_base_names_are_refused(sqlite_engine, tmp_path: Path):
    remote = tmp_path / "remote" / "out"
    remote.mkdir(parents=True)
    data = SAMPLE.read_bytes()
    for name in ["line\nbreak.xml", "back\\slash.xml", "z" * 240 + ".xml", "good.xml"]:
        (remote / name).write_bytes(data)
    settings = Settings(database_url="sqlite://", data_dir=tmp_path / "data")
    with running_sshd(tmp_path / "sshd") as sshd:
        c = ConnectorConfig(
            name="bank", kind="sftp", host=sshd.host, port=sshd.port, user=sshd.user,
            key=sshd.client_key, known_hosts=sshd.write_known_hosts(tmp_path / "kh"),
            remote_dir=str(remote), archive_dir=None, attempts=1, timeout=10.0,
        )  # fmt: skip
        with capture_logs() as logs:
            results = pull_one(sqlite_engine, settings, c)

    assert [(r.filename, r.status) for r in results] == [("good.xml", "applied")]
    assert len(_refused(logs)) == 3
    assert len(os.listdir(remote)) == 4  # refused files are left alone on the server


def test_folder_source_refuses_links_and_special_files(sqlite_engine, tmp_path: Path) -> None:
    drop = tmp_path / "drop"
    drop.mkdir()
    secret = tmp_path / "secret.xml"
    secret.write_bytes(SAMPLE.read_bytes())
    (drop / "link.xml").symlink_to(secret)
    os.mkfifo(drop / "fifo.xml")
    (drop / "bad\nname.xml").write_bytes(b"x")
    (drop / "real.xml").write_bytes(SAMPLE.read_bytes().replace(b"</Document>", b"</Document> "))
    settings = Settings(database_url="sqlite://", data_dir=tmp_path / "data")
    c = ConnectorConfig(name="inbox", kind="folder", path=drop, archive_dir="done")

    with capture_logs() as logs:
        results = pull_one(sqlite_engine, settings, c)

    assert [(r.filename, r.status) for r in results] == [("real.xml", "applied")]
    assert secret.exists() and (drop / "link.xml").is_symlink()  # neither archived nor moved
    assert len(_refused(logs)) == 3
