"""Posting, reading and reversing a bank API payment: the channel that must never lose or double.

Decisions:

- Identity: ``source = "agent:<name>"`` and ``external_id = agent_txn_id``, under the unique
  constraint on (source, external_id). Each agent therefore has its own namespace: it can
  neither see nor reverse another agent's payment, and two banks may reuse the same id.
- Idempotency: the request is reduced to a canonical form (account number canonical, amount
  in bani, ``paid_at`` as a UTC instant, services sorted) and hashed into
  ``payments.request_sha256``; the original answer is kept in ``payments.response``. A retry
  with the same hash gets that answer again (HTTP 200 instead of 201, byte-identical body);
  a different hash gets ``TXN_CONFLICT``.
- Concurrency: inside the write transaction we look for the (source, external_id) first and
  insert only if absent. On SQLite the engine opens writers with ``BEGIN IMMEDIATE`` and this
  process also serializes its own writers on a lock (``writing``), so the look-up and the
  insert are atomic and threads never sleep in SQLite's busy handler. On PostgreSQL two
  transactions can both miss; the unique index makes the second insert wait for the first and
  fail, and we then replay the winner's answer (``_after_race``).
- The payment, its allocations, its answer and the audit row of the request are written in
  one transaction, so there is exactly one durable commit per payment and nothing half-done.
  Refused requests store no payment and no allocation.
- Business day: ``paid_at`` converted to Europe/Chisinau. A payment for a closed day is
  refused (``DAY_CLOSED``), and so is a reversal once its day is closed. While the day is
  open, a reversal's compensating rows count for the payment's own business day, so the
  storno nets out inside the day the bank will settle.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import msgspec
from sqlalchemy import Connection, Engine, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from gateway.services.accounts import Refused, canonical_account, reading
from gateway.services.agents import AgentRecord
from reconciliation.allocate import AllocationError, allocate
from reconciliation.model import AllocationRow, ServiceAmount
from reconciliation.money import MoneyError, format_amount, parse_amount
from reconciliation.service import RefIds, insert_allocations, load_open_lines, reverse_allocations
from schemas.tables import accounts, api_requests, business_days, payments

#: One million lei: far above any household's utility bill; a larger sum is a typo or worse.
MAX_PAYMENT_BANI = 100_000_000
TXN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,34}$")
MAX_SERVICES = 50
FUTURE_SKEW = timedelta(days=1)

_SQLITE_WRITERS = threading.Lock()
_REFS: weakref.WeakKeyDictionary[Engine, RefIds] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class PaymentInput:
    """A payment request as the edge received it (strings, not yet trusted)."""

    agent_txn_id: str
    account_no: str
    amount: str
    currency: str
    paid_at: str
    invoice_no: str | None = None
    services: tuple[tuple[str, str], ...] = ()  # (service_code, amount)


@dataclass(frozen=True)
class ValidPayment:
    txn_id: str
    account_no: str
    amount: int
    currency: str
    paid_at: datetime
    business_day: date
    invoice_no: str | None
    services: tuple[ServiceAmount, ...]
    digest: str


@dataclass(frozen=True)
class Audit:
    """The request as received, kept with its hash in ``api_requests``."""

    method: str
    path: str
    body: bytes


@dataclass(frozen=True)
class Outcome:
    """What the caller answers: ``status`` 201 (new) or 200 (replay, reversal, status)."""

    status: int
    body: dict[str, Any]
    payment_id: int
    replay: bool = False


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction; on SQLite this process's writers queue on a lock first."""
    if engine.dialect.name == "sqlite":
        with _SQLITE_WRITERS, engine.begin() as conn:
            yield conn
    else:
        with engine.begin() as conn:
            yield conn


def wire_amount(text_: str, what: str = "amount") -> int:
    """Bani from the wire, or INVALID_AMOUNT with the OSMP result that fits the fault."""
    try:
        bani = parse_amount(text_, allow_negative=True)
    except MoneyError:
        big = bool(re.fullmatch(r"\s*\d{14,}(\.\d*)?\s*", text_))
        raise Refused(
            "INVALID_AMOUNT",
            f'{what} must be a string such as "125.50" (at most two decimals)',
            242 if big else 300,
        ) from None
    if bani <= 0:
        raise Refused("INVALID_AMOUNT", f"{what} must be positive", 241)
    if bani > MAX_PAYMENT_BANI:
        raise Refused("INVALID_AMOUNT", f"{what} exceeds {format_amount(MAX_PAYMENT_BANI)}", 242)
    return bani


