"""Signed-in sessions of the workspace, kept in the database (``web_sessions``).

The cookie carries a random 256-bit token; the table keeps only its sha256, so every server
process (several on PostgreSQL) sees the same sessions and a copy of the database opens none.
A session ends on log-out, after ``idle`` minutes without a request, after ``max_age`` hours
in any case, and when its person is disabled or their password reset. ``last_seen_at`` is
written at most once a minute, so reading pages costs no write. Flash messages (the one-line
"assigned to 1234567-4" after a redirect) ride on the session row and are shown once.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import Engine, delete, insert, or_, select, update

from gateway.db import as_utc, reading
from gateway.services.people import Actor, Role
from schemas.tables import users, web_sessions

TOUCH_EVERY = timedelta(seconds=60)


class Flash(msgspec.Struct, frozen=True, array_like=True):
    level: str  # info | success | warning | error
    text: str


class SignedIn(msgspec.Struct, frozen=True):
    """The person behind a request, as the pages and the workspace API see them."""

    session_id: str  # sha256 of the token
    user_id: int
    username: str
    role: Role
    display_name: str
    must_change_password: bool
    flashes: tuple[Flash, ...] = ()

    @property
    def actor(self) -> Actor:
        return Actor(username=self.username, role=self.role)


def session_id(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(engine: Engine, user_id: int, now: datetime | None = None) -> str:
    """A new session for the person; returns the token for the cookie (never stored)."""
    now = now or datetime.now(UTC)
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(
            insert(web_sessions).values(
                id=session_id(token), user_id=user_id, created_at=now, last_seen_at=now
            )
        )
    return token


def load_session(
    engine: Engine,
    token: str,
    *,
    idle_minutes: int,
    max_hours: int,
    now: datetime | None = None,
) -> SignedIn | None:
    """The signed-in person for a cookie's token, or None (unknown, expired, disabled)."""
    if not token or len(token) > 100:
        return None
    now = now or datetime.now(UTC)
    sid = session_id(token)
    with reading(engine) as conn:
        row = conn.execute(
            select(
                web_sessions.c.created_at,
                web_sessions.c.last_seen_at,
                web_sessions.c.flash,
                users.c.id,
                users.c.username,
                users.c.role,
                users.c.display_name,
                users.c.disabled,
                users.c.password_changed_at,
            )
            .join(users, users.c.id == web_sessions.c.user_id)
            .where(web_sessions.c.id == sid)
        ).first()
    if row is None:
        return None
    seen, created = as_utc(row.last_seen_at), as_utc(row.created_at)
    expired = now - seen > timedelta(minutes=idle_minutes) or now - created > timedelta(
        hours=max_hours
    )
    if expired or row.disabled:
        close_session(engine, token)
        return None
    flashes = tuple(Flash(*f) for f in (row.flash or ()))
    if flashes or now - seen > TOUCH_EVERY:
        with engine.begin() as conn:
            conn.execute(
                update(web_sessions)
                .where(web_sessions.c.id == sid)
                .values(last_seen_at=now, flash=None)
            )
    return SignedIn(
        session_id=sid,
        user_id=row.id,
        username=row.username,
        role=Role(row.role),
        display_name=row.display_name or row.username,
        must_change_password=row.password_changed_at is None,
        flashes=flashes,
    )


def close_session(engine: Engine, token: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(web_sessions).where(web_sessions.c.id == session_id(token)))


def add_flash(engine: Engine, sid: str, level: str, text: str) -> None:
    """A message shown once on the person's next page."""
    with engine.begin() as conn:
        current = conn.execute(
            select(web_sessions.c.flash).where(web_sessions.c.id == sid)
        ).scalar_one_or_none()
        flashes = [*(current or []), [level, text]][-5:]
        conn.execute(update(web_sessions).where(web_sessions.c.id == sid).values(flash=flashes))


def purge_expired(
    engine: Engine, *, idle_minutes: int, max_hours: int, now: datetime | None = None
) -> int:
    """Delete sessions past either limit; run at each log-in, so the table stays small."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        result = conn.execute(
            delete(web_sessions).where(
                or_(
                    web_sessions.c.last_seen_at < now - timedelta(minutes=idle_minutes),
                    web_sessions.c.created_at < now - timedelta(hours=max_hours),
                )
            )
        )
    return result.rowcount or 0
