"""The accountants' actions on one review item: one function each, one transaction each.

Every action takes ``(engine, actor, item_id, ..., expected_version, form_token)``:

- ``expected_version`` is the item's version the person saw; if the item changed since
  (someone else acted), the action is refused with ``ItemConflict`` carrying the fresh
  state. ``None`` skips the check (scripts that act on whatever is current).
- ``form_token`` makes a resubmitted form or a retried request harmless: the second call
  with the same token answers the first call's result (``replayed``) and changes nothing.

The item row is locked (PostgreSQL ``FOR UPDATE``; SQLite writers are serialised by
``BEGIN IMMEDIATE``) and its UPDATE is guarded by the version, so of two people acting at
once exactly one wins. Money is computed by the pure core (``reconciliation.resolve``) after
the lock, from the open lines as they are now, and appended (``store.post_rows``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import TypedDict, Unpack

from sqlalchemy import Connection, Engine, select

from gateway.errors import NotFound, UserError
from gateway.services.people import Actor, Role
from gateway.services.review import learn, store, tokens
from gateway.services.review.requests import request_for_item
from gateway.services.review.structs import (
    DEFAULT_CONFIG,
    ActionResult,
    AssignParams,
    DuplicateParams,
    ItemConflict,
    ItemState,
    NotUtilityParams,
    Params,
    ReturnParams,
    ReviewConfig,
    ServicePart,
    SharePart,
    SplitParams,
    UndoParams,
    kind_of,
)
from reconciliation import resolve
from reconciliation.model import PaymentStatus, ServiceAmount
from reconciliation.money import format_amount
from reconciliation.resolve import DuplicateOutcome, Original, Resolution, Share
from reconciliation.review import ActionKind, ReviewError, ReviewItem, ReviewState, ReviewStateError
from schemas.tables import payments


def locked_item(conn: Connection, item_id: int, expected_version: int | None) -> ItemState:
    item = store.load_item(conn, item_id, lock=True)
    if item is None:
        raise NotFound(f"no review item {item_id}")
    if expected_version is not None and item.version != expected_version:
        raise ItemConflict(store.stale_message(item_id, item), item)
    return item


def compute(
    conn: Connection,
    item: ItemState,
    params: Params,
    actor: str,
    config: ReviewConfig,
    *,
    approved: bool = False,
) -> Resolution:
    """The pure core's answer for ``params`` on ``item``, from the data as it is now.

    ``approved``: a resolution that waited for approval runs as if the item were open."""
    if item.payment_status == PaymentStatus.REVERSED:
        raise UserError(
            f"payment {item.payment_id} was reversed by its bank; there is nothing to resolve"
        )
    core = store.core_item(item)
    if approved and core.state is ReviewState.AWAITING_APPROVAL:
        core = replace(core, state=ReviewState.OPEN, claimed_by=None)
    try:
        return _compute(conn, core, params, actor, config)
    except ReviewStateError as exc:
        raise ItemConflict(str(exc), item) from exc
    except ReviewError as exc:
        raise UserError(str(exc)) from exc


def _compute(
    conn: Connection, core: ReviewItem, params: Params, actor: str, config: ReviewConfig
) -> Resolution:
    if isinstance(params, AssignParams):
        acc = params.account_no
        return resolve.assign(
            core,
            acc,
            store.open_lines(conn, [acc]),
            store.account_status(conn, [acc]),
            actor=actor,
            services=[ServiceAmount(s.service_code, s.amount) for s in params.services],
            invoices=params.invoices,
            policy=config.policy,
            note=params.note,
        )
    if isinstance(params, SplitParams):
        accs = {s.account_no for s in params.shares}
        return resolve.split(
            core,
            [Share(s.account_no, s.amount, s.service_code) for s in params.shares],
            store.open_lines(conn, accs),
            store.account_status(conn, accs),
            actor=actor,
            policy=config.policy,
            note=params.note,
        )
    if isinstance(params, ReturnParams):
        return resolve.return_to_payer(
            core, actor=actor, iban=params.iban, name=params.name, reason=params.reason
        )
    if isinstance(params, NotUtilityParams):
        return resolve.not_utility(core, actor=actor, reason=params.reason)
    if isinstance(params, DuplicateParams):
        orig = conn.execute(
            select(payments.c.id, payments.c.account_no, payments.c.status).where(
                payments.c.id == params.of_payment_id
            )
        ).first()
        if orig is None:
            raise NotFound(f"no payment {params.of_payment_id}")
        try:
            outcome = DuplicateOutcome(params.outcome)
        except ValueError:
            raise UserError("a duplicate goes to 'return' or to 'credit'") from None
        return resolve.duplicate_of(
            core,
            Original(orig.id, orig.account_no, orig.status),
            outcome,
            store.account_status(conn, [orig.account_no] if orig.account_no else []),
            actor=actor,
            iban=params.iban,
            name=params.name,
            reason=params.reason,
        )
    if isinstance(params, UndoParams):
        payment_id = int(core.payment_id)  # the core allows str ids; the gateway's are ints
        return resolve.undo(
            core,
            store.posted_rows(conn, payment_id),
            actor=actor,
            reason=params.reason,
            refund_ordered=store.refund_ordered(conn, payment_id),
        )
    raise UserError(f"unknown action {type(params).__name__}")


def apply(
    conn: Connection,
    item: ItemState,
    res: Resolution,
    *,
    actor: str,
    approved_by: str | None,
    now: datetime,
    timezone: str,
) -> ActionResult:
    """Write one resolution (or undo): the item under its version, money rows appended on the
    correction day, the payment's status, the refund, the audit row and the evidence."""
    store.write_item(conn, item, res.item, now)
    day = store.correction_day(conn, timezone)
    placed = [(item.payment_id, row) for row in res.rows]
    store.post_rows(conn, placed, day=day, actor=actor, now=now)
    store.post_compensations(
        conn, item.payment_id, res.compensations, day=day, actor=actor, now=now
    )
    reason = res.reason if res.reason is not None else "RESOLVED"
    store.set_payment(conn, item.payment_id, res.status, res.account_no, reason)
    if res.refund is not None:
        store.insert_refund(
            conn,
            item.payment_id,
            res.refund,
            day=day,
            actor=actor,
            approved_by=approved_by,
            now=now,
        )
    if res.cancel_refund:
        store.cancel_refund(conn, item.payment_id, actor, now)
    payload = {**res.detail, "business_day": day.isoformat()}
    if approved_by:
        payload["approved_by"] = approved_by
    action_id = store.audit(
        conn, item.id, actor, res.action.value, payload, item.state, res.item.state.value, now
    )
    learn.after_action(conn, item, res, action_id, actor, now)
    return ActionResult(
        action=res.action.value,
        outcome="done",
        message=_done_message(res, item),
        item_id=item.id,
        payment_id=item.payment_id,
        state=res.item.state.value,
        version=res.item.version,
        payment_status=res.status.value,
    )


