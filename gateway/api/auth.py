"""Who is calling: API key, IP allow-list, HMAC request signature and a per-agent rate limit.

All of it runs in one ``before_request`` hook of the API routers (``authenticate``), before
the body is decoded, so an unauthenticated caller learns nothing about validation, and the
handler finds the agent in the request's scope state (``gateway.api.common.agent_of``). A
hook rather than a Litestar guard: a guard is handed a fresh copy of the route handler object
on every request, which cost more than all of the checks below together.

- Key: ``Authorization: Bearer <key_id>.<secret>`` (or ``X-API-Key: <key>``, or HTTP Basic
  with the key id as user and the secret as password, for terminal software that only does
  Basic). The secret's sha256 is compared in constant time with the stored hash.
- Agents are cached in process for ``CACHE_SECONDS`` (unknown key ids too, so a flood of bad
  keys does not reach the database): a deactivated agent or a changed allow-list takes
  effect within that time, on every process.
- IP allow-list: the peer address as the server sees it; ``X-Forwarded-For`` is honoured
  only from the proxies in ``GATEWAY_TRUSTED_PROXIES`` (none by default: ``gateway serve``
  turns uvicorn's proxy headers off unless proxies are configured).
- Signature, for agents created with ``--sign``: ``X-Timestamp`` (Unix seconds) and
  ``X-Signature`` = hex HMAC-SHA256(signing secret, METHOD + "\\n" + path with query string as
  sent + "\\n" + timestamp + "\\n" + body bytes). A timestamp more than the window (five
  minutes by default) away from the server clock is refused, so a captured request cannot be
  replayed later; inside the window a replayed post is harmless because posts are
  idempotent.
- Rate limit: a token bucket per agent and process, ``rate_per_minute`` refilled continuously
  with a burst of ten seconds' worth; over the limit is 429 RATE_LIMITED with Retry-After.
  With N server processes an agent may reach N times its rate.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import ipaddress
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import anyio.to_thread
from litestar import Request
from litestar.connection import ASGIConnection
from sqlalchemy import Engine

from gateway.api.problems import ApiError
from gateway.services.agents import AgentRecord, hash_secret, load_agent

CACHE_SECONDS = 30.0
MAX_CACHED = 10_000


@dataclass
class AuthState:
    """Per-app, per-process state: the agent cache and the token buckets."""

    engine: Engine
    window: int
    agents: dict[str, tuple[float, AgentRecord | None]] = field(default_factory=dict)
    buckets: dict[int, tuple[float, float]] = field(default_factory=dict)
    loading: dict[str, asyncio.Future[AgentRecord | None]] = field(default_factory=dict)

    async def agent(self, key_id: str) -> AgentRecord | None:
        """The cached agent; when the entry expired, ONE load per key id at a time, which
        every request for that key awaits (40 requests used to start 40 loads at once)."""
        now = time.monotonic()
        hit = self.agents.get(key_id)
        if hit is not None and now - hit[0] < CACHE_SECONDS:
            return hit[1]
        pending = self.loading.get(key_id)
        if pending is None:
            pending = self.loading[key_id] = asyncio.ensure_future(self._load(key_id, now))
            pending.add_done_callback(lambda _f: self.loading.pop(key_id, None))
        return await asyncio.shield(pending)

    async def _load(self, key_id: str, now: float) -> AgentRecord | None:
        found = await anyio.to_thread.run_sync(load_agent, self.engine, key_id)
        if len(self.agents) >= MAX_CACHED:
            self.agents.clear()
        self.agents[key_id] = (now, found)
        return found

    def take(self, agent: AgentRecord) -> float:
        """Spend one token; 0.0 when allowed, else the seconds until one is available."""
        rate = agent.rate_per_minute / 60.0
        capacity = max(1.0, agent.rate_per_minute / 6.0)
        now = time.monotonic()
        tokens, last = self.buckets.get(agent.id, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * rate)
        if tokens >= 1.0:
            self.buckets[agent.id] = (tokens - 1.0, now)
            return 0.0
        self.buckets[agent.id] = (tokens, now)
        return (1.0 - tokens) / rate


def _state(connection: ASGIConnection) -> AuthState:
    app_state = connection.app.state
    auth = getattr(app_state, "pf_auth", None)
    if auth is None:
        settings = app_state.settings
        auth = AuthState(app_state.engine, settings.signature_window_seconds)
        app_state.pf_auth = auth
    return auth


def _key_headers(connection: ASGIConnection) -> tuple[str | None, str]:
    """(X-API-Key, Authorization) as sent, the first of each, straight from the ASGI scope.

    Litestar's ``connection.headers`` builds a header map of the whole request, which cost
    more than the rest of the key check; ASGI servers give the names in lower case.
    """
    api_key: str | None = None
    authorization: str | None = None
    for name, value in connection.scope["headers"]:
        if name == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif name == b"x-api-key" and api_key is None:
            api_key = value.decode("latin-1")
    return api_key, authorization or ""


def presented_key(connection: ASGIConnection) -> tuple[str, str] | None:
    """(key_id, secret) from Authorization (Bearer or Basic) or X-API-Key, or None."""
    raw, auth = _key_headers(connection)
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer":
        raw = value.strip()
    elif scheme.lower() == "basic":
        try:
            user, _, pw = base64.b64decode(value.strip(), validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        raw = f"{user}.{pw}"
    if not raw:
        return None
    key_id, dot, secret = raw.partition(".")
    if not dot or not secret or len(key_id) > 16 or not key_id.isalnum() or len(secret) > 128:
        return None
    return key_id, secret


def signed_message(method: str, path_qs: str, timestamp: str, body: bytes) -> bytes:
    """What an agent signs; exposed so tests and agents' SDKs compute the same bytes."""
    return f"{method.upper()}\n{path_qs}\n{timestamp}\n".encode() + body


