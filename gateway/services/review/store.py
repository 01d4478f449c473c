"""The review service's reads and writes: items under their version, the audit trail, money
rows (appended, never updated), refunds, form tokens and the day a correction lands on.

Every function takes the caller's connection: an action is one transaction, all or nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import msgspec
from sqlalchemy import Connection, ScalarSelect, insert, select, update

from gateway.services.allocation_names import named_allocations
from gateway.services.review.structs import Candidate, ItemConflict, ItemState
from reconciliation.fold import search_text
from reconciliation.model import AllocationRow, PaymentStatus
from reconciliation.model import Candidate as CoreCandidate
from reconciliation.resolve import Refund
from reconciliation.review import ReasonCode, ReviewItem, ReviewState
from reconciliation.service import RefIds, business_today, load_accounts, load_open_lines
from schemas.tables import (
    accounts,
    allocations,
    approvals,
    business_days,
    invoices,
    payments,
    providers,
    refunds,
    review_actions,
    review_items,
    services,
)

ri, p = review_items, payments

_ITEM_COLUMNS = (
    ri.c.id,
    ri.c.payment_id,
    p.c.amount,
    ri.c.reason,
    ri.c.state,
    ri.c.version,
    ri.c.candidates,
    ri.c.claimed_by,
    ri.c.claimed_at,
    ri.c.resolved_by,
    ri.c.resolved_at,
    ri.c.note,
    p.c.status,
    p.c.account_no,
)


def _pending_approval() -> ScalarSelect[Any]:
    return (
        select(approvals.c.id)
        .where(approvals.c.review_item_id == ri.c.id, approvals.c.status == "pending")
        .scalar_subquery()
    )


def load_item(conn: Connection, item_id: int, *, lock: bool = False) -> ItemState | None:
    """The item with its payment; ``lock`` takes the row lock first (PostgreSQL)."""
    q = (
        select(*_ITEM_COLUMNS, _pending_approval())
        .select_from(ri.join(p, p.c.id == ri.c.payment_id))
        .where(ri.c.id == item_id)
    )
    if lock and conn.dialect.name == "postgresql":
        q = q.with_for_update(of=ri)
    row = conn.execute(q).first()
    return None if row is None else _item_state(row)


def load_items(conn: Connection, item_ids: Collection[int]) -> list[ItemState]:
    """Several items in one query, in id order."""
    if not item_ids:
        return []
    q = (
        select(*_ITEM_COLUMNS, _pending_approval())
        .select_from(ri.join(p, p.c.id == ri.c.payment_id))
        .where(ri.c.id.in_(sorted(set(item_ids))))
        .order_by(ri.c.id)
    )
    return [_item_state(row) for row in conn.execute(q)]


def _item_state(row: Any) -> ItemState:
    (
        iid,
        pid,
        amount,
        reason,
        state,
        version,
        cands,
        claimed_by,
        claimed_at,
        resolved_by,
        resolved_at,
        note,
        pstatus,
        account_no,
        pending,
    ) = row
    return ItemState(
        id=iid,
        payment_id=pid,
        amount=int(amount),
        reason=reason,
        state=state,
        version=int(version),
        candidates=[Candidate(c["account_no"], float(c["score"]), c["reason"]) for c in cands],
        claimed_by=claimed_by,
        claimed_at=claimed_at,
        resolved_by=resolved_by,
        resolved_at=resolved_at,
        note=note,
        payment_status=pstatus,
        account_no=account_no,
        pending_approval_id=pending,
    )


def item_id_of_payment(conn: Connection, payment_id: int) -> int | None:
    return conn.execute(select(ri.c.id).where(ri.c.payment_id == payment_id)).scalar()


def core_item(item: ItemState) -> ReviewItem:
    """The pure core's snapshot of an item."""
    try:
        reason = ReasonCode(item.reason)
    except ValueError:  # a reason from elsewhere (e.g. SETTLEMENT_PENDING): keep the item usable
        reason = ReasonCode.NO_REFERENCE
    return ReviewItem(
        payment_id=item.payment_id,
        amount=item.amount,
        reason=reason,
        candidates=tuple(CoreCandidate(c.account_no, c.score, c.reason) for c in item.candidates),
        state=ReviewState(item.state),
        resolved_by=item.resolved_by,
        note=item.note or "",
        version=item.version,
        claimed_by=item.claimed_by,
    )


