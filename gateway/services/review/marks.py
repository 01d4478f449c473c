"""Claim, release and comment: the actions on one review item that move no money and need no
approval. Same contract as ``actions``: ``(engine, actor, item_id, ..., expected_version,
form_token)``; a claim or release moves the item's version, a comment does not.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine

from gateway.errors import UserError
from gateway.services.people import Actor, Role
from gateway.services.review import store, tokens
from gateway.services.review.actions import locked_item
from gateway.services.review.structs import ActionResult, ItemConflict
from reconciliation.review import ActionKind, ReviewError, ReviewItem, ReviewStateError
from reconciliation.review import claim as claim_item
from reconciliation.review import comment as comment_text
from reconciliation.review import release as release_item


def claim(
    engine: Engine,
    actor: Actor,
    item_id: int,
    *,
    take_over: bool = False,
    expected_version: int | None = None,
    form_token: str | None = None,
) -> ActionResult:
    """Show that ``actor`` works the item; someone else's claim is taken only explicitly."""
    return _mark(
        engine,
        actor,
        item_id,
        ActionKind.CLAIM,
        expected_version,
        form_token,
        lambda core: claim_item(core, actor.username, take_over=take_over),
    )


def release(
    engine: Engine,
    actor: Actor,
    item_id: int,
    *,
    expected_version: int | None = None,
    form_token: str | None = None,
) -> ActionResult:
    return _mark(
        engine,
        actor,
        item_id,
        ActionKind.RELEASE,
        expected_version,
        form_token,
        lambda core: release_item(core, actor.username),
    )


def _mark(
    engine: Engine,
    actor: Actor,
    item_id: int,
    kind: ActionKind,
    expected_version: int | None,
    form_token: str | None,
    step: Callable[[ReviewItem], ReviewItem],
) -> ActionResult:
    actor.require(Role.ACCOUNTANT)
    with engine.begin() as conn:
        replay = tokens.take_token(conn, form_token, actor.username, kind.value)
        if replay is not None:
            return replay
        item = locked_item(conn, item_id, expected_version)
        core = store.core_item(item)
        try:
            after = step(core)
        except ReviewStateError as exc:
            raise ItemConflict(str(exc), item) from exc
        except ReviewError as exc:
            raise UserError(str(exc)) from exc
        now = store.now_utc()
        if after != core:
            store.write_item(conn, item, after, now)
            payload = {"from": item.claimed_by, "to": after.claimed_by}
            store.audit(
                conn,
                item.id,
                actor.username,
                kind.value,
                payload,
                item.state,
                after.state.value,
                now,
            )
        result = ActionResult(
            action=kind.value,
            outcome="done",
            item_id=item.id,
            payment_id=item.payment_id,
            state=after.state.value,
            version=after.version,
            payment_status=item.payment_status,
            message=f"item {item.id} "
            + (f"claimed by {after.claimed_by}" if after.claimed_by else "released"),
        )
        tokens.finish_token(conn, form_token, result)
    return result


def comment(
    engine: Engine, actor: Actor, item_id: int, text: str, *, form_token: str | None = None
) -> ActionResult:
    """A note in the item's history, in any state; it changes no version (a comment never
    makes someone else's form stale)."""
    actor.require(Role.ACCOUNTANT)
    with engine.begin() as conn:
        replay = tokens.take_token(conn, form_token, actor.username, ActionKind.COMMENT.value)
        if replay is not None:
            return replay
        item = locked_item(conn, item_id, None)
        try:
            clean = comment_text(store.core_item(item), actor.username, text)
        except ReviewError as exc:
            raise UserError(str(exc)) from exc
        store.audit(
            conn,
            item.id,
            actor.username,
            ActionKind.COMMENT.value,
            {"text": clean},
            item.state,
            item.state,
            store.now_utc(),
        )
        result = ActionResult(
            action=ActionKind.COMMENT.value,
            outcome="done",
            item_id=item.id,
            payment_id=item.payment_id,
            state=item.state,
            version=item.version,
            payment_status=item.payment_status,
            message="comment added",
        )
        tokens.finish_token(conn, form_token, result)
    return result
