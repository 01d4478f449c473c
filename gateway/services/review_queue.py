"""The review queue as the accountants read it: filtered, searched, sorted, paged by keyset.

Shared by the queue page, the workspace JSON API and ``gateway review list``. Read-only: the
actions live in ``gateway.services.review`` (10b).

Decisions:
- An item's **age** is whole days from its payment's business day (when the money arrived)
  to today in the billing centre's zone (``Settings.timezone``): what a resident waits for,
  whatever day it was ingested.
  Buckets: 0-1, 2-3, 4-7 and more than 7 days; a bucket filter is a business-day range.
- **Search** folds case, diacritics and Cyrillic/Latin (``reconciliation.fold``); every word
  must occur in the item's folded payer name, IBAN or remittance (``review_items.search``).
- **Sorts**: oldest first (the default: the queue is worked from its tail), newest, amount
  either way, best candidate's score. Paging is by keyset (the sort value and the item id in
  an opaque cursor), so a page costs the same at the start or the end of 20,000 items and an
  item resolved meanwhile never shifts what the next page shows.
"""

from __future__ import annotations

import base64
import json
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, and_, bindparam, func, or_, select, update
from sqlalchemy.sql.elements import ColumnElement

from gateway.db import reading
from gateway.errors import UserError
from reconciliation.fold import fold_terms
from reconciliation.model import CITY_TIMEZONE
from reconciliation.review import ReasonCode, ReviewState
from reconciliation.service import business_today
from schemas.tables import accounts, payments, raw_files, review_items

PAGE_SIZE = 50
MAX_PAGE = 500


class AgeBucket(StrEnum):
    """Age ranges in days, as the ageing report shows them."""

    D0_1 = "0-1"
    D2_3 = "2-3"
    D4_7 = "4-7"
    OVER_7 = "8+"

    @property
    def days(self) -> tuple[int, int | None]:
        return {"0-1": (0, 1), "2-3": (2, 3), "4-7": (4, 7), "8+": (8, None)}[self.value]

    @property
    def label(self) -> str:
        return "> 7 days" if self is AgeBucket.OVER_7 else f"{self.value} days"

    @classmethod
    def of(cls, age_days: int) -> AgeBucket:
        for bucket in cls:
            low, high = bucket.days
            if age_days >= low and (high is None or age_days <= high):
                return bucket
        return cls.D0_1  # a business day in the future (clock skew): the youngest


class QueueSort(StrEnum):
    OLDEST = "oldest"
    NEWEST = "newest"
    AMOUNT_DESC = "amount_desc"
    AMOUNT_ASC = "amount_asc"
    SCORE = "score"


class QueueFilter(msgspec.Struct, frozen=True, kw_only=True):
    reason: ReasonCode | None = None
    channel: str | None = None
    source: str | None = None  # the payment's source (connector or agent)
    day_from: date | None = None
    day_to: date | None = None
    amount_min: int | None = None  # bani
    amount_max: int | None = None
    age: AgeBucket | None = None
    claimed_by: str | None = None  # a username; "" = unclaimed only; None = anyone
    q: str | None = None
    sort: QueueSort = QueueSort.OLDEST
    after: str | None = None  # cursor from the previous page
    limit: int = PAGE_SIZE


class CandidateView(msgspec.Struct, frozen=True):
    account_no: str
    score: float
    reason: str
    payer_name: str | None = None


class QueueRow(msgspec.Struct, frozen=True):
    item_id: int
    payment_id: int
    state: str
    reason: str
    reason_text: str
    business_day: date
    age_days: int
    channel: str
    source: str
    file_name: str | None
    raw_file_id: int | None
    amount: int  # bani
    debtor_name: str | None
    debtor_iban: str | None
    remittance: str | None
    candidates: int
    best: CandidateView | None
    claimed_by: str | None
    created_at: datetime
    version: int  # for optimistic concurrency: the actions take it back


class QueuePage(msgspec.Struct, frozen=True):
    rows: list[QueueRow]
    total: int  # items matching the filter, all pages
    next_cursor: str | None
    today: date


def describe_reason(code: str) -> str:
    try:
        return ReasonCode(code).description
    except ValueError:
        return code


_BEST_SCORE = func.coalesce(review_items.c.best_score, -1)


