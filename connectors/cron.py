"""Crontab strings with their standard meaning, as APScheduler triggers.

A module of its own (it imports only APScheduler's trigger) so that the connectors file's
validation (``connectors.config``) and the schedule (``connectors.schedule``) share one
parser without importing each other.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from reconciliation.model import CITY_TIMEZONE

# crontab numbers weekdays 0-7 from Sunday (0 and 7 both Sunday); APScheduler 3 numbers them
# from Monday, and its from_crontab passes the numbers through (agronholm/apscheduler#286), so
# "1-5" would mean Tuesday-Saturday. We translate the field to day names ourselves.
CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def cron_trigger(expr: str, timezone: str = CITY_TIMEZONE) -> CronTrigger:
    """A CronTrigger with standard crontab meaning, evaluated in ``timezone`` (the schedule
    passes ``Settings.timezone``); ``ValueError`` for a bad expression.

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
        step = int(step_text) if _digits(step_text) else 0 if step_text else 1
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
    if _digits(token) and 0 <= int(token) <= 7:
        return int(token)
    if token in CRON_DAYS:
        return CRON_DAYS.index(token)
    raise ValueError(f"not a weekday: {token!r} (0-7 or sun..sat)")


def _digits(text: str) -> bool:
    """ASCII digits only: ``str.isdigit`` and ``int`` also take "١" or "５"."""
    return text.isascii() and text.isdigit()
