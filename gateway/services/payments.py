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
  of this process's writes are group-committed by one writer (``LoopWriter`` on the event
  loop for the HTTP API, ``GroupCommit``'s thread for synchronous callers), so the look-up
  and the insert are atomic, nothing sleeps in SQLite's busy handler, and one fsync serves
  many payments. On PostgreSQL two transactions can both miss; the unique index makes the
  second insert wait for the first and fail, and we then replay the winner's answer
  (``_after_race``).
- Hot path in DBAPI (``Sql``): the six statements of a payment go straight to the driver
  inside the SQLAlchemy transaction; the open lines are read per account with a correlated
  sum (``_open_lines``) and the allocation rows written like
  ``reconciliation.service.insert_allocations`` writes them, both because the Core versions
  cost several times the database work (see ``Sql``). Reversals, rare, use
  ``reconciliation.service.reverse_allocations`` as is.
- The payment, its allocations, its answer and the audit row of the request are written in
  one transaction (one savepoint of a group commit on SQLite), so nothing is half-done and
  no answer leaves before its commit is durable. ``payments.response`` holds the answer
  without ``payment_id`` (the row's own id), so the payment is one INSERT.
  Refused requests store no payment and no allocation.
- Business day: ``paid_at`` converted to Europe/Chisinau. A payment whose day is closed is
  booked on the first open day after it (the closed day stays as it was closed; the answer's
  ``business_day`` says where it went); a reversal into a closed day is refused
  (``DAY_CLOSED``). While the day is
  open, a reversal's compensating rows count for the payment's own business day, so the
  storno nets out inside the day the bank will settle.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import queue
import re
import sqlite3
import threading
import weakref
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import anyio.to_thread
import msgspec
from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.exc import IntegrityError, OperationalError

from gateway.services.accounts import (
    SQLITE_PRAGMAS,
    Refused,
    canonical_account,
    pyformat,
    reading,
)
from gateway.services.agents import AgentRecord
from gateway.services.day_close import first_open_day
from reconciliation.allocate import AllocationError, allocate
from reconciliation.model import AllocationRow, OpenLine, ServiceAmount
from reconciliation.money import MoneyError, format_amount, parse_amount
from reconciliation.service import RefIds, allocation_kind, reverse_allocations
from schemas.tables import business_days, payments

#: One million lei: far above any household's utility bill; a larger sum is a typo or worse.
MAX_PAYMENT_BANI = 100_000_000
TXN_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,34}$")
MAX_SERVICES = 50
FUTURE_SKEW = timedelta(days=1)

_GROUPS: weakref.WeakKeyDictionary[Engine, GroupCommit] = weakref.WeakKeyDictionary()
_GROUPS_LOCK = threading.Lock()
T = TypeVar("T")
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


def _tune(raw: Any) -> None:
    """The writer's cache pragmas: hints only. A pooled connection that an ingest used holds
    TEMP tables, and SQLite refuses to change temp_store then; it keeps its setting."""
    for pragma in SQLITE_PRAGMAS:
        try:
            raw.execute(pragma)
        except sqlite3.OperationalError:
            continue


