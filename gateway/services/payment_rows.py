"""The statements of a posted payment, in plain SQL on the transaction's DBAPI connection.

The hot path of a bank API payment is six small statements; through SQLAlchemy Core each
costs several times the database work (docs/perf.md), so they go straight to the driver
inside the SQLAlchemy transaction (same connection, same commit). Two of them repeat Core
functions of ``reconciliation.service`` for one account: ``open_lines`` gives what
``load_open_lines`` gives, and ``insert_allocations`` writes the rows ``insert_allocations``
writes; tests/integration/test_payment_rows.py proves both equal on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import weakref
from datetime import UTC, date, datetime
from typing import Any

import msgspec
from sqlalchemy import Connection, Engine

from gateway.db import pyformat
from gateway.services.agents import AgentRecord
from gateway.services.payment_input import Audit, ValidPayment
from reconciliation.model import AllocationRow, OpenLine, PaymentStatus
from reconciliation.service import RefIds, allocation_kind

_REFS: weakref.WeakKeyDictionary[Engine, RefIds] = weakref.WeakKeyDictionary()


class Sql:
    """Plain SQL with ``:name`` parameters on the transaction's own DBAPI connection.

    Hides the two backends' differences: parameter style, and how dates, timestamps and
    JSON are written so that SQLAlchemy reads them back exactly as if it had written them.
    """

    def __init__(self, conn: Connection) -> None:
        self.sqlite = conn.dialect.name == "sqlite"
        raw = conn.connection.driver_connection
        assert raw is not None  # a live connection inside the transaction
        self.cur = raw.cursor()

    def _q(self, sql: str) -> str:
        return sql if self.sqlite else pyformat(sql)

    def all(self, sql: str, params: dict[str, Any]) -> list[tuple]:
        self.cur.execute(self._q(sql), params)
        return self.cur.fetchall()

    def one(self, sql: str, params: dict[str, Any]) -> tuple | None:
        self.cur.execute(self._q(sql), params)
        return self.cur.fetchone()

    def run(self, sql: str, params: dict[str, Any]) -> None:
        self.cur.execute(self._q(sql), params)

    def many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        if rows:
            self.cur.executemany(self._q(sql), rows)

    def ts(self, moment: datetime) -> datetime | str:
        """SQLAlchemy's SQLite DateTime storage format (UTC); a real timestamp elsewhere."""
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else moment

    @staticmethod
    def json(value: Any) -> str | None:
        return None if value is None else msgspec.json.encode(value).decode()


FIND_SQL = (
    "SELECT id, request_sha256, response FROM payments WHERE source = :s AND external_id = :e"
)


PRIOR_AND_ACCOUNT_SQL = """
SELECT p.id, p.request_sha256, p.response, a.id, a.status,
       (SELECT b.status FROM business_days b WHERE b.day = :d)
FROM (SELECT 1 AS one) AS q
LEFT JOIN payments p ON p.source = :s AND p.external_id = :e
LEFT JOIN accounts a ON a.account_no = :a
"""


OPEN_LINES_SQL = """
SELECT l.id, i.invoice_no, i.period, s.code, p.code,
       l.amount_due - COALESCE(
           (SELECT SUM(al.amount) FROM allocations al WHERE al.invoice_line_id = l.id), 0)
FROM invoices i
JOIN invoice_lines l ON l.invoice_id = i.id
JOIN services s ON s.id = l.service_id
JOIN providers p ON p.id = l.provider_id
WHERE i.account_id = :id AND i.status = 'open'
"""


def open_lines(db: Sql, account_id: int, account_no: str) -> list[OpenLine]:
    """One account's lines as ``reconciliation.service.load_open_lines`` gives them: the
    same query (what is open summed over the line index), by account id on the raw cursor."""
    rows = db.all(OPEN_LINES_SQL, {"id": account_id})
    lines = [OpenLine(r[0], r[1], account_no, r[2], r[3], r[4], int(r[5])) for r in rows]
    lines.sort(key=lambda ln: (ln.period, ln.invoice_no, ln.line_id))
    return lines


