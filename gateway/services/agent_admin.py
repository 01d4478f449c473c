"""Operators' actions on bank API agents: list, revoke, rotate (``gateway agents ...``).

Decisions:

- **rotate** gives the agent a new key (a new key id and secret; only its sha256 is
  stored) and keeps the old one working for a grace period (24 hours by default,
  ``--grace-hours``), so a bank can deploy the new key without a minute of refused
  payments. The old key's hash moves to ``agent_keys`` with its end; ``--grace-hours 0``
  stops it at once (a leaked key). Each earlier key keeps its own end. The signing secret of
  an agent that signs is not changed: it is a separate secret, never sent on the wire.
- **revoke** stops every key of the agent (``active`` false, ``revoked_at`` set): requests
  are refused with 401 "unknown or revoked API key". Its payments stay, under the source
  ``agent:NAME``, so the name is not reused; a revoked agent is not rotated back to life
  (add a new agent). Revoking twice says so and changes nothing.
- Server processes cache agents for 30 seconds (``gateway.api.auth``): a revocation or the
  end of a grace period is seen by every process within that time.
- Every action is one transaction; an unknown name is ``NotFound`` (exit code 3).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, delete, insert, select, update

from gateway.db import as_utc, reading
from gateway.errors import Conflict, NotFound, UserError
from gateway.services.agents import hash_secret
from schemas.tables import agent_keys, agents

DEFAULT_GRACE = timedelta(hours=24)
MAX_GRACE = timedelta(days=90)  # a longer overlap is a second key, not a rotation


@dataclass(frozen=True)
class PreviousKey:
    key_id: str
    valid_until: datetime


@dataclass(frozen=True)
class AgentSummary:
    """One agent as ``gateway agents list`` shows it (never a secret)."""

    name: str
    key_id: str
    active: bool
    created_at: datetime
    revoked_at: datetime | None
    ip_allow: str
    signs: bool
    rate_per_minute: int
    previous: tuple[PreviousKey, ...]  # still within their grace period

    @property
    def status(self) -> str:
        return "active" if self.active else "revoked"


@dataclass(frozen=True)
class Rotation:
    name: str
    key_id: str
    key: str  # shown once: the caller prints it and forgets it
    previous_key_id: str
    previous_valid_until: datetime | None  # None: refused at once (no grace)


def list_agents(engine: Engine, *, now: datetime | None = None) -> list[AgentSummary]:
    """Every agent by name, with the previous keys still in their grace period."""
    now = now or datetime.now(UTC)
    with reading(engine) as conn:
        rows = conn.execute(select(agents).order_by(agents.c.name)).all()
        keys = conn.execute(
            select(agent_keys.c.agent_id, agent_keys.c.key_id, agent_keys.c.valid_until)
            .where(agent_keys.c.valid_until > now)
            .order_by(agent_keys.c.valid_until)
        ).all()
    previous: dict[int, list[PreviousKey]] = {}
    for agent_id, key_id, until in keys:
        previous.setdefault(agent_id, []).append(PreviousKey(key_id, as_utc(until)))
    return [
        AgentSummary(
            name=r.name,
            key_id=r.key_id,
            active=bool(r.active),
            created_at=as_utc(r.created_at),
            revoked_at=as_utc(r.revoked_at) if r.revoked_at else None,
            ip_allow=r.ip_allow or "",
            signs=bool(r.signing_secret),
            rate_per_minute=r.rate_per_minute,
            previous=tuple(previous.get(r.id, ())) if r.active else (),
        )
        for r in rows
    ]


def revoke_agent(engine: Engine, name: str, *, now: datetime | None = None) -> bool:
    """Stop every key of ``name``; False when it was already revoked."""
    now = now or datetime.now(UTC)
    with engine.begin() as conn:
        agent = _agent(conn, name)
        if not agent.active:
            return False
        conn.execute(
            update(agents).where(agents.c.id == agent.id).values(active=False, revoked_at=now)
        )
        # the previous keys end with the agent: nothing of it may authenticate any more
        conn.execute(
            update(agent_keys)
            .where(agent_keys.c.agent_id == agent.id, agent_keys.c.valid_until > now)
            .values(valid_until=now)
        )
    return True


def rotate_agent(
    engine: Engine,
    name: str,
    *,
    grace: timedelta = DEFAULT_GRACE,
    now: datetime | None = None,
) -> Rotation:
    """A new key for ``name``; the old one keeps working for ``grace``."""
    if not timedelta(0) <= grace <= MAX_GRACE:
        raise UserError(f"grace period must be 0 to {MAX_GRACE.days * 24} hours")
    now = now or datetime.now(UTC)
    key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
    with engine.begin() as conn:
        agent = _agent(conn, name, lock=True)
        if not agent.active:
            raise Conflict(f"agent {name} is revoked; add a new agent instead")
        until = now + grace if grace else None
        if until is not None:
            conn.execute(
                insert(agent_keys),
                {
                    "agent_id": agent.id,
                    "key_id": agent.key_id,
                    "key_hash": agent.key_hash,
                    "replaced_at": now,
                    "valid_until": until,
                },
            )
        conn.execute(
            update(agents)
            .where(agents.c.id == agent.id, agents.c.key_id == agent.key_id)
            .values(key_id=key_id, key_hash=hash_secret(secret))
        )
        # expired previous keys are of no use to anyone: keep the table to the live ones
        conn.execute(delete(agent_keys).where(agent_keys.c.valid_until <= now))
    return Rotation(name, key_id, f"{key_id}.{secret}", agent.key_id, until)


def _agent(conn: Connection, name: str, *, lock: bool = False) -> Row[Any]:
    q = select(agents).where(agents.c.name == name)
    row = conn.execute(q.with_for_update() if lock else q).first()
    if row is None:
        known = ", ".join(conn.execute(select(agents.c.name).order_by(agents.c.name)).scalars())
        raise NotFound(f"no agent {name!r} (known: {known or 'none'})")
    return row