class GroupCommit:
    """One writer thread per SQLite engine: one BEGIN and one fsync for a batch of writes.

    SQLite has one writer at a time and a durable commit costs an fsync, so committing each
    payment alone caps the rate at the disk's fsyncs per second, and threads queueing on the
    file lock sleep in SQLite's busy handler. Instead every write of this process is a job
    for the engine's writer thread: it takes all queued jobs, runs each inside a SAVEPOINT of
    one ``BEGIN IMMEDIATE`` transaction (a job that fails is rolled back to its savepoint
    alone), commits once, and only then completes the jobs' futures, so no caller hears
    "done" before its commit is durable. A ``write`` made by a job joins the batch's
    transaction. The thread ends after ``IDLE`` seconds without work and restarts on demand.
    """

    MAX_BATCH = 256
    IDLE = 5.0

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.jobs: queue.SimpleQueue[tuple[Callable[[Connection], Any], Future]] = (
            queue.SimpleQueue()
        )
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def submit(self, fn: Callable[[Connection], T]) -> Future[T]:
        fut: Future[T] = Future()
        self.jobs.put((fn, fut))
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._loop, name="sqlite-writer", daemon=True)
                self.thread.start()
        return fut

    def _loop(self) -> None:
        while True:
            try:
                batch = [self.jobs.get(timeout=self.IDLE)]
            except queue.Empty:
                with self.lock:
                    if self.jobs.empty():
                        self.thread = None
                        return
                continue
            while len(batch) < self.MAX_BATCH:
                try:
                    batch.append(self.jobs.get_nowait())
                except queue.Empty:
                    break
            self._commit(batch)

    def _commit(self, batch: list[tuple[Callable[[Connection], Any], Future]]) -> None:
        done: list[tuple[Future, Any, BaseException | None]] = []
        try:
            with self.engine.begin() as conn:
                raw = conn.connection.driver_connection
                _tune(raw)
                _writer.conn = conn
                for fn, fut in batch:
                    done.append(_savepoint(raw, conn, fn, fut))
        except Exception as exc:  # the commit itself failed: nothing of the batch is stored
            done = [(fut, None, exc) for _, fut in batch]
        finally:
            _writer.conn = None
        for fut, result, error in done:
            if error is None:
                fut.set_result(result)
            else:
                fut.set_exception(error)


_writer = threading.local()
#: How long a writer waits for another process's write lock (gateway.db's busy timeout).
BUSY_TIMEOUT_MS = 30_000


class LoopWriter:
    """The event loop's SQLite writer: statements on the loop thread, waits in worker threads.

    Same batching as ``GroupCommit``, but the jobs run on the event loop thread itself and
    only ``COMMIT`` (the fsync) goes to a worker thread, with ``BEGIN IMMEDIATE`` when another
    process holds the write lock (the writer's connection does not wait for locks, so BEGIN
    is tried on the loop first and handed to a thread that may wait only when it fails).
    Why: a writer thread hands the GIL back and forth with the event loop on every SQLite
    call (sqlite3 releases it around each statement), and under load each hand-back waits for
    the interpreter's switch interval; measured, that convoy and not SQLite was what limited
    posting, and every trip to a worker thread still costs a wake-up and a GIL hand-off. A
    payment's statements take a few hundred microseconds of CPU, less than the HTTP work
    around them, so the loop can afford them.
    """

    def __init__(self, engine: Engine, loop: asyncio.AbstractEventLoop) -> None:
        self.engine = engine
        self.loop = loop
        self.pending: list[tuple[Callable[[Connection], Any], asyncio.Future]] = []
        self.running = False
        #: The writer's connection, kept while there is work: taking one from the pool and
        #: setting its pragmas per batch cost Python work in a worker thread, and every
        #: trip there waits for the GIL while the loop is busy.
        self.conn: Connection | None = None

    async def run(self, fn: Callable[[Connection], T]) -> T:
        fut: asyncio.Future = self.loop.create_future()
        self.pending.append((fn, fut))
        if not self.running:
            self.running = True
            self.loop.create_task(self._drain())
        return await fut

    async def _drain(self) -> None:
        try:
            while self.pending:
                n = GroupCommit.MAX_BATCH
                batch, self.pending = self.pending[:n], self.pending[n:]
                await self._commit(batch)
        finally:
            self.running = False
            self._release()

    async def _commit(
        self, batch: list[tuple[Callable[[Connection], Any], asyncio.Future]]
    ) -> None:
        try:
            done = await self._run_batch(batch)
        except Exception as exc:  # BEGIN or COMMIT failed: nothing of the batch is stored
            done = [(fut, None, exc) for _, fut in batch]
        for fut, result, error in done:
            if fut.done():  # the caller went away (cancelled); the payment stands
                continue
            if error is None:
                fut.set_result(result)
            else:
                fut.set_exception(error)

    async def _run_batch(self, batch: list[tuple[Callable[[Connection], Any], asyncio.Future]]):  # type: ignore[no-untyped-def]
        conn = await self._begin()
        try:
            raw = conn.connection.driver_connection
            _writer.conn = conn
            try:
                done = [_savepoint(raw, conn, fn, fut) for fn, fut in batch]
            finally:
                _writer.conn = None
            await anyio.to_thread.run_sync(conn.commit)
            return done
        except BaseException:
            self._release()  # rolls back what was not committed
            raise

    async def _begin(self) -> Connection:
        """BEGIN IMMEDIATE on the kept connection: on the loop when the write lock is free
        (the usual case: this process is SQLite's only writer), else in a worker thread that
        waits for it like any other writer."""
        conn = self._connection()
        try:
            conn.begin()
        except OperationalError:  # SQLITE_BUSY at once: another writer holds the lock
            await anyio.to_thread.run_sync(self._begin_waiting, conn)
        return conn

    def _connection(self) -> Connection:
        """The kept connection, opened with the API's pragmas and no busy wait."""
        if self.conn is None:
            conn = self.engine.connect()
            raw = conn.connection.driver_connection
            _tune(raw)
            raw.execute("PRAGMA busy_timeout=0")
            self.conn = conn
        return self.conn

    @staticmethod
    def _begin_waiting(conn: Connection) -> None:
        raw = conn.connection.driver_connection
        raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        try:
            conn.begin()
        finally:
            raw.execute("PRAGMA busy_timeout=0")

    def _release(self) -> None:
        """Give the connection back to the pool, on the loop thread (after a commit there is
        nothing to roll back, and a rollback never waits for a lock), waiting for locks and
        spilling temporary data to disk again like every other connection of the pool (a
        bulk job on it may sort more than memory should hold)."""
        if self.conn is not None:
            conn, self.conn = self.conn, None
            try:
                raw = conn.connection.driver_connection
                raw.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
                raw.execute("PRAGMA temp_store=DEFAULT")
            except Exception:  # a broken connection: not to be handed out again
                conn.invalidate()
            conn.close()


