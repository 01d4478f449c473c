"""Four-eyes: what waits for a supervisor, and what happens when they decide.

Waiting: a resolution above the four-eyes amount (the item shows ``awaiting_approval`` and
nobody can act on it meanwhile), every undo, every unmatch of an automatic allocation, and
every bulk action. A pending request is unique per item and per payment (partial unique
indexes), so a second request is a conflict, not a second queue entry.

Deciding: ``approve`` (a supervisor other than the requester) runs the stored action as the
requester, with the approver recorded beside it (audit payload, ``refunds.approved_by``);
the action re-checks everything against the data as it is at approval time. ``reject``
(a supervisor) or a withdrawal (the requester) puts a waiting item back to ``open``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

import msgspec
from sqlalchemy import Connection, Engine, select, update

from gateway.db import AnyRow
from gateway.errors import Conflict, NotFound, UserError
from gateway.services.payment_view import payment_version
from gateway.services.people import Actor, Role
from gateway.services.review import bulk, learn, store, tokens
from gateway.services.review.actions import apply, compute, locked_item
from gateway.services.review.bulk import Progress
from gateway.services.review.requests import insert_request, summary
from gateway.services.review.structs import (
    DEFAULT_CONFIG,
    ActionResult,
    Approval,
    ReviewConfig,
    UnmatchParams,
    params_from_json,
    params_json,
)
from reconciliation import resolve
from reconciliation.resolve import Resolution
from reconciliation.review import ActionKind, ReviewError, ReviewState
from schemas.tables import approvals, payments, raw_files

a = approvals


# --- unmatch: an automatic allocation taken back -----------------------------------------------


def _unmatch_resolution(conn: Connection, params: UnmatchParams, actor: str) -> Resolution:
    pay = conn.execute(
        select(
            payments.c.id,
            payments.c.amount,
            payments.c.status,
            raw_files.c.status.label("file_status"),
        )
        .select_from(payments.outerjoin(raw_files, raw_files.c.id == payments.c.raw_file_id))
        .where(payments.c.id == params.payment_id)
    ).first()
    if pay is None:
        raise NotFound(f"no payment {params.payment_id}")
    # a file found bad late is undone whole: nobody acts on its payments before it is applied
    if pay.file_status not in (None, "applied"):
        raise UserError(
            f"payment {pay.id} belongs to a file still being applied; try again once it is"
        )
    item_id = store.item_id_of_payment(conn, pay.id)
    if item_id is not None:
        raise UserError(
            f"payment {pay.id} was resolved through review item {item_id}: undo that item"
        )
    try:
        return resolve.unmatch(
            pay.id,
            int(pay.amount),
            pay.status,
            store.posted_rows(conn, pay.id),
            actor=actor,
            reason=params.reason,
        )
    except ReviewError as exc:
        raise UserError(str(exc)) from exc


def unmatch(
    engine: Engine,
    actor: Actor,
    payment_id: int,
    *,
    reason: str,
    form_token: str | None = None,
    expected_version: int | None = None,
) -> ActionResult:
    """Ask to take an automatic allocation back into the queue (always four-eyes).

    ``expected_version``: the payment's version as the person saw it (``payment_version``);
    a payment whose money moved since is a conflict."""
    actor.require(Role.ACCOUNTANT)
    params = UnmatchParams(payment_id, reason)
    with engine.begin() as conn:
        replay = tokens.take_token(conn, form_token, actor.username, ActionKind.UNMATCH.value)
        if replay is not None:
            return replay
        if expected_version is not None and payment_version(conn, payment_id) != expected_version:
            raise Conflict(f"payment {payment_id} changed since you opened it; look again")
        res = _unmatch_resolution(conn, params, actor.username)
        approval_id = insert_request(
            conn,
            action=ActionKind.UNMATCH.value,
            params=params_json(params),
            amount=res.item.amount,
            summary=summary(res, res.item.amount, payment_id),
            actor=actor.username,
            now=store.now_utc(),
            payment_id=payment_id,
        )
        result = ActionResult(
            action=ActionKind.UNMATCH.value,
            outcome="awaiting_approval",
            message=f"unmatch of payment {payment_id} waits for a supervisor "
            f"(request {approval_id})",
            payment_id=payment_id,
            payment_status="allocated",
            approval_id=approval_id,
        )
        tokens.finish_token(conn, form_token, result)
    return result


def _run_unmatch(
    conn: Connection,
    params: UnmatchParams,
    actor: str,
    approved_by: str,
    now: datetime,
    timezone: str,
) -> ActionResult:
    res = _unmatch_resolution(conn, params, actor)
    day = store.correction_day(conn, timezone)
    item_id = store.insert_item(conn, params.payment_id, res.item, now)
    store.post_compensations(
        conn, params.payment_id, res.compensations, day=day, actor=actor, now=now
    )
    store.set_payment(conn, params.payment_id, res.status, None, res.reason)
    store.audit(
        conn,
        item_id,
        actor,
        ActionKind.UNMATCH.value,
        {**res.detail, "approved_by": approved_by, "business_day": day.isoformat()},
        "allocated",
        res.item.state.value,
        now,
    )
    learn.placement_taken_back(conn, params.payment_id, actor, now)
    return ActionResult(
        action=ActionKind.UNMATCH.value,
        outcome="done",
        message=f"payment {params.payment_id} is back in the queue as item {item_id}",
        item_id=item_id,
        payment_id=params.payment_id,
        state=res.item.state.value,
        version=res.item.version,
        payment_status=res.status.value,
    )


# --- deciding -------------------------------------------------------------------------------


def _load(conn: Connection, approval_id: int) -> Approval:
    q = select(a).where(a.c.id == approval_id)
    if conn.dialect.name == "postgresql":
        q = q.with_for_update()
    row = conn.execute(q).first()
    if row is None:
        raise NotFound(f"no approval request {approval_id}")
    return _approval(row)


def _approval(row: AnyRow) -> Approval:
    return Approval(
        id=row.id,
        action=row.action,
        amount=int(row.amount),
        summary=row.summary,
        requested_by=row.requested_by,
        requested_at=row.requested_at,
        status=row.status,
        review_item_id=row.review_item_id,
        payment_id=row.payment_id,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_note=row.decision_note,
    )


def _decide(
    conn: Connection, ap: Approval, status: str, actor: str, note: str, now: datetime
) -> None:
    done = conn.execute(
        update(a)
        .where(a.c.id == ap.id, a.c.status == "pending")
        .values(status=status, decided_by=actor, decided_at=now, decision_note=note or None)
    )
    if done.rowcount != 1:
        raise Conflict(f"request {ap.id} was decided by someone else; reload")


def approve(
    engine: Engine,
    actor: Actor,
    approval_id: int,
    *,
    note: str = "",
    form_token: str | None = None,
    config: ReviewConfig = DEFAULT_CONFIG,
    progress: Progress | None = None,
) -> ActionResult:
    """A second person (supervisor, never the requester) lets the waiting action run.

    A bulk request runs after the decision is committed, batch by batch (``progress`` is
    called after each); everything else runs in the deciding transaction."""
    actor.require(Role.SUPERVISOR)
    with engine.begin() as conn:
        replay = tokens.take_token(conn, form_token, actor.username, ActionKind.APPROVE.value)
        if replay is not None:
            return replay
        ap = _load(conn, approval_id)
        if ap.status != "pending":
            raise Conflict(f"request {ap.id} is already {ap.status} (by {ap.decided_by})")
        try:
            resolve.check_approver(ap.requested_by, actor.username)
        except ReviewError as exc:
            raise UserError(str(exc)) from exc
        now = store.now_utc()
        _decide(conn, ap, "approved", actor.username, note, now)
        raw = conn.execute(select(a.c.params).where(a.c.id == ap.id)).scalar_one()
        if raw.get("type") != ActionKind.BULK.value:
            result = _run(conn, ap, raw, actor.username, now, config)
            conn.execute(
                update(a).where(a.c.id == ap.id).values(result=msgspec.to_builtins(result))
            )
            tokens.finish_token(conn, form_token, result)
            return result
    result = bulk.run_approved(engine, ap, raw, actor.username, config, progress)
    with engine.begin() as conn:
        tokens.finish_token(conn, form_token, result)
    return result


def _run(
    conn: Connection,
    ap: Approval,
    raw: dict,
    approver: str,
    now: datetime,
    config: ReviewConfig,
) -> ActionResult:
    params = params_from_json(raw)
    if isinstance(params, UnmatchParams):
        return _run_unmatch(conn, params, ap.requested_by, approver, now, config.timezone)
    assert ap.review_item_id is not None
    item = locked_item(conn, ap.review_item_id, None)
    res = compute(conn, item, params, ap.requested_by, config, approved=True)
    store.audit(
        conn,
        item.id,
        approver,
        ActionKind.APPROVE.value,
        {"approval_id": ap.id, "action": ap.action},
        item.state,
        item.state,
        now,
    )
    return apply(
        conn,
        item,
        res,
        actor=ap.requested_by,
        approved_by=approver,
        now=now,
        timezone=config.timezone,
    )


def reject(
    engine: Engine,
    actor: Actor,
    approval_id: int,
    *,
    note: str = "",
    form_token: str | None = None,
) -> ActionResult:
    """A supervisor refuses the request, or the requester withdraws it; a waiting item is
    open again."""
    actor.require(Role.ACCOUNTANT)
    with engine.begin() as conn:
        replay = tokens.take_token(conn, form_token, actor.username, ActionKind.REJECT.value)
        if replay is not None:
            return replay
        ap = _load(conn, approval_id)
        if ap.status != "pending":
            raise Conflict(f"request {ap.id} is already {ap.status} (by {ap.decided_by})")
        own = ap.requested_by == actor.username
        if not own:
            actor.require(Role.SUPERVISOR)
        now = store.now_utc()
        _decide(conn, ap, "withdrawn" if own else "rejected", actor.username, note, now)
        state, version = None, None
        if ap.review_item_id is not None:
            item = locked_item(conn, ap.review_item_id, None)
            core = store.core_item(item)
            back = ReviewState.OPEN if core.state is ReviewState.AWAITING_APPROVAL else core.state
            after = replace(core, state=back, version=core.version + 1)
            store.write_item(conn, item, after, now)
            store.audit(
                conn,
                item.id,
                actor.username,
                ActionKind.REJECT.value,
                {"approval_id": ap.id, "action": ap.action, "note": note},
                item.state,
                back.value,
                now,
            )
            state, version = back.value, after.version
        result = ActionResult(
            action=ActionKind.REJECT.value,
            outcome="done",
            message=f"request {ap.id} " + ("withdrawn" if own else "rejected"),
            item_id=ap.review_item_id,
            payment_id=ap.payment_id,
            state=state,
            version=version,
            approval_id=ap.id,
        )
        tokens.finish_token(conn, form_token, result)
    return result


def list_approvals(engine: Engine, *, status: str = "pending", limit: int = 200) -> list[Approval]:
    """Requests by status, oldest first (what a supervisor works through)."""
    from gateway.db import reading

    with reading(engine) as conn:
        rows = conn.execute(
            select(a).where(a.c.status == status).order_by(a.c.requested_at, a.c.id).limit(limit)
        ).all()
    return [_approval(r) for r in rows]