def _paid_at(text_: str, tz: ZoneInfo) -> tuple[datetime, date]:
    try:
        paid_at = datetime.fromisoformat(text_)
    except (ValueError, TypeError):
        paid_at = None
    if paid_at is None or paid_at.tzinfo is None:
        raise Refused("INVALID_PAID_AT", "paid_at must be ISO 8601 with an offset")
    if paid_at > datetime.now(UTC) + FUTURE_SKEW:
        raise Refused("INVALID_PAID_AT", "paid_at is in the future")
    return paid_at, paid_at.astimezone(tz).date()


def validate(inp: PaymentInput, tz: ZoneInfo) -> ValidPayment:
    """Check every field and compute the canonical hash; touches no database."""
    if not TXN_RE.match(inp.agent_txn_id):
        raise Refused("INVALID_TXN_ID", "agent_txn_id: 1-35 of A-Z a-z 0-9 . _ : -")
    account_no = canonical_account(inp.account_no)
    amount = wire_amount(inp.amount)
    if inp.currency != "MDL":
        raise Refused("INVALID_CURRENCY", "only MDL is accepted")
    paid_at, day = _paid_at(inp.paid_at, tz)
    if inp.invoice_no is not None and not 0 < len(inp.invoice_no) <= 32:
        raise Refused("UNKNOWN_INVOICE", "invoice_no must be 1-32 characters")
    if len(inp.services) > MAX_SERVICES:
        raise Refused("UNKNOWN_SERVICE", f"at most {MAX_SERVICES} services")
    given = [ServiceAmount(c, wire_amount(a, f"amount of {c[:32]}")) for c, a in inp.services]
    services = tuple(sorted(given, key=lambda s: (s.service_code, s.amount)))
    if services and sum(s.amount for s in services) != amount:
        raise Refused("SERVICE_SUM_MISMATCH", "service amounts must add up to the amount")
    canonical = [
        inp.agent_txn_id,
        account_no,
        amount,
        inp.currency,
        paid_at.astimezone(UTC).isoformat(),
        inp.invoice_no,
        [[s.service_code, s.amount] for s in services],
    ]
    digest = hashlib.sha256(msgspec.json.encode(canonical)).hexdigest()
    return ValidPayment(
        inp.agent_txn_id,
        account_no,
        amount,
        inp.currency,
        paid_at,
        day,
        inp.invoice_no,
        services,
        digest,
    )


def post_payment(
    engine: Engine,
    agent: AgentRecord,
    inp: PaymentInput,
    *,
    channel: str = "bank_api",
    tz: ZoneInfo | None = None,
    audit: Audit | None = None,
) -> Outcome:
    """Validate, then store and allocate the payment once; a retry replays the first answer."""
    p = validate(inp, tz or ZoneInfo("Europe/Chisinau"))
    try:
        with writing(engine) as conn:
            return _post_in_tx(conn, agent, p, channel, audit)
    except IntegrityError:
        return _after_race(engine, agent, p, audit)


def _find(conn: Connection, source: str, txn_id: str):  # type: ignore[no-untyped-def]
    q = select(payments.c.id, payments.c.request_sha256, payments.c.response).where(
        payments.c.source == source, payments.c.external_id == txn_id
    )
    return conn.execute(q).first()


def _replay(prior: Any, p: ValidPayment) -> Outcome:
    if prior.request_sha256 != p.digest:
        raise Refused("TXN_CONFLICT", "agent_txn_id was already used with different content")
    return Outcome(200, prior.response, prior.id, replay=True)