def _savepoint(raw: Any, conn: Connection, fn: Callable[[Connection], Any], fut: Any):  # type: ignore[no-untyped-def]
    """Run one job inside its own savepoint: (fut, result, None) or (fut, None, error)."""
    raw.execute("SAVEPOINT job")
    try:
        out = (fut, fn(conn), None)
    except Exception as exc:
        raw.execute("ROLLBACK TO job")
        out = (fut, None, exc)
    raw.execute("RELEASE job")
    return out


_LOOP_WRITERS: weakref.WeakKeyDictionary[Engine, LoopWriter] = weakref.WeakKeyDictionary()


async def write_async(engine: Engine, fn: Callable[[Connection], T]) -> T:
    """``write`` for callers on an event loop: the loop's SQLite writer, else a worker thread."""
    if engine.dialect.name != "sqlite":
        return await anyio.to_thread.run_sync(write, engine, fn)
    loop = asyncio.get_running_loop()
    writer = _LOOP_WRITERS.get(engine)
    if writer is None or writer.loop is not loop:
        writer = _LOOP_WRITERS[engine] = LoopWriter(engine, loop)
    return await writer.run(fn)


def submit(engine: Engine, fn: Callable[[Connection], T]) -> Future[T]:
    """Queue ``fn(conn)`` on the SQLite engine's writer thread (see ``GroupCommit``)."""
    with _GROUPS_LOCK:
        group = _GROUPS.get(engine)
        if group is None:
            group = _GROUPS[engine] = GroupCommit(engine)
    return group.submit(fn)


