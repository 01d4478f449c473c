"""Settlement of collectors' lump sums: pair open registries with pending statement credits.

``settlements`` is workflow state (one row per registry, rewritten until settled), not
money: allocations are untouched here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, insert, or_, select, update

from reconciliation.model import Channel, PaymentStatus
from reconciliation.plan import registry_batches
from reconciliation.review import ReasonCode, ReviewState
from reconciliation.service.load import chunks
from reconciliation.settlement import (
    Collector,
    Credit,
    RegistryBatch,
    SettlementLine,
    SettlementStatus,
    settle,
)
from schemas.tables import payments, review_items, settlements

REGISTRY_CHANNELS = (Channel.POST, Channel.TERMINAL, Channel.COMPENSATION, Channel.BANK_ITEMISED)
#: An API agent (a bank, a terminal network) that settles its day of payments with one
#: transfer is configured as a collector whose code is the agent's name: its day of API
#: payments (reversed ones excluded) is then a registry like a post office's.
API_CHANNELS = ("bank_api", "terminal")
SETTLEMENT_HORIZON_DAYS = 35


def settle_pending(conn: Connection, collectors: Sequence[Collector], *, today: date) -> int:
    """Pair every open registry with the pending lump sums; returns how many registries this
    pass settled (paired with a lump sum).

    Runs after each ingest, so a registry and its lump sum settle in whichever order they
    arrive. ``settlements`` is workflow state (one row per registry, rewritten until settled),
    not money: allocations are untouched here. A paired lump sum becomes ``settled`` (its
    money is allocated through the registry's lines, never again) and its
    ``SETTLEMENT_PENDING`` review item leaves the queue as ``resolved_settled``.
    """
    since = today - timedelta(days=SETTLEMENT_HORIZON_DAYS)
    done = {
        (c, b)
        for c, b in conn.execute(
            select(settlements.c.collector, settlements.c.batch_ref).where(
                settlements.c.status != SettlementStatus.UNSETTLED
            )
        )
    }
    agents = sorted({c.code for c in collectors})
    batches = [
        b for b in _registry_batches(conn, since, agents) if (b.collector, b.batch_ref) not in done
    ]
    credits = _pending_credits(conn, since)
    if not batches and not credits:
        return 0
    lines, _ = settle(batches, credits, collectors)
    now = datetime.now(UTC)
    keys = [(ln.collector, ln.batch_ref) for ln in lines]
    for c, b in keys:
        conn.execute(
            settlements.delete().where(settlements.c.collector == c, settlements.c.batch_ref == b)
        )
    if lines:
        conn.execute(insert(settlements), [_settlement_row(ln, now) for ln in lines])
    paired = [ln.credit_id for ln in lines if ln.credit_id is not None]
    for chunk in chunks(paired):
        conn.execute(
            update(payments)
            .where(payments.c.id.in_(chunk))
            .values(status=PaymentStatus.SETTLED, reason=ReasonCode.SETTLEMENT)
        )
        _close_review_items(conn, chunk, now)
    return len(paired)


def _close_review_items(conn: Connection, payment_ids: Sequence[int], now: datetime) -> None:
    """The lump sums' open review items are resolved by the settlement, not by a person."""
    r = review_items
    conn.execute(
        update(r)
        .where(r.c.payment_id.in_(payment_ids), r.c.state == ReviewState.OPEN)
        .values(
            state=ReviewState.RESOLVED_SETTLED,
            resolved_at=now,
            resolved_by="settlement",
            claimed_by=None,
            claimed_at=None,
            version=r.c.version + 1,
        )
    )


def _registry_batches(conn: Connection, since: date, agents: Sequence[str]) -> list[RegistryBatch]:
    p = payments
    from_files = and_(p.c.agent_id.is_(None), p.c.channel.in_(REGISTRY_CHANNELS))
    from_agents = and_(
        p.c.agent_id.is_not(None),
        p.c.channel.in_(API_CHANNELS),
        p.c.collector.in_(agents),
        p.c.status != PaymentStatus.REVERSED,
    )
    rows = conn.execute(
        select(p.c.collector, p.c.batch_ref, p.c.business_day, p.c.amount).where(
            or_(from_files, from_agents),
            p.c.collector.is_not(None),
            p.c.reversal.is_(False),
            p.c.business_day >= since,
        )
    ).all()
    return registry_batches(tuple(r) for r in rows)


def _pending_credits(conn: Connection, since: date) -> list[Credit]:
    p = payments
    rows = conn.execute(
        select(
            p.c.id, p.c.collector, p.c.value_date, p.c.business_day, p.c.amount, p.c.remittance
        ).where(
            p.c.channel == Channel.SETTLEMENT,
            p.c.status == PaymentStatus.REVIEW,
            p.c.business_day >= since,
        )
    ).all()
    return [
        Credit(r.id, r.collector, r.value_date or r.business_day, r.amount, r.remittance or "")
        for r in rows
    ]


def _settlement_row(ln: SettlementLine, now: datetime) -> dict[str, Any]:
    return {
        "collector": ln.collector,
        "batch_ref": ln.batch_ref,
        "registry_day": ln.registry_day,
        "registry_total": ln.registry_total,
        "registry_count": ln.registry_count,
        "statement_payment_id": ln.credit_id,
        "statement_amount": ln.credit_amount,
        "difference": ln.difference,
        "status": ln.status,
        "business_day": ln.registry_day,
        "created_at": now,
    }
