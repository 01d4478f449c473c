"""SFTP connector against a real OpenSSH sshd on loopback: no mocks of paramiko or the server.

Covers: a pull ingests a file once and archives it remotely; a second pull is a no-op; a
wrong or unknown host key is refused before anything is downloaded; a connection killed in
the middle of a transfer (the sshd session process is SIGKILLed from the chunk hook) is
retried and the staged file is always whole; a file growing during the download is never
handed on; remember-mode (no archive) does not fetch a file twice.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from connectors.config import ConnectorConfig
from connectors.pull import pull_one
from connectors.sources.base import RemoteEntry, SourceError
from connectors.sources.sftp import SftpSource
from schemas.tables import raw_files, remote_files
from tests.integration.sshd import SshdServer, keygen, running_sshd

pytestmark = pytest.mark.sshd

SAMPLE = Path(__file__).resolve().parents[2] / "fixtures" / "samples" / "camt053" / "v08_mixed.xml"


@pytest.fixture
def sshd(tmp_path: Path) -> Iterator[SshdServer]:
    with running_sshd(tmp_path / "sshd") as server:
        yield server
        assert wait_until(lambda: not server.session_pids()), "the source left a session open"


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    """sshd's session processes take a moment to exit after the client has closed."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    """The folder the server exposes (sshd runs as this user, so it is a local path)."""
    folder = tmp_path / "remote" / "out"
    folder.mkdir(parents=True)
    return folder


def connector(
    sshd: SshdServer, remote: Path, tmp_path: Path, *, archive: bool = True, **extra: object
) -> ConnectorConfig:
    known_hosts = sshd.write_known_hosts(tmp_path / "known_hosts")
    values: dict = {
        "name": "bank-sftp",
        "kind": "sftp",
        "host": sshd.host,
        "port": sshd.port,
        "user": sshd.user,
        "key": sshd.client_key,
        "known_hosts": known_hosts,
        "remote_dir": str(remote),
        "archive_dir": str(remote.parent / "done") if archive else None,
        "attempts": 4,
        "backoff": 0.01,
        "timeout": 10.0,
    }
    values.update(extra)
    return ConnectorConfig(**values)


def staged(settings_or_dir: Path) -> list[str]:
    return sorted(p.name for p in settings_or_dir.iterdir()) if settings_or_dir.exists() else []


