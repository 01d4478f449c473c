"""Reading the queue for scripts and the JSON API: a page of items, one item with its history.

The workspace pages have their own richer queue (filters, search, keyset paging); these are
the plain reads the CLI and the API's action responses need.
"""

from __future__ import annotations

from datetime import datetime

import msgspec
from sqlalchemy import Engine, select

from gateway.db import reading
from gateway.errors import NotFound
from gateway.services.review import store
from gateway.services.review.structs import ItemState
from schemas.tables import payments, review_actions, review_items

ri, p = review_items, payments


class HistoryEntry(msgspec.Struct, frozen=True):
    id: int
    at: datetime
    actor: str
    action: str
    from_state: str
    to_state: str
    payload: dict


class PaymentFacts(msgspec.Struct, frozen=True):
    business_day: str
    channel: str
    source: str
    remittance: str | None
    debtor_name: str | None
    debtor_iban: str | None


class ItemDetail(msgspec.Struct, frozen=True):
    item: ItemState
    payment: PaymentFacts
    history: list[HistoryEntry]


def list_items(
    engine: Engine,
    *,
    state: str = "open",
    reason: str | None = None,
    after_id: int = 0,
    limit: int = 50,
) -> list[ItemState]:
    """Items in ``state`` (``any`` for all), oldest first, keyset-paged by id."""
    with reading(engine) as conn:
        q = (
            select(ri.c.id)
            .where(ri.c.id > after_id)
            .order_by(ri.c.id)
            .limit(max(1, min(limit, 1000)))
        )
        if state != "any":
            q = q.where(ri.c.state == state)
        if reason:
            q = q.where(ri.c.reason == reason)
        return store.load_items(conn, list(conn.execute(q).scalars()))


def show(engine: Engine, item_id: int) -> ItemDetail:
    with reading(engine) as conn:
        item = store.load_item(conn, item_id)
        if item is None:
            raise NotFound(f"no review item {item_id}")
        pay = conn.execute(
            select(
                p.c.business_day,
                p.c.channel,
                p.c.source,
                p.c.remittance,
                p.c.debtor_name,
                p.c.debtor_iban,
            ).where(p.c.id == item.payment_id)
        ).one()
        ra = review_actions
        rows = conn.execute(
            select(ra).where(ra.c.review_item_id == item_id).order_by(ra.c.id)
        ).all()
    return ItemDetail(
        item=item,
        payment=PaymentFacts(
            pay.business_day.isoformat(),
            pay.channel,
            pay.source,
            pay.remittance,
            pay.debtor_name,
            pay.debtor_iban,
        ),
        history=[
            HistoryEntry(r.id, r.created_at, r.actor, r.action, r.from_state, r.to_state, r.payload)
            for r in rows
        ],
    )
