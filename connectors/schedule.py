"""The connector schedule: APScheduler 3 BackgroundScheduler, one cron job per connector.

Every gateway process may run a scheduler (``gateway serve`` starts one in-process,
``gateway scheduler`` runs only that). On PostgreSQL each run takes the connector's advisory
lock first (``connectors.pull.connector_lock``), so with several processes exactly one of them
works a connector at a time and the others log a skip; on SQLite (one process) a process-local
lock does the same. Jobs call the same ``pull_one`` as ``gateway pull``.

Cron strings are evaluated in Europe/Chisinau (the billing centre's business day), a missed
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
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import Engine

from connectors.config import ConnectorConfig, load_connectors
from connectors.pull import PullFailed, connector_lock, pull_one
from gateway.errors import UserError
from gateway.settings import Settings

log = structlog.get_logger(__name__)

MISFIRE_GRACE = 600  # seconds: a run missed by a restart is still made up within this


# crontab numbers weekdays 0-7 from Sunday (0 and 7 both Sunday); APScheduler 3 numbers them
# from Monday, and its from_crontab passes the numbers through (agronholm/apscheduler#286), so
# "1-5" would mean Tuesday-Saturday. We translate the field to day names ourselves.
CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_trigger(expr: str, timezone: str = "Europe/Chisinau") -> CronTrigger:
    """A CronTrigger with standard crontab meaning; ``ValueError`` for a bad expression.

    Day of month and day of week may not both be restricted: cron ORs them, APScheduler ANDs
    them, and a schedule that means two things is refused rather than guessed.
    """
    fields = expr.split()
    if len(fields) != 5:
        raise ValueError(f"expected 5 fields (minute hour day month weekday), got {len(fields)}")
    minute, hour, day, month, weekday = fields
    if day != "*" and weekday != "*":
        raise ValueError("restrict the day of month or the day of week, not both")
    return CronTrigger(
        minute=minute,
        hour=hour,
        day=day,
        month=month,
        day_of_week=_weekday_names(weekday),
        timezone=ZoneInfo(timezone),
    )


def _weekday_names(field: str) -> str:
    """Crontab's weekday field as an explicit list of day names ("1-5" -> "mon,...,fri")."""
    if field == "*":
        return "*"
    days: set[int] = set()
    for part in field.lower().split(","):
        span, _, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() else 0 if step_text else 1
        if step < 1:
            raise ValueError(f"bad step in weekday field: {part!r}")
        if span == "*":
            first, last = 0, 6
        elif "-" in span:
            a, b = span.split("-", 1)
            first, last = _weekday(a), _weekday(b)
            if last == 0 and first > 0:
                last = 7  # "fri-sun": Sunday as the end of a range is day 7
        else:
            first = _weekday(span)
            last = 6 if step_text else first
        if last < first:
            raise ValueError(f"weekday range runs backwards: {part!r}")
        days.update(d % 7 for d in range(first, last + 1, step))
    return ",".join(CRON_DAYS[d] for d in sorted(days))


def _weekday(token: str) -> int:
    if token.isdigit() and 0 <= int(token) <= 7:
        return int(token)
    if token in CRON_DAYS:
        return CRON_DAYS.index(token)
    raise ValueError(f"not a weekday: {token!r} (0-7 or sun..sat)")


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
        connectors = load_connectors(settings)
    scheduler = BackgroundScheduler(timezone=tz)
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
    if settings.config_path is None:
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
            raise UserError("no enabled connector has a schedule; nothing to run")
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
