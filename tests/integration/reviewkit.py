"""Review items on the tiny city (``citykit``), written straight into the schema."""

from __future__ import annotations

from datetime import UTC, date, datetime
from itertools import count

from sqlalchemy import Engine, insert

from gateway.services.people import Actor, Role
from schemas import tables as t

DAY = date(2026, 11, 20)
ANA = Actor("ana", Role.ACCOUNTANT)
ION = Actor("ion", Role.ACCOUNTANT)
SUP = Actor("sup", Role.SUPERVISOR)
SUP2 = Actor("sup2", Role.SUPERVISOR)
VIEWER = Actor("vera", Role.VIEWER)
IBAN = "MD24AG000225100013104168"
_ext = count(1)


def add_review_payment(
    engine: Engine,
    amount: int,
    *,
    reason: str = "NAME_ONLY",
    candidates: tuple[str, ...] = (),
    debtor_name: str | None = "Ion Rusu",
    debtor_iban: str | None = None,
    remittance: str = "servicii comunale",
) -> int:
    """A payment in review with its open item; returns the item id."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        pid = conn.execute(
            insert(t.payments)
            .values(
                source="test",
                external_id=f"R{next(_ext)}",
                channel="transfer",
                business_day=DAY,
                amount=amount,
                status="review",
                reason=reason,
                debtor_name=debtor_name,
                debtor_iban=debtor_iban,
                remittance=remittance,
                created_at=now,
            )
            .returning(t.payments.c.id)
        ).scalar_one()
        return conn.execute(
            insert(t.review_items)
            .values(
                payment_id=pid,
                reason=reason,
                candidates=[{"account_no": a, "score": 0.9, "reason": "name"} for a in candidates],
                state="open",
                created_at=now,
            )
            .returning(t.review_items.c.id)
        ).scalar_one()


def add_allocated_payment(
    engine: Engine,
    rows: list[tuple[int, int, int | None, int | None]],
    account_no: str | None = None,
) -> int:
    """An automatically allocated payment: rows of (account_id, amount, line_id, service_id)."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        pid = conn.execute(
            insert(t.payments)
            .values(
                source="test",
                external_id=f"A{next(_ext)}",
                channel="transfer",
                business_day=DAY,
                amount=sum(r[1] for r in rows),
                status="allocated",
                account_no=account_no,
                created_at=now,
            )
            .returning(t.payments.c.id)
        ).scalar_one()
        conn.execute(
            insert(t.allocations),
            [
                {
                    "payment_id": pid,
                    "account_id": acc,
                    "invoice_line_id": line,
                    "service_id": svc,
                    "amount": amount,
                    "kind": "payment" if line else "advance",
                    "business_day": DAY,
                    "created_by": "matcher",
                    "created_at": now,
                }
                for acc, amount, line, svc in rows
            ],
        )
    return pid
