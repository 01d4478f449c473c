"""The connector schedule: APScheduler 3 BackgroundScheduler, one cron job per connector.

Every gateway process may run a scheduler (``gateway serve`` starts one in-process,
``gateway scheduler`` runs only that). On PostgreSQL each run takes the connector's advisory
lock first (``connectors.pull.connector_lock``), so with several processes exactly one of them
works a connector at a time and the others log a skip; on SQLite (one process) a process-local
lock does the same. Jobs call the same ``pull_one`` as ``gateway pull``.

Cron strings are evaluated in ``Settings.timezone`` (the billing centre's business day), a missed
run is made up once within ``MISFIRE_GRACE`` (coalesced, never stacked), and a job never
overlaps itself (``max_instances=1``).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from connectors.config import ConnectorConfig, load_connectors
from connectors.cron import cron_trigger
from connectors.pull import PullFailed, connector_lock, pull_one
from gateway.errors import UserError
from gateway.settings import Settings

log = structlog.get_logger(__name__)

MISFIRE_GRACE = 600  # seconds: a run missed by a restart is still made up within this


def job_id(name: str) -> str:
    return f"pull:{name}"


def build_scheduler(
    engine: Engine,
    settings: Settings,
    connectors: Iterable[ConnectorConfig] | None = None,
) -> BackgroundScheduler:
    """A scheduler (not started) with one job per enabled connector that has a schedule."""
    tz = ZoneInfo(settings.timezone)
    if connectors is None:
        connectors = load_connectors(settings) if settings.config_path else ()
    scheduler = BackgroundScheduler(timezone=tz)
    if settings.day_close_at:
        _add_day_close(scheduler, engine, settings)
    for c in connectors:
        if not c.enabled or not c.schedule:
            continue
        scheduler.add_job(
            run_job,
            cron_trigger(c.schedule, settings.timezone),
            args=[engine, settings, c],
            id=job_id(c.name),
            name=f"pull {c.name}",
            max_instances=1,
            coalesce=True,
            misfire_grace_time=MISFIRE_GRACE,
            replace_existing=True,
        )
    return scheduler


def _add_day_close(scheduler: BackgroundScheduler, engine: Engine, settings: Settings) -> None:
    """The optional scheduled day close (see ``gateway.services.day_close``)."""
    hour, _, minute = (settings.day_close_at or "").partition(":")
    if not (hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise UserError(f"GATEWAY_DAY_CLOSE_AT must be HH:MM, not {settings.day_close_at!r}")
    scheduler.add_job(
        run_day_close,
        cron_trigger(f"{int(minute)} {int(hour)} * * *", settings.timezone),
        args=[engine, settings],
        id="day-close",
        name="close the ready days",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=MISFIRE_GRACE,
        replace_existing=True,
    )


def run_day_close(engine: Engine, settings: Settings) -> str:
    """One scheduled close, under the same advisory lock as a connector (one process)."""
    from gateway.collectors import load_collectors
    from gateway.services.day_close import close_ready_days

    with connector_lock(engine, "day-close") as got:
        if not got:
            return "skipped"
        try:
            days = close_ready_days(engine, load_collectors(settings), timezone=settings.timezone)
        except Exception as exc:
            log.error("schedule.day_close_failed", error=type(exc).__name__)
            return "failed"
    log.info("schedule.days_closed", days=[str(d) for d in days])
    return "ran"


def run_job(engine: Engine, settings: Settings, connector: ConnectorConfig) -> str:
    """One scheduled run: "ran", "failed" or "skipped" (another process holds the lock).

    Never raises: a failing connector is logged and retried at its next slot, and must not
    take the scheduler thread down.
    """
    with connector_lock(engine, connector.name) as got:
        if not got:
            log.info("schedule.skipped_locked", connector=connector.name)
            return "skipped"
        try:
            results = pull_one(engine, settings, connector)
        except PullFailed as exc:
            log.error("schedule.pull_failed", connector=connector.name, reason=str(exc))
            return "failed"
        except Exception as exc:
            log.error("schedule.pull_crashed", connector=connector.name, error=type(exc).__name__)
            return "failed"
    quarantined = sum(r.status == "quarantined" for r in results)
    log.info(
        "schedule.pulled", connector=connector.name, files=len(results), quarantined=quarantined
    )
    return "ran"


def start_in_process(engine: Engine, settings: Settings) -> BackgroundScheduler | None:
    """For ``gateway serve``: start the schedule beside the server; None when unconfigured.

    The caller keeps the scheduler and calls ``shutdown()`` when the server stops.
    """
    if settings.config_path is None and not settings.day_close_at:
        log.info("schedule.not_configured")
        return None
    scheduler = build_scheduler(engine, settings)
    scheduler.start()
    log.info("schedule.started", jobs=[j.id for j in scheduler.get_jobs()])
    return scheduler


def run_scheduler(settings: Settings) -> int:
    """``gateway scheduler``: run the schedule until SIGINT or SIGTERM, then stop cleanly."""
    from gateway.db import make_engine

    engine = make_engine(settings.database_url)
    try:
        scheduler = build_scheduler(engine, settings)
        if not scheduler.get_jobs():
            raise UserError("no enabled connector has a schedule and no day close time is set")
        stop = threading.Event()
        previous = {
            s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            scheduler.start()
            log.info("schedule.started", jobs=[j.id for j in scheduler.get_jobs()])
            while not stop.wait(1.0):  # wake regularly: signals are handled between waits
                pass
            log.info("schedule.stopping")
            scheduler.shutdown(wait=True)  # let a running pull finish its file
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
    finally:
        engine.dispose()
    return 0
