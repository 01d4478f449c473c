"""Agents: the banks and terminal operators that call the bank API, each with its own key.

Decisions:

- A key is ``<key_id>.<secret>``: ``key_id`` (12 hex characters) is public and indexes the
  agent row; ``secret`` is 256 random bits (``secrets.token_urlsafe(32)``). Only
  ``sha256(secret)`` is stored. A plain hash is enough here, and a slow password hash would
  only cost latency: the secret has 256 bits of entropy, so there is no dictionary to try,
  and hashing keeps a leaked database from yielding usable keys. Comparison is constant-time
  (``hmac.compare_digest``) in ``gateway.api.auth``.
- The key is shown once (``gateway agents add`` prints it on its last line) and never again.
- The HMAC signing secret, when the agent signs, must be stored as is: the server recomputes
  the signature with it. Protect the database accordingly.
- Agent names become the payments' ``source`` (``agent:<name>``), so they are short and plain:
  lower-case letters, digits, ``_`` and ``-``, at most 32 characters.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Engine, insert, select
from sqlalchemy.exc import IntegrityError

from gateway.db import as_utc, reading
from gateway.errors import UserError
from schemas.tables import agent_keys, agents

NAME_RE = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
DEFAULT_RATE_PER_MINUTE = 6000
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class NewAgent:
    """What ``add_agent`` returns: the only moment the full key exists outside the caller."""

    name: str
    key_id: str
    key: str
    signing_secret: str | None


def hash_secret(secret: str) -> str:
    """The stored form of a key's secret part (see the module doc for why sha256 suffices)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_networks(text: str | None) -> tuple[Network, ...]:
    """``"10.0.0.0/8, 192.0.2.7"`` -> networks; an empty text means "any address"."""
    out = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            out.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise UserError(f"not an IP network: {part!r}") from None
    return tuple(out)


def add_agent(
    engine: Engine,
    name: str,
    *,
    ip_allow: str | None = "",
    sign: bool = False,
    rate_per_minute: int = DEFAULT_RATE_PER_MINUTE,
) -> NewAgent:
    """Create an agent and return its key (and signing secret) for one-time display."""
    if not NAME_RE.fullmatch(name):
        raise UserError(f"agent name {name!r}: use 1-32 lower-case letters, digits, '_' or '-'")
    if rate_per_minute < 1:
        raise UserError("rate per minute must be at least 1")
    networks = parse_networks(ip_allow)
    key_id = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    signing_secret = secrets.token_hex(32) if sign else None
    row = {
        "name": name,
        "key_id": key_id,
        "key_hash": hash_secret(secret),
        "ip_allow": ",".join(str(n) for n in networks),
        "signing_secret": signing_secret,
        "rate_per_minute": rate_per_minute,
        "active": True,
        "created_at": datetime.now(UTC),
    }
    try:
        with engine.begin() as conn:
            conn.execute(insert(agents), row)
    except IntegrityError:
        raise UserError(f"agent {name!r} already exists") from None
    return NewAgent(name, key_id, f"{key_id}.{secret}", signing_secret)


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """An agent as the API's authentication needs it (loaded by key id, cached briefly)."""

    id: int
    name: str
    key_id: str
    key_hash: str
    networks: tuple[Network, ...]
    signing_secret: str | None
    rate_per_minute: int
    active: bool
    #: set for a previous key after a rotation: the moment it stops working
    valid_until: datetime | None = None

    def expired(self, now: datetime) -> bool:
        return self.valid_until is not None and self.valid_until <= now

    @property
    def source(self) -> str:
        """The payments' ``source`` for this agent: its own idempotency namespace."""
        return f"agent:{self.name}"


def load_agent(engine: Engine, key_id: str) -> AgentRecord | None:
    """The agent with this public key id, or None. A read: on SQLite it never takes the
    write lock (a plain connection begins IMMEDIATE and queued every request behind a
    long ingest)."""
    with reading(engine) as conn:
        r = conn.execute(select(agents).where(agents.c.key_id == key_id)).first()
    if r is None:
        return load_previous_key(engine, key_id)
    return AgentRecord(
        id=r.id,
        name=r.name,
        key_id=r.key_id,
        key_hash=r.key_hash,
        networks=parse_networks(r.ip_allow),
        signing_secret=r.signing_secret,
        rate_per_minute=r.rate_per_minute,
        active=bool(r.active),
    )


def load_previous_key(engine: Engine, key_id: str) -> AgentRecord | None:
    """The agent whose previous key (``gateway agents rotate``) this is, while its grace
    lasts; None for an unknown or expired key id. A read, like ``load_agent``."""
    k = agent_keys
    with reading(engine) as conn:
        r = conn.execute(
            select(agents, k.c.key_hash.label("old_hash"), k.c.valid_until)
            .join(k, k.c.agent_id == agents.c.id)
            .where(k.c.key_id == key_id)
        ).first()
    if r is None:
        return None
    record = AgentRecord(
        id=r.id,
        name=r.name,
        key_id=key_id,
        key_hash=r.old_hash,
        networks=parse_networks(r.ip_allow),
        signing_secret=r.signing_secret,
        rate_per_minute=r.rate_per_minute,
        active=bool(r.active),
        valid_until=as_utc(r.valid_until),
    )
    return None if record.expired(datetime.now(UTC)) else record