def write_item(conn: Connection, before: ItemState, after: ReviewItem, now: datetime) -> None:
    """Store the item's new state; only if nobody changed it since ``before`` was read."""
    claimed_at = before.claimed_at if after.claimed_by == before.claimed_by else now
    values = {
        "state": after.state.value,
        "version": after.version,
        "claimed_by": after.claimed_by,
        "claimed_at": claimed_at if after.claimed_by else None,
        "resolved_by": after.resolved_by,
        "resolved_at": now if after.state.resolved else None,
        "note": after.note or None,
    }
    done = conn.execute(
        update(ri).where(ri.c.id == before.id, ri.c.version == before.version).values(**values)
    )
    if done.rowcount != 1:
        fresh = load_item(conn, before.id)
        raise ItemConflict(stale_message(before.id, fresh), fresh)


def stale_message(item_id: int, fresh: ItemState | None) -> str:
    if fresh is None:
        return f"review item {item_id} no longer exists"
    who = fresh.resolved_by or fresh.claimed_by
    return (
        f"review item {item_id} was changed by someone else: it is now {fresh.state}"
        + (f" ({who})" if who else "")
        + f", version {fresh.version}; reload and try again"
    )


def insert_item(conn: Connection, payment_id: int, item: ReviewItem, now: datetime) -> int:
    cands = [
        {"account_no": c.account_no, "score": c.score, "reason": c.reason} for c in item.candidates
    ]
    pay = conn.execute(
        select(p.c.debtor_name, p.c.debtor_iban, p.c.remittance, p.c.business_day, p.c.amount,
               p.c.channel, p.c.source).where(p.c.id == payment_id)
    ).one()  # fmt: skip
    return conn.execute(
        insert(ri)
        .values(
            payment_id=payment_id,
            reason=item.reason.value,
            candidates=cands,
            state=item.state.value,
            created_at=now,
            version=item.version,
            note=item.note or None,
            # the queue's folded search text and the payment's facts, as the ingest writes them
            search=search_text(pay.debtor_name, pay.debtor_iban, pay.remittance),
            business_day=pay.business_day,
            amount=pay.amount,
            channel=pay.channel,
            source=pay.source,
            best_score=round(item.candidates[0].score * 1000) if item.candidates else None,
        )
        .returning(ri.c.id)
    ).scalar_one()


def audit(
    conn: Connection,
    item_id: int,
    actor: str,
    action: str,
    payload: Mapping[str, object],
    from_state: str,
    to_state: str,
    now: datetime,
) -> int:
    """One row of the item's history: who, when, what (``payload``) and why."""
    return conn.execute(
        insert(review_actions)
        .values(
            review_item_id=item_id,
            actor=actor,
            action=action,
            payload=msgspec.to_builtins(dict(payload)),
            from_state=from_state,
            to_state=to_state,
            created_at=now,
        )
        .returning(review_actions.c.id)
    ).scalar_one()


def set_payment(
    conn: Connection,
    payment_id: int,
    status: PaymentStatus,
    account_no: str | None,
    reason: str | None,
) -> None:
    conn.execute(
        update(p)
        .where(p.c.id == payment_id)
        .values(status=status.value, account_no=account_no, reason=reason)
    )


# --- money rows --------------------------------------------------------------------------------


def correction_day(conn: Connection, timezone: str, today: date | None = None) -> date:
    """The day a correction made now counts for: today in ``timezone`` (``Settings.timezone``),
    or the first open day after it when today is already closed."""
    day = today or business_today(timezone)
    closed = set(
        conn.execute(
            select(business_days.c.day).where(
                business_days.c.day >= day, business_days.c.status == "closed"
            )
        ).scalars()
    )
    while day in closed:
        day += timedelta(days=1)
    return day


def account_status(conn: Connection, account_nos: Collection[str]) -> dict[str, str]:
    if not account_nos:
        return {}
    q = select(accounts.c.account_no, accounts.c.status).where(
        accounts.c.account_no.in_(sorted(set(account_nos)))
    )
    return dict(conn.execute(q).all())


def open_lines(conn: Connection, account_nos: Collection[str]) -> list:
    return [ln for group in load_open_lines(conn, set(account_nos)).values() for ln in group]


