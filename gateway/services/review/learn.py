"""Learning from decisions (filled in by the learning step): evidence per resolution."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection

from gateway.services.review.structs import ItemState
from reconciliation.resolve import Resolution


def after_action(
    conn: Connection, item: ItemState, res: Resolution, action_id: int, now: datetime
) -> None:
    """Record what a resolution teaches (and forget what an undo takes back)."""
    return None


def after_bulk(conn: Connection, done: list[tuple[ItemState, Resolution]], now: datetime) -> None:
    """The evidence of a bulk action's resolutions, set-based."""
    return None