def count(engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


# --- pull end to end ----------------------------------------------------------------------------


def test_pull_ingests_once_archives_and_rerun_is_noop(engine, settings, sshd, remote, tmp_path):
    data = SAMPLE.read_bytes()
    (remote / "stmt-20261120.xml").write_bytes(data)
    (remote / ".hidden").write_bytes(b"x")
    (remote / "upload.xml.part").write_bytes(b"<half")
    c = connector(sshd, remote, tmp_path)

    results = pull_one(engine, settings, c)

    assert [(r.filename, r.status) for r in results] == [("stmt-20261120.xml", "applied")]
    assert results[0].sha256 == hashlib.sha256(data).hexdigest()
    assert sorted(os.listdir(remote)) == [".hidden", "upload.xml.part"]  # in-progress left
    assert (remote.parent / "done" / "stmt-20261120.xml").read_bytes() == data
    assert count(engine, raw_files) == 1
    assert staged(settings.data_dir / "staging" / c.name) == []  # nothing lingers in staging

    assert pull_one(engine, settings, c) == []
    assert count(engine, raw_files) == 1


def test_same_file_sent_again_is_a_duplicate_and_archived_under_a_new_name(
    engine, settings, sshd, remote, tmp_path
):
    data = SAMPLE.read_bytes()
    c = connector(sshd, remote, tmp_path)
    (remote / "stmt.xml").write_bytes(data)
    assert [r.status for r in pull_one(engine, settings, c)] == ["applied"]
    (remote / "stmt.xml").write_bytes(data)  # the bank re-sends it

    assert [r.status for r in pull_one(engine, settings, c)] == ["duplicate"]

    sha12 = hashlib.sha256(data).hexdigest()[:12]
    assert sorted(os.listdir(remote.parent / "done")) == sorted(["stmt.xml", f"stmt.{sha12}.xml"])
    assert count(engine, raw_files) == 1


def test_remember_mode_does_not_fetch_twice(engine, settings, sshd, remote, tmp_path):
    (remote / "stmt.xml").write_bytes(SAMPLE.read_bytes())
    c = connector(sshd, remote, tmp_path, archive=False)

    assert [r.status for r in pull_one(engine, settings, c)] == ["applied"]
    assert (remote / "stmt.xml").exists()  # no archive: left where it was
    with engine.connect() as conn:
        row = conn.execute(select(remote_files)).one()
    assert (row.connector, row.remote_path) == (c.name, str(remote / "stmt.xml"))
    assert row.sha256 == hashlib.sha256(SAMPLE.read_bytes()).hexdigest()

    staging = settings.data_dir / "staging" / c.name
    with SftpSource(c, engine, staging) as src:
        assert src.pending() == []  # known by (path, size, mtime): not even downloaded
    assert pull_one(engine, settings, c) == []
    assert count(engine, remote_files) == 1


# --- host keys ---------------------------------------------------------------------------------


def test_host_key_mismatch_is_refused_and_nothing_downloaded(
    engine, settings, sshd, remote, tmp_path
):
    (remote / "stmt.xml").write_bytes(SAMPLE.read_bytes())
    c = connector(sshd, remote, tmp_path)
    impostor = keygen(tmp_path / "other_host_key", "someone-else")
    sshd.write_known_hosts(c.known_hosts, public_key=impostor)  # type: ignore[arg-type]

    with pytest.raises(SourceError, match=r"host key of \[127\.0\.0\.1\]:\d+ does not match"):
        pull_one(engine, settings, c)

    assert os.listdir(remote) == ["stmt.xml"]
    assert count(engine, raw_files) == 0
    assert staged(settings.data_dir / "staging" / c.name) == []


def test_unknown_host_is_refused(engine, settings, sshd, remote, tmp_path):
    (remote / "stmt.xml").write_bytes(SAMPLE.read_bytes())
    c = connector(sshd, remote, tmp_path)
    # the right key, but pinned for another port: a different host as far as SSH is concerned
    c.known_hosts.write_text(f"[127.0.0.1]:{sshd.port + 1} {sshd.host_public_key}\n")  # type: ignore[union-attr]

    with pytest.raises(SourceError, match=r"is not in .*refusing an unknown host"):
        pull_one(engine, settings, c)
    assert count(engine, raw_files) == 0 and os.listdir(remote) == ["stmt.xml"]


# --- dropped connections and changing files ------------------------------------------------------


def big_file(remote: Path, size: int = 3_000_000) -> tuple[RemoteEntry, bytes]:
    data = os.urandom(size)
    path = remote / "big.bin"
    path.write_bytes(data)
    st = path.stat()
    return RemoteEntry(str(path), path.name, size, int(st.st_mtime)), data


def test_connection_cut_mid_transfer_is_retried_and_never_partial(
    sqlite_engine, sshd, remote, tmp_path
):
    entry, data = big_file(remote)
    c = connector(sshd, remote, tmp_path)
    cuts: list[int] = []

    def cut_once(_entry: RemoteEntry, done: int) -> None:
        if not cuts and done >= 256 * 1024:
            cuts.append(sshd.kill_sessions())  # the server side dies mid-file

    staging = tmp_path / "staging"
    staging.mkdir()
    with SftpSource(c, sqlite_engine, staging, on_chunk=cut_once) as src:
        fetched = src.fetch(entry)
        assert src.connects == 2  # reconnected once
    assert len(cuts) == 1 and cuts[0] >= 1
    assert fetched.size == len(data)
    assert fetched.sha256 == hashlib.sha256(data).hexdigest()
    assert fetched.local_path.read_bytes() == data
    assert staged(staging) == ["big.bin"]  # no temporary left behind


def test_gives_up_after_bounded_attempts_leaving_nothing(sqlite_engine, sshd, remote, tmp_path):
    entry, _ = big_file(remote, 600_000)
    c = connector(sshd, remote, tmp_path, attempts=3)
    staging = tmp_path / "staging"
    staging.mkdir()
    cut: set[int] = set()  # connection numbers already cut

    def cut_every_connection(_entry: RemoteEntry, done: int) -> None:
        if done >= 64 * 1024 and src.connects not in cut:
            cut.add(src.connects)
            sshd.kill_sessions()

    src = SftpSource(c, sqlite_engine, staging, on_chunk=cut_every_connection)
    with (
        src,
        pytest.raises(SourceError, match=r"fetch big\.bin: gave up after 3 attempts"),
    ):
        src.fetch(entry)
    assert cut == {1, 2, 3}
    assert staged(staging) == []


def test_file_growing_during_download_is_never_handed_on_partial(
    sqlite_engine, sshd, remote, tmp_path
):
    entry, first = big_file(remote, 1_000_000)
    tail = os.urandom(500_000)
    c = connector(sshd, remote, tmp_path)
    grown: list[bool] = []

    def sender_still_writing(_entry: RemoteEntry, done: int) -> None:
        if not grown and done >= 128 * 1024:
            with open(entry.path, "ab") as fh:  # the sender appends the rest of its file
                fh.write(tail)
            os.utime(entry.path, (entry.mtime + 5, entry.mtime + 5))
            grown.append(True)

    staging = tmp_path / "staging"
    staging.mkdir()
    with SftpSource(c, sqlite_engine, staging, on_chunk=sender_still_writing) as src:
        fetched = src.fetch(entry)
    whole = first + tail
    assert fetched.local_path.read_bytes() == whole
    assert fetched.sha256 == hashlib.sha256(whole).hexdigest()
    assert (fetched.entry.size, fetched.entry.mtime) == (len(whole), entry.mtime + 5)
    assert staged(staging) == ["big.bin"]