def _post_in_tx(
    conn: Connection, agent: AgentRecord, p: ValidPayment, channel: str, audit: Audit | None
) -> Outcome:
    prior = _find(conn, agent.source, p.txn_id)
    if prior is not None:
        out = _replay(prior, p)
        _audit(conn, agent.id, audit, out.status)
        return out
    account_id = _open_account(conn, p.account_no)
    _require_open_day(conn, p.business_day)
    lines = load_open_lines(conn, [p.account_no]).get(p.account_no, [])
    try:
        rows = allocate(p.account_no, p.amount, lines, services=p.services, invoice_no=p.invoice_no)
    except AllocationError as exc:
        raise Refused(exc.code, str(exc)) from None
    pid = _insert_payment(conn, agent, p, channel)
    refs = _refs(conn, rows)
    insert_allocations(
        conn,
        [(pid, r) for r in rows],
        account_ids={p.account_no: account_id},
        refs=refs,
        business_day=p.business_day,
        created_by=agent.source,
    )
    body = _answer(pid, p, rows)
    conn.execute(update(payments).where(payments.c.id == pid).values(response=body))
    _audit(conn, agent.id, audit, 201)
    return Outcome(201, body, pid)


def _after_race(engine: Engine, agent: AgentRecord, p: ValidPayment, audit: Audit | None):  # type: ignore[no-untyped-def]
    """Another transaction inserted the same (source, external_id) first: answer as a retry."""
    with writing(engine) as conn:
        prior = _find(conn, agent.source, p.txn_id)
        if prior is None:  # the integrity error was something else: a bug, not a race
            raise RuntimeError("payment insert failed without a competing payment")
        out = _replay(prior, p)
        _audit(conn, agent.id, audit, out.status)
        return out


def _open_account(conn: Connection, account_no: str) -> int:
    q = select(accounts.c.id, accounts.c.status).where(accounts.c.account_no == account_no)
    row = conn.execute(q).first()
    if row is None:
        raise Refused("ACCOUNT_NOT_FOUND", "no such account")
    if row.status != "open":
        raise Refused("ACCOUNT_CLOSED", "the account is closed")
    return int(row.id)


def _require_open_day(conn: Connection, day: date) -> None:
    q = select(business_days.c.status).where(business_days.c.day == day)
    if conn.execute(q).scalar() == "closed":
        raise Refused("DAY_CLOSED", f"business day {day} is closed")


def _refs(conn: Connection, rows: list[AllocationRow]) -> RefIds:
    """Service and provider ids, cached per engine; reloaded when a code is not known yet."""
    engine = conn.engine
    refs = _REFS.get(engine)
    wanted_s = {r.service_code for r in rows if r.service_code}
    wanted_p = {r.provider_code for r in rows if r.provider_code}
    if refs is None or not (wanted_s <= refs.services.keys() and wanted_p <= refs.providers.keys()):
        refs = _REFS[engine] = RefIds.load(conn)
    return refs


def _insert_payment(conn: Connection, agent: AgentRecord, p: ValidPayment, channel: str) -> int:
    row = {
        "source": agent.source,
        "external_id": p.txn_id,
        "channel": channel,
        "collector": agent.name,
        "business_day": p.business_day,
        "amount": p.amount,
        "currency": p.currency,
        "direction": "credit",
        "reversal": False,
        "given_account_no": p.account_no,
        "given_invoice_no": p.invoice_no,
        "services": [{"service_code": s.service_code, "amount": s.amount} for s in p.services]
        or None,
        "status": "allocated",
        "account_no": p.account_no,
        "agent_id": agent.id,
        "request_sha256": p.digest,
        "created_at": datetime.now(UTC),
    }
    return int(conn.execute(insert(payments), row).inserted_primary_key[0])


def _row_json(
    kind: str, invoice_no: str | None, service: str | None, provider: str | None, amount: int
) -> dict[str, Any]:
    return {
        "kind": kind,
        "invoice_no": invoice_no,
        "service_code": service,
        "provider_code": provider,
        "amount": format_amount(amount),
    }


def _answer(pid: int, p: ValidPayment, rows: list[AllocationRow]) -> dict[str, Any]:
    """The 201 body; stored as is and replayed on every retry."""
    return {
        "payment_id": pid,
        "agent_txn_id": p.txn_id,
        "status": "allocated",
        "account_no": p.account_no,
        "amount": format_amount(p.amount),
        "currency": p.currency,
        "paid_at": p.paid_at.isoformat(),
        "business_day": p.business_day.isoformat(),
        "allocations": [
            _row_json(
                "advance" if r.line_id is None else "payment",
                r.invoice_no,
                r.service_code,
                r.provider_code,
                r.amount,
            )
            for r in rows
        ],
    }