def _refs(conn: Connection, rows: list[AllocationRow]) -> RefIds:
    """Service and provider ids, cached per engine; reloaded when a code is not known yet."""
    engine = conn.engine
    refs = _REFS.get(engine)
    wanted_s = {r.service_code for r in rows if r.service_code}
    wanted_p = {r.provider_code for r in rows if r.provider_code}
    if refs is None or not (wanted_s <= refs.services.keys() and wanted_p <= refs.providers.keys()):
        refs = _REFS[engine] = RefIds.load(conn)
    return refs


INSERT_PAYMENT_SQL = """
INSERT INTO payments (source, external_id, channel, collector, business_day, amount, currency,
    direction, reversal, given_account_no, given_invoice_no, services, status, account_no,
    agent_id, request_sha256, response, created_at)
VALUES (:source, :external_id, :channel, :collector, :business_day, :amount, :currency,
    'credit', :reversal, :account_no, :invoice_no, :services, :status, :account_no,
    :agent_id, :digest, :response, :created_at)
RETURNING id
"""


def insert_payment(
    db: Sql, agent: AgentRecord, p: ValidPayment, channel: str, answer: dict[str, Any], now: Any
) -> int:
    services = [{"service_code": s.service_code, "amount": s.amount} for s in p.services]
    row = db.one(INSERT_PAYMENT_SQL, {
        "source": agent.source, "external_id": p.txn_id, "channel": channel,
        "collector": agent.name, "business_day": p.business_day.isoformat(),
        "amount": p.amount, "currency": p.currency, "reversal": False,
        "status": PaymentStatus.ALLOCATED,
        "account_no": p.account_no, "invoice_no": p.invoice_no,
        "services": db.json(services or None), "agent_id": agent.id, "digest": p.digest,
        "response": db.json(answer), "created_at": now,
    })  # fmt: skip
    assert row is not None
    return int(row[0])


INSERT_ALLOCATION_SQL = """
INSERT INTO allocations (payment_id, account_id, invoice_line_id, service_id, provider_id,
    amount, kind, business_day, created_by, created_at)
VALUES (:payment_id, :account_id, :line_id, :service_id, :provider_id, :amount, :kind, :day,
    :created_by, :created_at)
"""


def insert_allocations(
    db: Sql, conn: Connection, pid: int, account_id: int, day: date,
    rows: list[AllocationRow], created_by: str, now: Any,
) -> None:  # fmt: skip
    """The rows of ``reconciliation.service.insert_allocations``, in one executemany."""
    refs = _refs(conn, rows)
    db.many(INSERT_ALLOCATION_SQL, [
        {"payment_id": pid, "account_id": account_id, "line_id": r.line_id,
         "service_id": refs.services.get(r.service_code) if r.service_code else None,
         "provider_id": refs.providers.get(r.provider_code) if r.provider_code else None,
         "amount": r.amount, "kind": allocation_kind(r), "day": day.isoformat(),
         "created_by": created_by, "created_at": now}
        for r in rows
    ])  # fmt: skip


AUDIT_SQL = """
INSERT INTO api_requests (agent_id, method, path, body_sha256, body, status_code, received_at)
VALUES (:agent_id, :method, :path, :sha, :body, :status, :at)
"""


#: What ``api_requests.body`` keeps of a request: its first bytes (the sha256 is of the whole).
#: A body near the 10 MB limit stored whole on every post would fill the disk, not the audit.
AUDIT_BODY_BYTES = 4096


def write_audit(db: Sql, agent_id: int, audit: Audit | None, status: int, at: Any = None) -> None:
    """Keep the request (agent, method, path, the first ``AUDIT_BODY_BYTES`` of its body and
    the whole body's sha256, our status) at ``at`` (the transaction's ``Sql.ts`` timestamp;
    now when not given)."""
    if audit is None:
        return
    db.run(AUDIT_SQL, {
        "agent_id": agent_id, "method": audit.method, "path": audit.path[:300],
        "sha": hashlib.sha256(audit.body).hexdigest(), "body": audit.body[:AUDIT_BODY_BYTES],
        "status": status,
        "at": db.ts(datetime.now(UTC)) if at is None else at,
    })  # fmt: skip


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