def _done_message(res: Resolution, item: ItemState) -> str:
    amount = format_amount(item.amount)
    if res.action is ActionKind.UNDO:
        return f"payment {item.payment_id} ({amount}) is back in the queue"
    where = f" to {res.account_no}" if res.account_no else ""
    return f"payment {item.payment_id} ({amount}): {res.action.value}{where}"


class ActOptions(TypedDict, total=False):
    """What every action takes besides its own arguments (see the module's docstring)."""

    expected_version: int | None
    form_token: str | None
    config: ReviewConfig


def act(
    engine: Engine,
    actor: Actor,
    item_id: int,
    params: Params,
    *,
    expected_version: int | None = None,
    form_token: str | None = None,
    config: ReviewConfig = DEFAULT_CONFIG,
) -> ActionResult:
    """Any resolution or undo: done now, or waiting for approval (four-eyes)."""
    actor.require(Role.ACCOUNTANT)
    kind = kind_of(params)
    with engine.begin() as conn:
        replay = tokens.take_token(conn, form_token, actor.username, kind.value)
        if replay is not None:
            return replay
        item = locked_item(conn, item_id, expected_version)
        res = compute(conn, item, params, actor.username, config)
        now = store.now_utc()
        if resolve.needs_approval(kind, item.amount, config.four_eyes_above):
            result = request_for_item(conn, item, params, res, actor.username, now)
        else:
            result = apply(
                conn,
                item,
                res,
                actor=actor.username,
                approved_by=None,
                now=now,
                timezone=config.timezone,
            )
        tokens.finish_token(conn, form_token, result)
    return result


# --- one function per action (the names the pages, API and CLI call); each takes ActOptions ---


def assign(
    engine: Engine,
    actor: Actor,
    item_id: int,
    account_no: str,
    *,
    invoices: list[str] | None = None,
    services: list[ServicePart] | None = None,
    note: str = "",
    **options: Unpack[ActOptions],
) -> ActionResult:
    """The whole payment on one account: by the policy, onto chosen invoices, or by services."""
    params = AssignParams(account_no, invoices or [], services or [], note)
    return act(engine, actor, item_id, params, **options)


def split(
    engine: Engine,
    actor: Actor,
    item_id: int,
    shares: list[SharePart],
    *,
    note: str = "",
    **options: Unpack[ActOptions],
) -> ActionResult:
    """Across accounts and services; the shares add up to the payment exactly."""
    return act(engine, actor, item_id, SplitParams(shares, note), **options)


def return_to_payer(
    engine: Engine,
    actor: Actor,
    item_id: int,
    *,
    iban: str,
    name: str,
    reason: str,
    **options: Unpack[ActOptions],
) -> ActionResult:
    """Back to the payer's IBAN: a refund line for finance's payment orders."""
    return act(engine, actor, item_id, ReturnParams(iban, name, reason), **options)


def not_utility(
    engine: Engine, actor: Actor, item_id: int, *, reason: str, **options: Unpack[ActOptions]
) -> ActionResult:
    """Not a utility payment: rejected, nothing allocated."""
    return act(engine, actor, item_id, NotUtilityParams(reason), **options)


def mark_duplicate(
    engine: Engine,
    actor: Actor,
    item_id: int,
    *,
    of_payment_id: int,
    outcome: str,
    iban: str = "",
    name: str = "",
    reason: str = "",
    **options: Unpack[ActOptions],
) -> ActionResult:
    """A repeat of another payment: linked to it, then returned or kept as credit."""
    params = DuplicateParams(of_payment_id, outcome, iban, name, reason)
    return act(engine, actor, item_id, params, **options)


def undo(
    engine: Engine, actor: Actor, item_id: int, *, reason: str, **options: Unpack[ActOptions]
) -> ActionResult:
    """Take a resolution back (compensating rows, the item open again); always waits for a
    supervisor's approval."""
    return act(engine, actor, item_id, UndoParams(reason), **options)
