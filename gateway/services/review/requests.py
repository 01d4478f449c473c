"""Parking an action for four-eyes: the ``approvals`` row, and the item set to wait.

Apart from ``approvals`` (which decides) so that the actions and bulk, which ask, do not
import the module that runs them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, insert
from sqlalchemy.exc import IntegrityError

from gateway.errors import Conflict
from gateway.services.review import store
from gateway.services.review.structs import (
    ActionResult,
    ItemState,
    Params,
    kind_of,
    params_json,
)
from reconciliation.money import format_amount
from reconciliation.resolve import Resolution
from reconciliation.review import ActionKind, ReviewState
from schemas.tables import approvals

a = approvals


def insert_request(
    conn: Connection,
    *,
    action: str,
    params: dict,
    amount: int,
    summary: str,
    actor: str,
    now: datetime,
    item_id: int | None = None,
    payment_id: int | None = None,
) -> int:
    try:
        with conn.begin_nested():
            return conn.execute(
                insert(a)
                .values(
                    action=action,
                    review_item_id=item_id,
                    payment_id=payment_id,
                    amount=amount,
                    params=params,
                    summary=summary,
                    requested_by=actor,
                    requested_at=now,
                    status="pending",
                )
                .returning(a.c.id)
            ).scalar_one()
    except IntegrityError:
        what = f"item {item_id}" if item_id is not None else f"payment {payment_id}"
        raise Conflict(f"{what} already has a request waiting for approval") from None


def summary(res: Resolution, amount: int, payment_id: int) -> str:
    detail = ", ".join(f"{k}={v}" for k, v in res.detail.items() if k != "rows")
    return f"{res.action.value} payment {payment_id} ({format_amount(amount)} MDL): {detail}"


def request_for_item(
    conn: Connection,
    item: ItemState,
    params: Params,
    res: Resolution,
    actor: str,
    now: datetime,
) -> ActionResult:
    """Park a checked action for approval; a resolution moves the item to awaiting."""
    kind = kind_of(params)
    approval_id = insert_request(
        conn,
        action=kind.value,
        params=params_json(params),
        amount=item.amount,
        summary=summary(res, item.amount, item.payment_id),
        actor=actor,
        now=now,
        item_id=item.id,
    )
    core = store.core_item(item)
    if kind.resolves:
        after = replace(
            core, state=ReviewState.AWAITING_APPROVAL, version=core.version + 1, claimed_by=None
        )
    else:  # an undo leaves the item as it is, one version on (stale forms conflict)
        after = replace(core, version=core.version + 1)
    store.write_item(conn, item, after, now)
    store.audit(
        conn,
        item.id,
        actor,
        ActionKind.REQUEST_APPROVAL.value,
        {"approval_id": approval_id, "action": kind.value, **res.detail},
        item.state,
        after.state.value,
        now,
    )
    return ActionResult(
        action=kind.value,
        outcome="awaiting_approval",
        message=f"{kind.value} of payment {item.payment_id} waits for a supervisor "
        f"(request {approval_id})",
        item_id=item.id,
        payment_id=item.payment_id,
        state=after.state.value,
        version=after.version,
        payment_status=item.payment_status,
        approval_id=approval_id,
    )
