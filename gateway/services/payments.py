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
  insert only if absent. On SQLite the engine opens writers with ``BEGIN IMMEDIATE`` and all
  of this process's writes are group-committed by one writer (``gateway.writer``), so the
  look-up and the insert are atomic and one fsync serves many payments. On PostgreSQL two
  transactions can both miss; the unique index makes the second insert wait for the first
  and fail, and we then replay the winner's answer (``_after_race``).
- Hot path in DBAPI (``gateway.services.payment_rows``): the six statements of a payment go
  straight to the driver inside the SQLAlchemy transaction, proven equal to the Core
  versions by a test. Reversals, rare, use ``reconciliation.service.reverse_allocations``.
- The payment, its allocations, its answer and the audit row of the request are written in
  one transaction (one savepoint of a group commit on SQLite), so nothing is half-done and
  no answer leaves before its commit is durable. ``payments.response`` holds the answer
  without ``payment_id`` (the row's own id), so the payment is one INSERT.
  Refused requests store no payment and no allocation.
- Business day: ``paid_at`` converted to the city's time zone (``Settings.timezone``). A
  payment whose day is closed is booked on the first open day after it (the closed day
  stays as it was closed; the answer's ``business_day`` says where it went); a reversal
  into a closed day is refused (``DAY_CLOSED``). While the day is open, a reversal's
  compensating rows count for the payment's own business day, so the storno nets out
  inside the day the bank will settle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import IntegrityError

from gateway.db import snapshot
from gateway.errors import Refused
from gateway.services.agents import AgentRecord
from gateway.services.day_close import first_open_day
from gateway.services.payment_input import Audit, PaymentInput, ValidPayment, validate
from gateway.services.payment_rows import (
    ALLOCATIONS_SQL,
    FIND_SQL,
    PAYMENT_SQL,
    PRIOR_AND_ACCOUNT_SQL,
    Sql,
    insert_allocations,
    insert_payment,
    open_lines,
    write_audit,
)
from gateway.writer import write
from reconciliation.allocate import DEFAULT_POLICY, AllocationError, AllocationPolicy, allocate
from reconciliation.model import CITY_TIMEZONE, AllocationKind, AllocationRow, PaymentStatus
from reconciliation.money import format_amount
from reconciliation.plan import allocation_kind
from reconciliation.service import reverse_allocations
from schemas.tables import business_days, payments

__all__ = [
    "Audit",
    "Outcome",
    "PaymentInput",
    "get_payment",
    "post_payment",
    "record_request",
    "reverse_payment",
]


@dataclass(frozen=True)
class Outcome:
    """What the caller answers: ``status`` 201 (new) or 200 (replay, reversal, status)."""

    status: int
    body: dict[str, Any]
    payment_id: int
    replay: bool = False


def post_payment(
    engine: Engine,
    agent: AgentRecord,
    inp: PaymentInput,
    *,
    channel: str = "bank_api",
    tz: ZoneInfo | None = None,
    audit: Audit | None = None,
    policy: AllocationPolicy = DEFAULT_POLICY,
) -> Outcome:
    """Validate, then store and allocate the payment once; a retry replays the first answer.

    A sum without services is spread by ``policy`` (the gateway's TOML ``[allocation]``)."""
    p = validate(inp, tz or ZoneInfo(CITY_TIMEZONE))
    # The hot path speaks DBAPI (see ``Sql``), so a unique violation arrives as the driver's
    # own IntegrityError, not SQLAlchemy's wrapper; either means another insert won the race.
    integrity = (IntegrityError, engine.dialect.loaded_dbapi.IntegrityError)
    try:
        return write(engine, lambda conn: _post_in_tx(conn, agent, p, channel, audit, policy))
    except integrity:
        return _after_race(engine, agent, p, audit)


def _replay(prior: tuple, p: ValidPayment) -> Outcome:
    pid, digest, response = prior
    if digest != p.digest:
        raise Refused("TXN_CONFLICT", "agent_txn_id was already used with different content")
    return Outcome(200, _with_id(pid, response), pid, replay=True)


def _with_id(pid: int, stored: Any) -> dict[str, Any]:
    """The answer as sent: ``payments.response`` holds it without the row's own id."""
    return {"payment_id": pid, **_stored_response(stored)}


def _post_in_tx(
    conn: Connection,
    agent: AgentRecord,
    p: ValidPayment,
    channel: str,
    audit: Audit | None,
    policy: AllocationPolicy = DEFAULT_POLICY,
) -> Outcome:
    db = Sql(conn)
    now = db.ts(datetime.now(UTC))  # one timestamp for the payment, its rows and its request
    found = db.one(PRIOR_AND_ACCOUNT_SQL, {
        "s": agent.source, "e": p.txn_id, "a": p.account_no, "d": p.business_day.isoformat(),
    })  # fmt: skip
    assert found is not None  # the statement always yields its one row
    if found[0] is not None:
        out = _replay(found[:3], p)
        write_audit(db, agent.id, audit, out.status, now)
        return out
    account_id = _open_account(found[3:5])
    if found[5] == "closed":  # a late payment: booked on the first open day (see day_close)
        p = replace(p, business_day=first_open_day(conn, p.business_day))
    lines = open_lines(db, account_id, p.account_no)
    try:
        rows = allocate(
            p.account_no,
            p.amount,
            lines,
            services=p.services,
            invoice_no=p.invoice_no,
            policy=policy,
        )
    except AllocationError as exc:
        raise Refused(exc.code, str(exc)) from None
    answer = _answer(p, rows)
    pid = insert_payment(db, agent, p, channel, answer, now)
    insert_allocations(db, conn, pid, account_id, p.business_day, rows, agent.source, now)
    write_audit(db, agent.id, audit, 201, now)
    return Outcome(201, _with_id(pid, answer), pid)


def _after_race(
    engine: Engine, agent: AgentRecord, p: ValidPayment, audit: Audit | None
) -> Outcome:
    """Another transaction inserted the same (source, external_id) first: answer as a retry."""

    def replay(conn: Connection) -> Outcome:
        db = Sql(conn)
        prior = db.one(FIND_SQL, {"s": agent.source, "e": p.txn_id})
        if prior is None:  # the integrity error was something else: a bug, not a race
            raise RuntimeError("payment insert failed without a competing payment")
        out = _replay(prior, p)
        write_audit(db, agent.id, audit, out.status)
        return out

    return write(engine, replay)


def _open_account(found: tuple) -> int:
    """The account's id from (id, status), refusing an unknown or closed account."""
    account_id, status = found
    if account_id is None:
        raise Refused("ACCOUNT_NOT_FOUND", "no such account")
    if status != "open":
        raise Refused("ACCOUNT_CLOSED", "the account is closed")
    return int(account_id)


def _require_open_day(conn: Connection, day: date) -> None:
    q = select(business_days.c.status).where(business_days.c.day == day)
    if conn.execute(q).scalar() == "closed":
        raise Refused("DAY_CLOSED", f"business day {day} is closed")


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


def _answer(p: ValidPayment, rows: list[AllocationRow]) -> dict[str, Any]:
    """The 201 body but its ``payment_id``; stored as is and replayed on every retry."""
    return {
        "agent_txn_id": p.txn_id,
        "status": PaymentStatus.ALLOCATED,
        "account_no": p.account_no,
        "amount": format_amount(p.amount),
        "currency": p.currency,
        "paid_at": p.paid_at.isoformat(),
        "business_day": p.business_day.isoformat(),
        "allocations": [
            _row_json(
                allocation_kind(r),
                r.invoice_no,
                r.service_code,
                r.provider_code,
                r.amount,
            )
            for r in rows
        ],
    }


def record_request(engine: Engine, agent_id: int, audit: Audit, status: int) -> None:
    """Keep a refused money-changing request (its own small transaction)."""
    write(engine, lambda conn: write_audit(Sql(conn), agent_id, audit, status))


def _stored_response(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str | bytes) else dict(value or {})


def get_payment(engine: Engine, agent: AgentRecord, txn_id: str) -> Outcome:
    """The payment's current status and every allocation row (originals and reversals)."""
    with snapshot(engine) as q:
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
    return write(engine, lambda conn: _reverse_in_tx(conn, agent, txn_id, audit))


def _reverse_in_tx(
    conn: Connection, agent: AgentRecord, txn_id: str, audit: Audit | None
) -> Outcome:
    q = (
        select(payments.c.id, payments.c.status, payments.c.business_day)
        .where(payments.c.source == agent.source, payments.c.external_id == txn_id[:128])
        .with_for_update()  # PostgreSQL: two concurrent reversals of one payment queue here
    )
    pay = conn.execute(q).first()
    if pay is None:
        raise Refused("PAYMENT_NOT_FOUND", "no payment with this agent_txn_id")
    if pay.status != PaymentStatus.REVERSED:
        _require_open_day(conn, pay.business_day)
        if pay.status != PaymentStatus.ALLOCATED:
            raise Refused("NOT_REVERSIBLE", f"a payment in status {pay.status} is not reversed")
        reverse_allocations(conn, pay.id, business_day=pay.business_day, created_by=agent.source)
        conn.execute(
            update(payments).where(payments.c.id == pay.id).values(status=PaymentStatus.REVERSED)
        )
    rows = conn.execute(text(ALLOCATIONS_SQL), {"pid": pay.id}).all()
    body = {
        "payment_id": pay.id,
        "agent_txn_id": txn_id,
        "status": PaymentStatus.REVERSED,
        "business_day": str(pay.business_day),
        "allocations": [
            _row_json(k, i, s, p, int(a)) for k, i, s, p, a in rows if k == AllocationKind.REVERSAL
        ],
    }
    write_audit(Sql(conn), agent.id, audit, 200)
    return Outcome(200, body, pay.id)