def sign(secret: str, method: str, path_qs: str, timestamp: str, body: bytes) -> str:
    return hmac.new(
        secret.encode(), signed_message(method, path_qs, timestamp, body), hashlib.sha256
    ).hexdigest()


def _path_qs(connection: ASGIConnection) -> str:
    scope = connection.scope
    raw = scope.get("raw_path") or scope["path"].encode()
    path = raw.decode("latin-1") if isinstance(raw, bytes) else str(raw)
    qs = scope.get("query_string") or b""
    return f"{path}?{qs.decode('latin-1')}" if qs else path


async def _check_signature(connection: Request, agent: AgentRecord, window: int) -> None:
    ts = connection.headers.get("x-timestamp", "")
    sig = connection.headers.get("x-signature", "")
    if not ts or not sig:
        raise ApiError("BAD_SIGNATURE", "this agent must sign: X-Timestamp and X-Signature")
    if not (ts.isascii() and ts.isdigit() and len(ts) <= 12):  # int() takes "١٧" and "1_7"
        raise ApiError("BAD_SIGNATURE", "X-Timestamp must be Unix seconds")
    ts_value = int(ts)
    if abs(time.time() - ts_value) > window:
        raise ApiError("SIGNATURE_EXPIRED", f"X-Timestamp is more than {window}s off")
    body = await connection.body() if connection.scope["type"] == "http" else b""
    expected = sign(
        agent.signing_secret or "", connection.scope["method"], _path_qs(connection), ts, body
    )
    if not hmac.compare_digest(expected, sig.strip().lower()):
        raise ApiError("BAD_SIGNATURE", "signature does not match")


def _check_ip(connection: ASGIConnection, agent: AgentRecord) -> None:
    if not agent.networks:
        return
    host = connection.client.host if connection.client else ""
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        addr = None
    if addr is None or not any(addr in net for net in agent.networks):
        raise ApiError("IP_NOT_ALLOWED", "this address is not allowed for the agent")


async def authenticate(connection: Request) -> None:
    """The ``before_request`` hook of every bank API route; puts the agent in the scope state
    (the dict behind ``request.state``, written directly: a ``State`` wrapper per access costs
    more than the key check)."""
    auth = _state(connection)
    presented = presented_key(connection)
    if presented is None:
        raise ApiError(
            "UNAUTHORIZED", "missing or malformed API key", headers={"WWW-Authenticate": "Bearer"}
        )
    key_id, secret = presented
    agent = await auth.agent(key_id)
    if (
        agent is None
        or not agent.active
        or (agent.valid_until is not None and agent.expired(datetime.now(UTC)))
        or not hmac.compare_digest(agent.key_hash, hash_secret(secret))
    ):
        raise ApiError(
            "UNAUTHORIZED", "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"}
        )
    _check_ip(connection, agent)
    wait = auth.take(agent)
    if wait:
        raise ApiError(
            "RATE_LIMITED",
            "too many requests for this agent",
            headers={"Retry-After": str(max(1, round(wait + 0.5)))},
        )
    if agent.signing_secret:
        await _check_signature(connection, agent, auth.window)
    connection.scope.setdefault("state", {})["agent"] = agent
