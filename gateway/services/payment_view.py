"""One payment as the workspace shows it, and an account's recent payments: where a person
reaches a payment the matcher placed automatically (it never was a review item) and asks to
take it back (``review.unmatch``, always four-eyes).

A payment has no review item version; its page's version is the number of its allocation
rows (``payment_version``): rows are append-only, so an undo, an unmatch or anything else
that moves its money changes it, and a form shown before that is a conflict.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine, func, select

from gateway.db import reading
from gateway.errors import NotFound
from gateway.services.allocation_names import named_allocations
from reconciliation.model import PaymentStatus
from schemas.tables import (
    accounts,
    allocations,
    approvals,
    invoices,
    payments,
    review_items,
    services,
)

RECENT = 20


class RowView(msgspec.Struct, frozen=True):
    id: int
    account_no: str
    invoice_no: str | None
    service_code: str | None
    amount: int  # bani; negative on a compensating row
    kind: str
    business_day: date
    created_by: str
    reverses_id: int | None


class PaymentView(msgspec.Struct, frozen=True):
    payment: dict[str, Any]  # every column of the payment row
    rows: list[RowView]
    version: int
    item_id: int | None  # its review item: a payment resolved in review is undone there
    pending_approval: int | None  # a request waiting for a supervisor
    pending_by: str | None
    why_not: str | None  # why it cannot be unmatched, None when it can

    @property
    def unmatchable(self) -> bool:
        return self.why_not is None


class PaymentLine(msgspec.Struct, frozen=True):
    id: int
    business_day: date
    amount: int
    channel: str
    status: str
    reason: str | None
    debtor_name: str | None
    item_id: int | None
    created_at: datetime


def payment_version(conn: Connection, payment_id: int) -> int:
    """How many allocation rows the payment has (append-only: any change adds some)."""
    a = allocations
    return int(conn.execute(select(func.count()).where(a.c.payment_id == payment_id)).scalar_one())


def payment_view(engine: Engine, payment_id: int) -> PaymentView:
    with reading(engine) as conn:
        pay = conn.execute(select(payments).where(payments.c.id == payment_id)).first()
        if pay is None:
            raise NotFound(f"no payment {payment_id}")
        a = allocations
        rows = [
            RowView(*r)
            for r in conn.execute(
                select(
                    a.c.id,
                    accounts.c.account_no,
                    invoices.c.invoice_no,
                    services.c.code,
                    a.c.amount,
                    a.c.kind,
                    a.c.business_day,
                    a.c.created_by,
                    a.c.reverses_id,
                )
                .select_from(named_allocations())
                .where(a.c.payment_id == payment_id)
                .order_by(a.c.id)
            )
        ]
        item_id = conn.execute(
            select(func.max(review_items.c.id)).where(review_items.c.payment_id == payment_id)
        ).scalar()
        pending = conn.execute(
            select(approvals.c.id, approvals.c.requested_by).where(
                approvals.c.payment_id == payment_id, approvals.c.status == "pending"
            )
        ).first()
    held = sum(r.amount for r in rows)
    why_not = (
        f"it is {pay.status}, not allocated"
        if pay.status != PaymentStatus.ALLOCATED
        else f"it was resolved in review: undo item {item_id}"
        if item_id is not None
        else f"request {pending.id} waits for a supervisor"
        if pending is not None
        else "no allocation left to take back"
        if held == 0
        else None
    )
    return PaymentView(
        payment=dict(pay._mapping),
        rows=rows,
        version=len(rows),
        item_id=item_id,
        pending_approval=pending.id if pending else None,
        pending_by=pending.requested_by if pending else None,
        why_not=why_not,
    )


def account_payments(conn: Connection, account_no: str, limit: int = RECENT) -> list[PaymentLine]:
    """The account's latest payments placed on it (by ``payments.account_no``, indexed; a
    payment split across accounts names none and is reached from its item)."""
    p = payments
    item = (
        select(func.max(review_items.c.id))
        .where(review_items.c.payment_id == p.c.id)
        .scalar_subquery()
    )
    rows = conn.execute(
        select(
            p.c.id,
            p.c.business_day,
            p.c.amount,
            p.c.channel,
            p.c.status,
            p.c.reason,
            p.c.debtor_name,
            item.label("item_id"),
            p.c.created_at,
        )
        .where(p.c.account_no == account_no)
        .order_by(p.c.id.desc())
        .limit(limit)
    ).all()
    return [PaymentLine(*r) for r in rows]