def post_rows(
    conn: Connection,
    placed: Sequence[tuple[int, AllocationRow]],
    *,
    day: date,
    actor: str,
    now: datetime,
) -> None:
    """Append (payment_id, row) pairs in one insert: ``payment`` on a line, ``advance``
    without one."""
    if not placed:
        return
    ids = load_accounts(conn, {r.account_no for _, r in placed})
    refs = RefIds.load(conn)
    conn.execute(
        insert(allocations),
        [
            {
                "payment_id": payment_id,
                "account_id": ids[r.account_no],
                "invoice_line_id": r.line_id,
                "service_id": refs.services.get(r.service_code) if r.service_code else None,
                "provider_id": refs.providers.get(r.provider_code) if r.provider_code else None,
                "amount": r.amount,
                "kind": "advance" if r.line_id is None else "payment",
                "business_day": day,
                "created_by": actor,
                "created_at": now,
            }
            for payment_id, r in placed
        ],
    )


def posted_rows(conn: Connection, payment_id: int) -> list[tuple[int, AllocationRow]]:
    """The payment's allocation rows that no compensating row points at yet, with their ids."""
    a = allocations
    compensated = select(a.c.reverses_id).where(
        a.c.payment_id == payment_id, a.c.reverses_id.is_not(None)
    )
    q = (
        select(
            a.c.id,
            accounts.c.account_no,
            a.c.invoice_line_id,
            invoices.c.invoice_no,
            services.c.code,
            providers.c.code,
            a.c.amount,
        )
        .select_from(named_allocations())
        .where(a.c.payment_id == payment_id, a.c.reverses_id.is_(None))
        .where(a.c.id.not_in(compensated))
        .order_by(a.c.id)
    )
    return [
        (aid, AllocationRow(acc, line, inv, svc, prov, int(amount)))
        for aid, acc, line, inv, svc, prov, amount in conn.execute(q)
    ]


def post_compensations(
    conn: Connection,
    payment_id: int,
    comps: Sequence[tuple[int, AllocationRow]],
    *,
    day: date,
    actor: str,
    now: datetime,
) -> None:
    """Append one ``correction`` row per compensated row, pointing at it (``reverses_id``)."""
    if not comps:
        return
    a = allocations
    originals = {
        r.id: r
        for r in conn.execute(
            select(a.c.id, a.c.account_id, a.c.invoice_line_id, a.c.service_id, a.c.provider_id)
            .where(a.c.payment_id == payment_id)
            .where(a.c.id.in_([aid for aid, _ in comps]))
        )
    }
    conn.execute(
        insert(a),
        [
            {
                "payment_id": payment_id,
                "account_id": originals[aid].account_id,
                "invoice_line_id": originals[aid].invoice_line_id,
                "service_id": originals[aid].service_id,
                "provider_id": originals[aid].provider_id,
                "amount": row.amount,
                "kind": "correction",
                "reverses_id": aid,
                "business_day": day,
                "created_by": actor,
                "created_at": now,
            }
            for aid, row in comps
        ],
    )


# --- refunds -----------------------------------------------------------------------------------


def insert_refund(
    conn: Connection,
    payment_id: int,
    refund: Refund,
    *,
    day: date,
    actor: str,
    approved_by: str | None,
    now: datetime,
) -> None:
    conn.execute(
        insert(refunds).values(
            payment_id=payment_id,
            amount=refund.amount,
            iban=refund.iban,
            name=refund.name,
            reason=refund.reason,
            business_day=day,
            created_by=actor,
            approved_by=approved_by,
            created_at=now,
        )
    )


def refund_ordered(conn: Connection, payment_id: int) -> bool:
    """True when the payment's live refund is already in a payment order (money has left)."""
    q = select(refunds.c.order_id).where(
        refunds.c.payment_id == payment_id, refunds.c.cancelled_at.is_(None)
    )
    return conn.execute(q).scalar() is not None


def cancel_refund(conn: Connection, payment_id: int, actor: str, now: datetime) -> None:
    conn.execute(
        update(refunds)
        .where(
            refunds.c.payment_id == payment_id,
            refunds.c.cancelled_at.is_(None),
            refunds.c.order_id.is_(None),
        )
        .values(cancelled_at=now, cancelled_by=actor)
    )


def now_utc() -> datetime:
    return datetime.now(UTC)
