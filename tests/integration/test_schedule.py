"""The connector schedule: jobs from the config, triggered directly, one runner per connector.

Jobs are run by calling them (``job.func(*job.args)``), never by waiting for cron. The
competition test uses two engines on the same database, as two gateway processes would; on
PostgreSQL the advisory lock decides, on SQLite the process-local lock.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import text

from connectors.config import ConnectorConfig
from connectors.pull import connector_lock, lock_key
from connectors.schedule import MISFIRE_GRACE, build_scheduler, job_id
from fixtures.writers.terminal import write_terminal_page
from gateway.db import make_engine
from gateway.settings import Settings

CHISINAU = ZoneInfo("Europe/Chisinau")
ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "fixtures" / "samples" / "post_registry" / "posta_cp1251.txt"

CONFIG = """
[[connector]]
name = "inbox"
kind = "folder"
path = "inbox"
archive_dir = "archive"
schedule = "*/15 * * * *"

[[connector]]
name = "posta"
kind = "folder"
path = "posta"
schedule = "5 7-20 * * 1-6"

[[connector]]
name = "paused"
kind = "folder"
path = "inbox"
schedule = "* * * * *"
enabled = false

[[connector]]
name = "manual-only"
kind = "folder"
path = "inbox"
"""


@pytest.fixture
def configured(settings: Settings, tmp_path: Path) -> Settings:
    (tmp_path / "inbox").mkdir()
    (tmp_path / "posta").mkdir()
    path = tmp_path / "connectors.toml"
    path.write_text(CONFIG)
    return settings.with_(config_path=path)


def test_jobs_are_built_from_the_config(engine, configured: Settings) -> None:
    scheduler = build_scheduler(engine, configured)
    jobs = {job.id: job for job in scheduler.get_jobs()}

    assert set(jobs) == {job_id("inbox"), job_id("posta")}  # not disabled, not unscheduled
    for job in jobs.values():
        assert job.max_instances == 1
        assert job.coalesce is True
        assert job.misfire_grace_time == MISFIRE_GRACE
        assert isinstance(job.trigger, CronTrigger)
        assert str(job.trigger.timezone) == "Europe/Chisinau"
    after = datetime(2026, 11, 21, 10, 7, tzinfo=CHISINAU)  # a Saturday
    every_15 = jobs[job_id("inbox")].trigger.get_next_fire_time(None, after)
    assert every_15 == datetime(2026, 11, 21, 10, 15, tzinfo=CHISINAU)
    hourly = jobs[job_id("posta")].trigger
    assert hourly.get_next_fire_time(None, after) == datetime(2026, 11, 21, 11, 5, tzinfo=CHISINAU)
    late = datetime(2026, 11, 21, 20, 30, tzinfo=CHISINAU)  # Sunday is off: Monday 07:05
    assert hourly.get_next_fire_time(None, late) == datetime(2026, 11, 23, 7, 5, tzinfo=CHISINAU)


def test_a_triggered_job_pulls_like_the_cli(engine, configured: Settings, tmp_path: Path) -> None:
    (tmp_path / "inbox" / "posta.txt").write_bytes(SAMPLE.read_bytes())
    job = build_scheduler(engine, configured).get_job(job_id("inbox"))

    assert job.func(*job.args) == "ran"

    assert os.listdir(tmp_path / "inbox") == ["archive"]
    assert os.listdir(tmp_path / "inbox" / "archive") == ["posta.txt"]
    assert job.func(*job.args) == "ran"  # nothing new: still a clean run


def test_a_failing_connector_is_logged_not_raised_and_releases_its_lock(
    engine, configured: Settings, tmp_path: Path
) -> None:
    (tmp_path / "inbox").rmdir()
    job = build_scheduler(engine, configured).get_job(job_id("inbox"))
    assert job.func(*job.args) == "failed"
    with connector_lock(engine, "inbox") as got:
        assert got


# --- one runner per connector across processes --------------------------------------------------


class BlockingFeed:
    """A feed whose first request waits until the test lets it go: a pull caught mid-run."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.requests = 0
        self.page = write_terminal_page([], operator="paynet", cursor="0", next_cursor="0")

    def answer(self) -> bytes:
        self.requests += 1
        self.entered.set()
        self.release.wait(timeout=30)
        return self.page


@pytest.fixture
def blocking_feed() -> Iterator[tuple[BlockingFeed, str]]:
    feed = BlockingFeed()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = feed.answer()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield feed, f"http://127.0.0.1:{server.server_address[1]}/feed"
    finally:
        feed.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_two_schedulers_competing_for_a_job_exactly_one_runs(
    db_url: str, settings: Settings, blocking_feed
) -> None:
    feed, url = blocking_feed
    c = ConnectorConfig(name="paynet", kind="http", base_url=url, schedule="* * * * *", backoff=0)
    first, second = make_engine(db_url), make_engine(db_url)  # two gateway processes
    try:
        job_a = build_scheduler(first, settings, [c]).get_job(job_id("paynet"))
        job_b = build_scheduler(second, settings, [c]).get_job(job_id("paynet"))
        outcome: dict[str, str] = {}
        runner = threading.Thread(target=lambda: outcome.update(a=job_a.func(*job_a.args)))
        runner.start()
        assert feed.entered.wait(timeout=10), "the first run never reached the feed"

        assert job_b.func(*job_b.args) == "skipped"  # while A holds the connector

        feed.release.set()
        runner.join(timeout=30)
        assert outcome == {"a": "ran"}
        assert feed.requests == 1
        assert job_b.func(*job_b.args) == "ran"  # A finished: the lock is free again
        assert feed.requests == 2
    finally:
        first.dispose()
        second.dispose()


def test_advisory_lock_is_per_connector_and_released(pg_url: str) -> None:
    first, second = make_engine(pg_url), make_engine(pg_url)
    try:
        with connector_lock(first, "bank") as got_bank, connector_lock(second, "posta") as other:
            assert got_bank and other  # different connectors do not block each other
            with connector_lock(second, "bank") as again:
                assert not again
            with second.connect() as conn:  # visible to PostgreSQL as an advisory lock
                held = conn.execute(
                    text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
                ).scalar_one()
            assert held >= 2
        with connector_lock(second, "bank") as after:
            assert after
        assert lock_key("bank") == lock_key("bank") != lock_key("posta")
    finally:
        first.dispose()
        second.dispose()


# --- the `gateway scheduler` process ------------------------------------------------------------


def test_gateway_scheduler_runs_until_sigterm(tmp_path: Path) -> None:
    (tmp_path / "inbox").mkdir()
    config = tmp_path / "connectors.toml"
    config.write_text(CONFIG.replace('path = "posta"', 'path = "inbox"'))
    env = {
        **os.environ,
        "GATEWAY_DATABASE_URL": f"sqlite:///{tmp_path / 'gw.db'}",
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_CONFIG": str(config),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "scheduler"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        started = _wait_for_line(proc, "schedule.started", timeout=20)
        assert started, "the scheduler did not report its jobs"
        assert "pull:inbox" in started and "pull:paused" not in started
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)


def _wait_for_line(proc: subprocess.Popen[str], needle: str, timeout: float) -> str | None:
    deadline = time.monotonic() + timeout
    assert proc.stderr is not None
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if needle in line:
            return line
        if not line and proc.poll() is not None:
            return None
    return None
