"""Form tokens: a resubmitted form or a retried request answers the first result and acts once.

One row per token (``form_tokens``), reserved at the start of the action's transaction and
given the action's answer at its end; a failed action rolls its token back with it.
"""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
from sqlalchemy import Connection, insert, select, update
from sqlalchemy.exc import IntegrityError

from gateway.services.review.structs import ActionResult, ItemConflict
from schemas.tables import form_tokens


def take_token(conn: Connection, token: str | None, actor: str, action: str) -> ActionResult | None:
    """Reserve ``token`` for this action; a token seen before returns its first answer.

    The insert runs in a savepoint: on PostgreSQL a concurrent twin waits for the first
    transaction, then fails on the key, and reads what the first one answered.
    """
    if not token:
        return None
    if len(token) > 64:
        raise ValueError("form token too long")
    now = datetime.now(UTC)
    try:
        with conn.begin_nested():
            conn.execute(
                insert(form_tokens).values(token=token, actor=actor, action=action, created_at=now)
            )
        return None
    except IntegrityError:
        row = conn.execute(
            select(form_tokens.c.actor, form_tokens.c.result).where(form_tokens.c.token == token)
        ).first()
        if row is None or row.result is None:
            raise ItemConflict("this form is being submitted already; reload", None) from None
        result = msgspec.convert(row.result, ActionResult)
        return msgspec.structs.replace(result, replayed=True)


def finish_token(conn: Connection, token: str | None, result: ActionResult) -> None:
    if token:
        conn.execute(
            update(form_tokens)
            .where(form_tokens.c.token == token)
            .values(result=msgspec.to_builtins(result))
        )
