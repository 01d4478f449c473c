"""The figures behind the finance charts: the last N business days, one query each.

- collections: per day and channel, the credits received (lump sums excluded: their money is
  counted through the registries' lines);
- review backlog: per day, the items still open at the end of that day, by age;
- settlement differences: per day and collector, fees netted (negative) and differences.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, and_, func, or_, select

from gateway.db import reading
from gateway.services.report import day_bounds
from reconciliation.daily import AGE_BUCKETS, age_bucket
from reconciliation.model import CITY_TIMEZONE, Channel, PaymentStatus
from schemas.tables import payments, review_items, settlements


@dataclass(frozen=True)
class ChartData:
    days: list[date]
    collections: dict[str, list[int]]  # channel -> bani per day
    backlog: dict[str, list[int]]  # age bucket -> open items per day
    settlement: dict[str, list[int]]  # "fees" / "differences" -> bani per day


def chart_data(
    engine: Engine, end: date, n_days: int = 30, *, timezone: str = CITY_TIMEZONE
) -> ChartData:
    days = [end - timedelta(days=n_days - 1 - i) for i in range(n_days)]
    index = {d: i for i, d in enumerate(days)}
    with reading(engine) as conn:
        p = payments
        collections: dict[str, list[int]] = defaultdict(lambda: [0] * n_days)
        for day, channel, total in conn.execute(
            select(p.c.business_day, p.c.channel, func.sum(p.c.amount))
            .where(
                p.c.business_day.between(days[0], end),
                p.c.direction == "credit",
                p.c.reversal.is_(False),
                p.c.channel != Channel.SETTLEMENT,
            )
            .group_by(p.c.business_day, p.c.channel)
        ):
            collections[channel][index[day]] += int(total)

        r = review_items
        first_start, _ = day_bounds(days[0], timezone)
        items = conn.execute(
            select(p.c.business_day, r.c.resolved_at)
            .select_from(r.join(p, p.c.id == r.c.payment_id))
            .where(
                p.c.business_day <= end,
                or_(
                    and_(r.c.resolved_at.is_(None), p.c.status == PaymentStatus.REVIEW),
                    r.c.resolved_at >= first_start,
                ),
            )
        ).all()
        backlog = {b: [0] * n_days for b in AGE_BUCKETS}
        ends = [day_bounds(d, timezone)[1] for d in days]
        for opened, resolved in items:
            for i, d in enumerate(days):
                if opened <= d and (resolved is None or _aware(resolved) >= ends[i]):
                    backlog[age_bucket((d - opened).days)][i] += 1

        s = settlements
        settlement = {"fees netted": [0] * n_days, "differences": [0] * n_days}
        for day, status, diff in conn.execute(
            select(s.c.registry_day, s.c.status, func.sum(s.c.difference))
            .where(s.c.registry_day.between(days[0], end), s.c.status.in_(["fee", "difference"]))
            .group_by(s.c.registry_day, s.c.status)
        ):
            key = "fees netted" if status == "fee" else "differences"
            settlement[key][index[day]] += int(diff)
    return ChartData(days, dict(sorted(collections.items())), backlog, settlement)


def _aware(value: datetime) -> datetime:
    """SQLite hands back naive UTC timestamps; PostgreSQL aware ones."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
