"""The ageing report of the review queue: how old the open items are, by reason; who
resolved how many per day; the oldest item. Age as in ``review_queue`` (days since the
payment's business day). Two grouped queries; the bucketing is done here, in Python, over
at most (reasons x days) rows.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import Engine, func, select

from gateway.db import reading
from gateway.services.review_queue import AgeBucket, describe_reason
from reconciliation.model import CITY_TIMEZONE
from reconciliation.review import ReviewState
from reconciliation.service import business_today
from schemas.tables import payments, review_items


class ReasonAgeing(msgspec.Struct, frozen=True):
    reason: str
    reason_text: str
    counts: dict[str, int]  # AgeBucket value -> items
    amounts: dict[str, int]  # AgeBucket value -> bani
    total: int


class PersonDay(msgspec.Struct, frozen=True):
    day: date
    person: str
    resolved: int


class OldestItem(msgspec.Struct, frozen=True):
    item_id: int
    business_day: date
    age_days: int
    amount: int
    reason: str


class Ageing(msgspec.Struct, frozen=True):
    today: date
    by_reason: list[ReasonAgeing]
    totals: dict[str, int]  # AgeBucket value -> items
    amounts: dict[str, int]
    open_items: int
    open_amount: int
    resolved: list[PersonDay]  # newest day first
    oldest: OldestItem | None


def ageing(
    engine: Engine, *, days: int = 14, today: date | None = None, timezone: str = CITY_TIMEZONE
) -> Ageing:
    """The ageing of the open items on ``today`` (by default today in ``timezone``), and who
    resolved how many per day (days in ``timezone``) over the last ``days`` days."""
    local = ZoneInfo(timezone)
    today = today or business_today(timezone)
    open_ = review_items.c.state == ReviewState.OPEN.value
    joined = review_items.join(payments, payments.c.id == review_items.c.payment_id)
    since = datetime.combine(today - timedelta(days=days), datetime.min.time(), local)
    with reading(engine) as conn:
        grouped = conn.execute(
            select(review_items.c.reason, payments.c.business_day, func.count(),
                   func.sum(payments.c.amount))
            .select_from(joined).where(open_)
            .group_by(review_items.c.reason, payments.c.business_day)
        ).all()  # fmt: skip
        oldest = conn.execute(
            select(review_items.c.id, payments.c.business_day, payments.c.amount,
                   review_items.c.reason)
            .select_from(joined).where(open_)
            .order_by(payments.c.business_day, review_items.c.id).limit(1)
        ).first()  # fmt: skip
        done = conn.execute(
            select(review_items.c.resolved_by, review_items.c.resolved_at).where(
                review_items.c.resolved_at >= since, review_items.c.resolved_by.is_not(None)
            )
        ).all()
    counts: dict[str, dict[AgeBucket, int]] = defaultdict(lambda: dict.fromkeys(AgeBucket, 0))
    amounts: dict[str, dict[AgeBucket, int]] = defaultdict(lambda: dict.fromkeys(AgeBucket, 0))
    for reason, day, n, amount in grouped:
        bucket = AgeBucket.of((today - day).days)
        counts[reason][bucket] += n
        amounts[reason][bucket] += int(amount or 0)
    by_reason = sorted(
        (ReasonAgeing(r, describe_reason(r), {b.value: c for b, c in counts[r].items()},
                      {b.value: a for b, a in amounts[r].items()}, sum(counts[r].values()))
         for r in counts),
        key=lambda x: -x.total,
    )  # fmt: skip
    totals = {b.value: sum(x.counts[b.value] for x in by_reason) for b in AgeBucket}
    money = {b.value: sum(x.amounts[b.value] for x in by_reason) for b in AgeBucket}
    per: dict[tuple[date, str], int] = defaultdict(int)
    for person, at in done:
        at = at if at.tzinfo else at.replace(tzinfo=ZoneInfo("UTC"))
        per[(at.astimezone(local).date(), person)] += 1
    resolved = [PersonDay(d, p, n) for (d, p), n in sorted(per.items(), key=lambda kv: (
        -kv[0][0].toordinal(), -kv[1], kv[0][1]))]  # fmt: skip
    old = None
    if oldest is not None:
        old = OldestItem(oldest.id, oldest.business_day, (today - oldest.business_day).days,
                         oldest.amount, oldest.reason)  # fmt: skip
    return Ageing(today, by_reason, totals, money, sum(totals.values()), sum(money.values()),
                  resolved, old)  # fmt: skip