def _sort_key(sort: QueueSort) -> tuple[ColumnElement[Any], bool]:
    """(the sort column, ascending?); the item id breaks ties in the same direction."""
    return {
        QueueSort.OLDEST: (review_items.c.business_day, True),
        QueueSort.NEWEST: (review_items.c.business_day, False),
        QueueSort.AMOUNT_DESC: (review_items.c.amount, False),
        QueueSort.AMOUNT_ASC: (review_items.c.amount, True),
        QueueSort.SCORE: (_BEST_SCORE, False),
    }[sort]


def encode_cursor(value: object, item_id: int) -> str:
    raw = json.dumps([value.isoformat() if isinstance(value, date) else value, item_id])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: QueueSort) -> tuple[Any, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        value, item_id = json.loads(raw)
        if sort in (QueueSort.OLDEST, QueueSort.NEWEST):
            value = date.fromisoformat(value)
        else:
            value = int(value)
        return value, int(item_id)
    except (ValueError, TypeError, json.JSONDecodeError):
        raise UserError("the page cursor is not valid; start from the first page") from None


def _conditions(f: QueueFilter, today: date) -> list[ColumnElement[bool]]:
    cond: list[ColumnElement[bool]] = [review_items.c.state == ReviewState.OPEN.value]
    if f.reason:
        cond.append(review_items.c.reason == f.reason.value)
    if f.channel:
        cond.append(review_items.c.channel == f.channel)
    if f.source:
        cond.append(review_items.c.source == f.source)
    if f.day_from:
        cond.append(review_items.c.business_day >= f.day_from)
    if f.day_to:
        cond.append(review_items.c.business_day <= f.day_to)
    if f.amount_min is not None:
        cond.append(review_items.c.amount >= f.amount_min)
    if f.amount_max is not None:
        cond.append(review_items.c.amount <= f.amount_max)
    if f.age:
        low, high = f.age.days
        cond.append(review_items.c.business_day <= today - timedelta(days=low))
        if high is not None:
            cond.append(review_items.c.business_day >= today - timedelta(days=high))
    if f.claimed_by is not None:
        claimed = review_items.c.claimed_by
        cond.append(claimed.is_(None) if f.claimed_by == "" else claimed == f.claimed_by)
    for term in fold_terms(f.q)[:8]:
        escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        cond.append(review_items.c.search.like(f"%{escaped}%", escape="\\"))
    return cond


def _after(f: QueueFilter) -> ColumnElement[bool] | None:
    if not f.after:
        return None
    column, ascending = _sort_key(f.sort)
    value, item_id = decode_cursor(f.after, f.sort)
    if ascending:
        return or_(column > value, and_(column == value, review_items.c.id > item_id))
    return or_(column < value, and_(column == value, review_items.c.id < item_id))


def list_queue(
    engine: Engine,
    f: QueueFilter,
    today: date | None = None,
    *,
    timezone: str = CITY_TIMEZONE,
) -> QueuePage:
    """One page of open items matching ``f``, and how many match in all; ages count to
    ``today`` (by default today in ``timezone``)."""
    today = today or business_today(timezone)
    limit = max(1, min(f.limit, MAX_PAGE))
    column, ascending = _sort_key(f.sort)
    cond = _conditions(f, today)
    # Two steps: the page's ids from review_items alone (filter, sort, limit; the payment's
    # facts are copied there), then the details of those 51 rows only (payment, file, holder).
    keys = (
        select(review_items.c.id, column.label("sort_value"))
        .where(*cond)
        .order_by(
            column.asc() if ascending else column.desc(),
            review_items.c.id.asc() if ascending else review_items.c.id.desc(),
        )
        .limit(limit + 1)
    )
    after = _after(f)
    if after is not None:
        keys = keys.where(after)
    count = select(func.count()).select_from(review_items).where(*cond)
    _heal(engine)
    with reading(engine) as conn:
        page_keys = conn.execute(keys).all()
        total = conn.execute(count).scalar_one()
        more = len(page_keys) > limit
        page_keys = page_keys[:limit]
        details = _details(conn, [k.id for k in page_keys])
    out = [_row(details[k.id], today) for k in page_keys]
    last = page_keys[-1] if page_keys else None
    cursor = encode_cursor(last.sort_value, last.id) if more and last is not None else None
    return QueuePage(rows=out, total=total, next_cursor=cursor, today=today)


def fill_queue_columns(conn: Connection) -> int:
    """Copy the payment's facts (and the best score) onto items written without them.

    The ingest and the review service write them with the item; this fills rows another
    tool inserted (and the items there were before migration 0005b)."""
    rows = conn.execute(
        select(review_items.c.id, review_items.c.candidates, payments.c.business_day,
               payments.c.amount, payments.c.channel, payments.c.source)
        .join(payments, payments.c.id == review_items.c.payment_id)
        .where(review_items.c.business_day.is_(None))
    ).all()  # fmt: skip
    if rows:
        conn.execute(
            update(review_items)
            .where(review_items.c.id == bindparam("b_id"))
            .values(business_day=bindparam("b_day"), amount=bindparam("b_amount"),
                    channel=bindparam("b_channel"), source=bindparam("b_source"),
                    best_score=bindparam("b_score")),
            [{"b_id": r.id, "b_day": r.business_day, "b_amount": r.amount,
              "b_channel": r.channel, "b_source": r.source,
              "b_score": best_score(r.candidates)} for r in rows],
        )  # fmt: skip
    return len(rows)


def best_score(candidates: list[dict] | None) -> int | None:
    """The first (best-ranked) candidate's score in thousandths, as the queue sorts by it."""
    return round(float(candidates[0]["score"]) * 1000) if candidates else None


def _heal(engine: Engine) -> None:
    with reading(engine) as conn:
        missing = conn.execute(
            select(review_items.c.id)
            .where(review_items.c.state == ReviewState.OPEN.value,
                   review_items.c.business_day.is_(None))
            .limit(1)
        ).first()  # fmt: skip
    if missing is not None:
        with engine.begin() as conn:
            fill_queue_columns(conn)


def _details(conn: Any, ids: list[int]) -> dict[int, Any]:
    if not ids:
        return {}
    query = (
        select(
            review_items.c.id,
            review_items.c.payment_id,
            review_items.c.state,
            review_items.c.reason,
            review_items.c.candidates,
            review_items.c.created_at,
            review_items.c.claimed_by,
            review_items.c.version,
            payments.c.business_day,
            payments.c.channel,
            payments.c.source,
            payments.c.raw_file_id,
            payments.c.amount,
            payments.c.debtor_name,
            payments.c.debtor_iban,
            payments.c.remittance,
            raw_files.c.filename,
        )
        .select_from(
            review_items.join(payments, payments.c.id == review_items.c.payment_id).outerjoin(
                raw_files, raw_files.c.id == payments.c.raw_file_id
            )
        )
        .where(review_items.c.id.in_(ids))
    )
    rows = {r.id: r for r in conn.execute(query)}
    best = {r.candidates[0]["account_no"] for r in rows.values() if r.candidates}
    holders = dict(
        conn.execute(
            select(accounts.c.account_no, accounts.c.payer_name).where(
                accounts.c.account_no.in_(sorted(best))
            )
        ).all()
    ) if best else {}  # fmt: skip
    return {i: (r, holders) for i, r in rows.items()}


def _row(found: tuple[Any, dict[str, str]], today: date) -> QueueRow:
    r, holders = found
    cands = r.candidates or []
    best = None
    if cands:
        c = cands[0]
        holder = holders.get(c["account_no"])
        best = CandidateView(c["account_no"], float(c["score"]), c["reason"], holder)
    return QueueRow(
        item_id=r.id,
        payment_id=r.payment_id,
        state=r.state,
        reason=r.reason,
        reason_text=describe_reason(r.reason),
        business_day=r.business_day,
        age_days=(today - r.business_day).days,
        channel=r.channel,
        source=r.source,
        file_name=r.filename,
        raw_file_id=r.raw_file_id,
        amount=r.amount,
        debtor_name=r.debtor_name,
        debtor_iban=r.debtor_iban,
        remittance=r.remittance,
        candidates=len(cands),
        best=best,
        claimed_by=r.claimed_by,
        version=r.version,
        created_at=r.created_at,
    )


def filter_choices(engine: Engine) -> dict[str, list[str]]:
    """The channels and sources that have open items, for the filter drop-downs."""
    open_ = review_items.c.state == ReviewState.OPEN.value
    with reading(engine) as conn:
        channels = conn.execute(select(review_items.c.channel).where(open_).distinct())
        sources = conn.execute(select(review_items.c.source).where(open_).distinct())
        return {
            "channels": sorted(c for c in channels.scalars() if c),
            "sources": sorted(c for c in sources.scalars() if c),
        }