def _audit(conn: Connection, agent_id: int, audit: Audit | None, status: int) -> None:
    if audit is None:
        return
    conn.execute(
        insert(api_requests),
        {
            "agent_id": agent_id,
            "method": audit.method,
            "path": audit.path[:300],
            "body_sha256": hashlib.sha256(audit.body).hexdigest(),
            "body": audit.body,
            "status_code": status,
            "received_at": datetime.now(UTC),
        },
    )


def record_request(engine: Engine, agent_id: int, audit: Audit, status: int) -> None:
    """Keep a refused money-changing request (its own small transaction)."""
    with writing(engine) as conn:
        _audit(conn, agent_id, audit, status)


PAYMENT_SQL = """
SELECT id, status, account_no, amount, currency, business_day, response
FROM payments WHERE source = :s AND external_id = :e
"""

ALLOCATIONS_SQL = """
SELECT al.kind, i.invoice_no, s.code, p.code, al.amount
FROM allocations al
LEFT JOIN invoice_lines l ON l.id = al.invoice_line_id
LEFT JOIN invoices i ON i.id = l.invoice_id
LEFT JOIN services s ON s.id = al.service_id
LEFT JOIN providers p ON p.id = al.provider_id
WHERE al.payment_id = :pid ORDER BY al.id
"""


def _stored_response(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str | bytes) else dict(value or {})


def get_payment(engine: Engine, agent: AgentRecord, txn_id: str) -> Outcome:
    """The payment's current status and every allocation row (originals and reversals)."""
    with reading(engine) as q:
        found = q(PAYMENT_SQL, {"s": agent.source, "e": txn_id[:128]})
        if not found:
            raise Refused("PAYMENT_NOT_FOUND", "no payment with this agent_txn_id")
        pid, status, account_no, amount, currency, day, response = found[0]
        rows = q(ALLOCATIONS_SQL, {"pid": pid})
    original = _stored_response(response)
    body = {
        "payment_id": pid,
        "agent_txn_id": txn_id,
        "status": status,
        "account_no": account_no,
        "amount": format_amount(int(amount)),
        "currency": currency,
        "paid_at": original.get("paid_at"),
        "business_day": str(day),
        "allocations": [_row_json(k, i, s, p, int(a)) for k, i, s, p, a in rows],
    }
    return Outcome(200, body, pid)


def reverse_payment(
    engine: Engine, agent: AgentRecord, txn_id: str, *, audit: Audit | None = None
) -> Outcome:
    """Storno: compensating allocations, status ``reversed``; repeating it changes nothing."""
    with writing(engine) as conn:
        q = (
            select(payments.c.id, payments.c.status, payments.c.business_day)
            .where(payments.c.source == agent.source, payments.c.external_id == txn_id[:128])
            .with_for_update()
        )
        pay = conn.execute(q).first()
        if pay is None:
            raise Refused("PAYMENT_NOT_FOUND", "no payment with this agent_txn_id")
        if pay.status != "reversed":
            _require_open_day(conn, pay.business_day)
            if pay.status != "allocated":
                raise Refused("NOT_REVERSIBLE", f"a payment in status {pay.status} is not reversed")
            reverse_allocations(
                conn, pay.id, business_day=pay.business_day, created_by=agent.source
            )
            conn.execute(update(payments).where(payments.c.id == pay.id).values(status="reversed"))
        rows = conn.execute(text(ALLOCATIONS_SQL), {"pid": pay.id}).all()
        body = {
            "payment_id": pay.id,
            "agent_txn_id": txn_id,
            "status": "reversed",
            "business_day": str(pay.business_day),
            "allocations": [
                _row_json(k, i, s, p, int(a)) for k, i, s, p, a in rows if k == "reversal"
            ],
        }
        _audit(conn, agent.id, audit, 200)
    return Outcome(200, body, pay.id)