def write(engine: Engine, fn: Callable[[Connection], T]) -> T:
    """Run ``fn(conn)`` in a write transaction: group-committed on SQLite (see GroupCommit)."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            return fn(conn)
    current = getattr(_writer, "conn", None)
    if current is not None and current.engine is engine:
        return fn(current)  # already a job on the writer thread: join its transaction
    return submit(engine, fn).result()


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
    # The hot path speaks DBAPI (see ``Sql``), so a unique violation arrives as the driver's
    # own IntegrityError, not SQLAlchemy's wrapper; either means another insert won the race.
    integrity = (IntegrityError, engine.dialect.loaded_dbapi.IntegrityError)
    try:
        return write(engine, lambda conn: _post_in_tx(conn, agent, p, channel, audit))
    except integrity:
        return _after_race(engine, agent, p, audit)


class Sql:
    """Plain SQL with ``:name`` parameters on the transaction's own DBAPI connection.

    The hot path of a payment is six small statements; through SQLAlchemy Core each costs
    ten times what the database needs for it (measured: 2.5 ms against 0.3 ms per payment),
    which alone would cap posting far below 1,000 per second. So the path speaks DBAPI
    directly inside the SQLAlchemy transaction (same connection, same commit), and this class
    hides the two backends' differences: parameter style, and how dates, timestamps and JSON
    are written so that SQLAlchemy reads them back exactly as if it had written them.
    """

    def __init__(self, conn: Connection) -> None:
        self.sqlite = conn.dialect.name == "sqlite"
        self.cur = conn.connection.driver_connection.cursor()

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


def _replay(prior: tuple, p: ValidPayment) -> Outcome:
    pid, digest, response = prior
    if digest != p.digest:
        raise Refused("TXN_CONFLICT", "agent_txn_id was already used with different content")
    return Outcome(200, _with_id(pid, response), pid, replay=True)


def _with_id(pid: int, stored: Any) -> dict[str, Any]:
    """The answer as sent: ``payments.response`` holds it without the row's own id."""
    return {"payment_id": pid, **_stored_response(stored)}


def _post_in_tx(
    conn: Connection, agent: AgentRecord, p: ValidPayment, channel: str, audit: Audit | None
) -> Outcome:
    db = Sql(conn)
    now = db.ts(datetime.now(UTC))  # one timestamp for the payment, its rows and its request
    found = db.one(PRIOR_AND_ACCOUNT_SQL, {
        "s": agent.source, "e": p.txn_id, "a": p.account_no, "d": p.business_day.isoformat(),
    })  # fmt: skip
    assert found is not None  # the statement always yields its one row
    if found[0] is not None:
        out = _replay(found[:3], p)
        _audit(db, agent.id, audit, out.status, now)
        return out
    account_id = _open_account(found[3:5])
    if found[5] == "closed":  # a late payment: booked on the first open day (see day_close)
        p = replace(p, business_day=first_open_day(conn, p.business_day))
    lines = _open_lines(db, account_id, p.account_no)
    try:
        rows = allocate(p.account_no, p.amount, lines, services=p.services, invoice_no=p.invoice_no)
    except AllocationError as exc:
        raise Refused(exc.code, str(exc)) from None
    answer = _answer(p, rows)
    pid = _insert_payment(db, agent, p, channel, answer, now)
    _insert_allocations(db, conn, pid, account_id, p.business_day, rows, agent.source, now)
    _audit(db, agent.id, audit, 201, now)
    return Outcome(201, _with_id(pid, answer), pid)


def _after_race(engine: Engine, agent: AgentRecord, p: ValidPayment, audit: Audit | None):  # type: ignore[no-untyped-def]
    """Another transaction inserted the same (source, external_id) first: answer as a retry."""

    def replay(conn: Connection) -> Outcome:
        db = Sql(conn)
        prior = db.one(FIND_SQL, {"s": agent.source, "e": p.txn_id})
        if prior is None:  # the integrity error was something else: a bug, not a race
            raise RuntimeError("payment insert failed without a competing payment")
        out = _replay(prior, p)
        _audit(db, agent.id, audit, out.status)
        return out

    return write(engine, replay)


#: One row, whatever exists: the prior payment with this (source, external_id), if any (a
#: retry is answered from it), then the account and the status of the business day that a
#: new payment is checked against. One statement instead of two on every post.
PRIOR_AND_ACCOUNT_SQL = """
SELECT p.id, p.request_sha256, p.response, a.id, a.status,
       (SELECT b.status FROM business_days b WHERE b.day = :d)
FROM (SELECT 1 AS one) AS q
LEFT JOIN payments p ON p.source = :s AND p.external_id = :e
LEFT JOIN accounts a ON a.account_no = :a
"""


