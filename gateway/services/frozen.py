"""A closed day's exports as stored at its close (see ``day_close``): served byte for byte."""

from __future__ import annotations

import hashlib
import zlib
from datetime import date

from sqlalchemy import Connection, select

from schemas.tables import day_exports


def frozen_export(conn: Connection, day: date, name: str) -> bytes | None:
    """The stored bytes of a closed day's export, or None while the day is open."""
    row = conn.execute(
        select(day_exports.c.content, day_exports.c.sha256).where(
            day_exports.c.day == day, day_exports.c.name == name
        )
    ).first()
    if row is None:
        return None
    data = zlib.decompress(row.content)
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise RuntimeError(f"stored export {name} of {day} does not match its sha256")
    return data
