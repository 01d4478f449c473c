"""Closing a business day, and serving a closed day's frozen exports.

Rules (finance's, written here once):
- a day closes only while its equation holds and every finding is acknowledged with a
  comment (``--ack KEY=comment``; acknowledgements are kept even when the close is still
  refused for another finding, and each records who gave it);
- roles: supervisor or finance; only a day that is over (before today in the billing
  centre's zone, ``Settings.timezone``, passed down as ``timezone``);
- settlement runs first (in the same transaction), so an API agent's day of payments is
  paired with its lump sum (or shown missing) even when no file arrived since;
- the close takes the write lock for its transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL:
  SHARE lock on payments and allocations), so no payment lands in the day between the
  snapshot and the commit; writers wait the few seconds the snapshot takes;
- a closed day is frozen: the report (JSON, CSV, XLSX) and the payments and allocations
  exports are stored as they were at the close (``day_exports``, with their sha256; the
  report's JSON also in ``business_days.snapshot``) and every later export serves those
  bytes. A reversal into a closed day is refused (DAY_CLOSED); a payment whose own day is
  closed is booked on the first open day after it (``first_open_day``); a correction made
  after the close lands on the day it is made;
- closing a closed day again is a no-op that answers with the stored sha256;
- optionally the schedule closes every earlier open day that blocks nothing at a configured
  time (``GATEWAY_DAY_CLOSE_AT``, "HH:MM" in that zone; ``close_ready_days``), as the
  user ``scheduler``; a day with an open finding always waits for a person.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from gateway.db import reading
from gateway.errors import Conflict, NotFound, UserError
from gateway.services.export import ExportKind, export_bytes
from gateway.services.frozen import frozen_export
from gateway.services.people import Actor, Role
from gateway.services.report import load_inputs
from gateway.services.report_export import ReportFormat, parse_format, render
from reconciliation.daily import DailyReport, build_report
from reconciliation.model import CITY_TIMEZONE
from reconciliation.service import business_today, settle_pending
from reconciliation.settlement import Collector
from schemas.tables import (
    business_days,
    day_exports,
    finding_acks,
    payments,
    statement_findings,
    statements,
)


class DayState(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True)
class CloseResult:
    day: date
    sha256: str
    already: bool = False


@dataclass(frozen=True)
class DayStatus:
    day: date
    payments: int
    blocking: list[tuple[str, str]]  # (finding key, detail)


def is_closed(conn: Connection, day: date) -> bool:
    q = select(business_days.c.status).where(business_days.c.day == day)
    return conn.execute(q).scalar() == DayState.CLOSED


def first_open_day(conn: Connection, day: date) -> date:
    """``day`` if it is open, else the first day after it that is not closed."""
    closed = set(
        conn.execute(
            select(business_days.c.day).where(
                business_days.c.status == DayState.CLOSED,
                business_days.c.day >= day,
                business_days.c.day < day + timedelta(days=400),
            )
        ).scalars()
    )
    while day in closed:
        day += timedelta(days=1)
    return day


def acknowledge(
    conn: Connection, day: date, acks: Mapping[str, str], actor: Actor, known: set[str]
) -> None:
    """Store acknowledgements (replacing an earlier comment for the same finding)."""
    now = datetime.now(UTC)
    for key, comment in acks.items():
        if key not in known:
            raise NotFound(f"no finding {key!r} on {day} (see `gateway day status`)")
        if not comment.strip():
            raise UserError(f"the acknowledgement of {key} needs a comment")
        conn.execute(
            delete(finding_acks).where(finding_acks.c.day == day, finding_acks.c.finding_key == key)
        )
        conn.execute(
            insert(finding_acks).values(
                day=day,
                finding_key=key,
                comment=comment.strip(),
                acknowledged_by=actor.username,
                acknowledged_at=now,
            )
        )
        if key.startswith("sf:"):  # the bank-file parser's finding keeps its own ack too
            conn.execute(
                update(statement_findings)
                .where(statement_findings.c.id == int(key[3:]))
                .values(
                    ack_comment=comment.strip(), acknowledged_by=actor.username, acknowledged_at=now
                )
            )


def close_day(
    engine: Engine,
    day: date,
    actor: Actor,
    *,
    acks: Mapping[str, str] | None = None,
    collectors: Sequence[Collector] = (),
    timezone: str = CITY_TIMEZONE,
) -> CloseResult:
    """Close ``day`` or refuse with every finding that still blocks it."""
    actor.require(Role.SUPERVISOR, Role.FINANCE)
    today = business_today(timezone)
    if day >= today:
        raise Conflict(f"day {day} is not over yet in {timezone}: payments may still arrive")
    with engine.begin() as conn:
        stored = conn.execute(
            select(business_days.c.status, business_days.c.snapshot_sha256).where(
                business_days.c.day == day
            )
        ).first()
        if stored is not None and stored.status == DayState.CLOSED:
            return CloseResult(day, stored.snapshot_sha256, already=True)
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE payments, allocations IN SHARE MODE")
        # an API agent's day is a registry only once settlement has looked at it
        settle_pending(conn, collectors, today=max(day, today))
        if acks:
            inputs = load_inputs(conn, day, collectors, timezone=timezone)
            acknowledge(conn, day, acks, actor, {f.key for f in build_report(inputs).findings})
        report = build_report(load_inputs(conn, day, collectors, timezone=timezone))
        if report.blocking:
            refused = refusal(day, report)
        else:
            return _freeze(conn, day, report, actor, exists=stored is not None)
    raise Conflict(refused)  # raised after the commit: the acknowledgements stay


def refusal(day: date, report: DailyReport) -> str:
    lines = [f"{f.key}: {f.detail}" for f in report.blocking]
    head = "the equation does not hold; " if not report.balanced else ""
    return (
        f"day {day} cannot close: {head}{len(lines)} open finding(s) "
        f"(acknowledge each with a comment): " + " | ".join(lines)
    )


def _freeze(
    conn: Connection, day: date, report: DailyReport, actor: Actor, *, exists: bool
) -> CloseResult:
    doc = report.to_json()
    files = {f"report.{fmt.value}": render(doc, fmt) for fmt in ReportFormat}
    for kind in ExportKind:
        files[f"{kind.value}.csv"] = export_bytes(conn, kind, day)
    now = datetime.now(UTC)
    conn.execute(delete(day_exports).where(day_exports.c.day == day))
    conn.execute(
        insert(day_exports),
        [
            {
                "day": day,
                "name": name,
                "sha256": hashlib.sha256(data).hexdigest(),
                "size": len(data),
                "content": zlib.compress(data, 6),
                "created_at": now,
            }
            for name, data in sorted(files.items())
        ],
    )
    sha = hashlib.sha256(files["report.json"]).hexdigest()
    values = {
        "status": DayState.CLOSED,
        "closed_at": now,
        "closed_by": actor.username,
        "snapshot": doc,
        "snapshot_sha256": sha,
    }
    if exists:
        conn.execute(update(business_days).where(business_days.c.day == day).values(**values))
    else:
        conn.execute(insert(business_days).values(day=day, **values))
    return CloseResult(day, sha)


def report_bytes(
    engine: Engine,
    day: date,
    fmt: ReportFormat | str,
    collectors: Sequence[Collector] = (),
    *,
    timezone: str = CITY_TIMEZONE,
) -> bytes:
    """The report of ``day`` in ``fmt``: the frozen bytes of a closed day, else live."""
    fmt = parse_format(fmt)
    with reading(engine) as conn:
        frozen = frozen_export(conn, day, f"report.{fmt}")
        if frozen is not None:
            return frozen
        report = build_report(load_inputs(conn, day, collectors, timezone=timezone))
        return render(report.to_json(), fmt)


def open_days(conn: Connection, *, horizon_days: int = 62) -> list[tuple[date, int]]:
    """(day, credits received) of every open day with payments or statements, oldest first,
    within ``horizon_days`` of the latest payment. Cheap: grouped counts only."""
    latest = conn.execute(select(func.max(payments.c.business_day))).scalar()
    if latest is None:
        return []
    since = latest - timedelta(days=horizon_days)
    counts: dict[date, int] = dict(
        conn.execute(
            select(payments.c.business_day, func.count())
            .where(payments.c.business_day >= since, payments.c.direction == "credit")
            .group_by(payments.c.business_day)
        ).all()
    )
    for d in conn.execute(
        select(statements.c.business_day).where(statements.c.business_day >= since).distinct()
    ).scalars():
        counts.setdefault(d, 0)
    closed = set(
        conn.execute(
            select(business_days.c.day).where(
                business_days.c.status == DayState.CLOSED, business_days.c.day >= since
            )
        ).scalars()
    )
    return sorted((d, n) for d, n in counts.items() if d not in closed)


def day_status(
    engine: Engine,
    collectors: Sequence[Collector] = (),
    *,
    horizon_days: int = 62,
    timezone: str = CITY_TIMEZONE,
) -> list[DayStatus]:
    """Every open day (see ``open_days``) with what blocks its close (a report per day)."""
    with reading(engine) as conn:
        out = []
        for d, count in open_days(conn, horizon_days=horizon_days):
            report = build_report(load_inputs(conn, d, collectors, timezone=timezone))
            out.append(DayStatus(d, count, [(f.key, f.detail) for f in report.blocking]))
        return out


SCHEDULER = Actor(username="scheduler", role=Role.SUPERVISOR)


def close_ready_days(
    engine: Engine,
    collectors: Sequence[Collector] = (),
    *,
    today: date | None = None,
    timezone: str = CITY_TIMEZONE,
) -> list[date]:
    """The scheduled close: every open day before today (in ``timezone``) whose report blocks
    nothing is closed (oldest first); a day with an open finding waits for a person. Returns
    the days closed now."""
    today = today or business_today(timezone)
    closed = []
    for status in day_status(engine, collectors, timezone=timezone):
        if status.day >= today or status.blocking:
            continue
        try:
            result = close_day(
                engine, status.day, SCHEDULER, collectors=collectors, timezone=timezone
            )
        except Conflict:  # something arrived since the status was read: a person looks
            continue
        if not result.already:
            closed.append(status.day)
    return closed