def _open_account(found: tuple) -> int:
    """The account's id from (id, status), refusing an unknown or closed account."""
    account_id, status = found
    if account_id is None:
        raise Refused("ACCOUNT_NOT_FOUND", "no such account")
    if status != "open":
        raise Refused("ACCOUNT_CLOSED", "the account is closed")
    return int(account_id)


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


def _open_lines(db: Sql, account_id: int, account_no: str) -> list[OpenLine]:
    """One account's lines as ``reconciliation.service.load_open_lines`` gives them.

    The same query (what is open summed over the line index), by account id on the raw
    cursor: compiling the Core statement and loading the code maps for every payment would
    cost more than the query itself.
    """
    rows = db.all(OPEN_LINES_SQL, {"id": account_id})
    lines = [OpenLine(r[0], r[1], account_no, r[2], r[3], r[4], int(r[5])) for r in rows]
    lines.sort(key=lambda ln: (ln.period, ln.invoice_no, ln.line_id))
    return lines


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


INSERT_PAYMENT_SQL = """
INSERT INTO payments (source, external_id, channel, collector, business_day, amount, currency,
    direction, reversal, given_account_no, given_invoice_no, services, status, account_no,
    agent_id, request_sha256, response, created_at)
VALUES (:source, :external_id, :channel, :collector, :business_day, :amount, :currency,
    'credit', :reversal, :account_no, :invoice_no, :services, 'allocated', :account_no,
    :agent_id, :digest, :response, :created_at)
RETURNING id
"""


def _insert_payment(
    db: Sql, agent: AgentRecord, p: ValidPayment, channel: str, answer: dict[str, Any], now: Any
) -> int:
    services = [{"service_code": s.service_code, "amount": s.amount} for s in p.services]
    row = db.one(INSERT_PAYMENT_SQL, {
        "source": agent.source, "external_id": p.txn_id, "channel": channel,
        "collector": agent.name, "business_day": p.business_day.isoformat(),
        "amount": p.amount, "currency": p.currency, "reversal": False,
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


def _insert_allocations(
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


AUDIT_SQL = """
INSERT INTO api_requests (agent_id, method, path, body_sha256, body, status_code, received_at)
VALUES (:agent_id, :method, :path, :sha, :body, :status, :at)
"""


def _audit(db: Sql, agent_id: int, audit: Audit | None, status: int, at: Any = None) -> None:
    """Keep the request (agent, method, path, body and its sha256, our status) at ``at``
    (the transaction's ``Sql.ts`` timestamp; now when not given)."""
    if audit is None:
        return
    db.run(AUDIT_SQL, {
        "agent_id": agent_id, "method": audit.method, "path": audit.path[:300],
        "sha": hashlib.sha256(audit.body).hexdigest(), "body": audit.body, "status": status,
        "at": db.ts(datetime.now(UTC)) if at is None else at,
    })  # fmt: skip


def record_request(engine: Engine, agent_id: int, audit: Audit, status: int) -> None:
    """Keep a refused money-changing request (its own small transaction)."""
    write(engine, lambda conn: _audit(Sql(conn), agent_id, audit, status))


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
    if pay.status != "reversed":
        _require_open_day(conn, pay.business_day)
        if pay.status != "allocated":
            raise Refused("NOT_REVERSIBLE", f"a payment in status {pay.status} is not reversed")
        reverse_allocations(conn, pay.id, business_day=pay.business_day, created_by=agent.source)
        conn.execute(update(payments).where(payments.c.id == pay.id).values(status="reversed"))
    rows = conn.execute(text(ALLOCATIONS_SQL), {"pid": pay.id}).all()
    body = {
        "payment_id": pay.id,
        "agent_txn_id": txn_id,
        "status": "reversed",
        "business_day": str(pay.business_day),
        "allocations": [_row_json(k, i, s, p, int(a)) for k, i, s, p, a in rows if k == "reversal"],
    }
    _audit(Sql(conn), agent.id, audit, 200)
    return Outcome(200, body, pay.id)
