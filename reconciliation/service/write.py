"""Writes: payments, their allocations and review items in bulk; compensating reversals.

Allocations are append-only: a correction is a compensating row (``reverse_allocations``),
never an update.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from sqlalchemy import Connection, insert, select, update

from reconciliation.fold import search_text
from reconciliation.model import AllocationKind, AllocationRow, PaymentStatus
from reconciliation.plan import Planned, allocation_kind, candidates_json
from reconciliation.review import ReasonCode, ReviewState
from reconciliation.service.learned import record_placements
from reconciliation.service.load import RefIds, chunks, load_accounts
from schemas.bulk import bulk_insert, db_value, reserve_ids
from schemas.tables import allocations, business_days, payments, review_items

#: review items carry the payment's facts the workspace queue filters and sorts by
REVIEW_COLUMNS = ("id", "payment_id", "reason", "candidates", "state", "created_at", "search",
                  "business_day", "amount", "channel", "source", "best_score")  # fmt: skip
ALLOCATION_COLUMNS = (
    "id",
    "payment_id",
    "account_id",
    "invoice_line_id",
    "service_id",
    "provider_id",
    "amount",
    "kind",
    "reverses_id",
    "business_day",
    "created_by",
    "created_at",
)


def insert_allocations(
    conn: Connection,
    placed: Sequence[tuple[int, AllocationRow]],
    *,
    account_ids: Mapping[str, int],
    refs: RefIds,
    business_day: date | dict[int, date],
    created_by: str,
    kind: AllocationKind | None = None,
) -> int:
    """Write (payment_id, row) pairs in one bulk insert; returns the number of rows.

    ``business_day`` is one day for all rows or a payment_id -> day map (a file may span
    several booking days).
    """
    ids = reserve_ids(conn, allocations, len(placed))
    now = db_value(conn, datetime.now(UTC))
    # get(None) is None: advance rows have no service or provider
    svc = typing.cast(Callable[[str | None], int | None], refs.services.get)
    prov = typing.cast(Callable[[str | None], int | None], refs.providers.get)
    if isinstance(business_day, dict):
        day_of = {pid: db_value(conn, d) for pid, d in business_day.items()}
    else:
        day_of = dict.fromkeys((pid for pid, _ in placed), db_value(conn, business_day))
    # One tuple per row in a comprehension: this runs for every allocated line of a day.
    rows = [
        (
            aid,
            pid,
            account_ids[row.account_no],
            row.line_id,
            svc(row.service_code),
            prov(row.provider_code),
            row.amount,
            kind or allocation_kind(row),
            None,
            day_of[pid],
            created_by,
            now,
        )
        for aid, (pid, row) in zip(ids, placed, strict=True)
    ]
    return bulk_insert(conn, allocations, ALLOCATION_COLUMNS, rows)


def reverse_allocations(
    conn: Connection, payment_id: int, *, business_day: date, created_by: str
) -> int:
    """Post a compensating row for every allocation of ``payment_id`` not yet compensated.

    Idempotent: a row that already has its compensation is skipped, so a retried storno
    never reverses twice. The rows land on ``business_day`` (the day the correction is made).
    """
    a = allocations
    compensated = select(a.c.reverses_id).where(
        a.c.payment_id == payment_id, a.c.reverses_id.is_not(None)
    )
    originals = conn.execute(
        select(a).where(
            a.c.payment_id == payment_id,
            a.c.reverses_id.is_(None),
            a.c.kind != AllocationKind.REVERSAL,
            a.c.id.not_in(compensated),
        )
    ).all()
    now = datetime.now(UTC)
    rows = [
        {
            "payment_id": payment_id,
            "account_id": r.account_id,
            "invoice_line_id": r.invoice_line_id,
            "service_id": r.service_id,
            "provider_id": r.provider_id,
            "amount": -r.amount,
            "kind": AllocationKind.REVERSAL,
            "reverses_id": r.id,
            "business_day": business_day,
            "created_by": created_by,
            "created_at": now,
        }
        for r in originals
    ]
    if rows:
        conn.execute(insert(a), rows)
    return len(rows)


def book_on_open_days(conn: Connection, plans: Sequence[Planned]) -> None:
    """A record whose day is closed counts for the first open day after it: a closed day
    never changes (its booking and value dates stay as the bank gave them)."""
    first = min(p.business_day for p in plans)
    closed = set(
        conn.execute(
            select(business_days.c.day).where(
                business_days.c.status == "closed", business_days.c.day >= first
            )
        ).scalars()
    )
    if not closed:
        return
    for p in plans:
        while p.business_day in closed:
            p.business_day += timedelta(days=1)


def persist(
    conn: Connection,
    plans: Sequence[Planned],
    *,
    source: str,
    raw_file_id: int | None,
    actor: str,
    counts: dict[str, int],
    account_ids: Mapping[str, int] | None = None,
    review_state: ReviewState = ReviewState.OPEN,
) -> None:
    """Bulk-insert payments (ids reserved up front), then their allocations and review items.

    ``account_ids`` is the whole city's account_no -> id when the caller has it (else the
    accounts the rows name are looked up). Review items are written in ``review_state``
    (``HELD`` by an ingest until its file is applied)."""
    for p in plans:
        counts[str(p.status)] += 1
    if not plans:
        return
    book_on_open_days(conn, plans)
    now = datetime.now(UTC)
    stamp, day = db_value(conn, now), _day_value(conn)
    ids = reserve_ids(conn, payments, len(plans))
    bulk_insert(
        conn,
        payments,
        PAYMENT_COLUMNS,
        [
            _payment_row(conn, pid, p, source, raw_file_id, stamp, day)
            for pid, p in zip(ids, plans, strict=True)
        ],
    )
    if account_ids is None:
        account_ids = load_accounts(conn, {r.account_no for p in plans for r in p.rows})
    placed = [(pid, row) for pid, p in zip(ids, plans, strict=True) for row in p.rows]
    days = {pid: p.business_day for pid, p in zip(ids, plans, strict=True)}
    insert_allocations(
        conn,
        placed,
        account_ids=account_ids,
        refs=RefIds.load(conn),
        business_day=days,
        created_by=actor,
    )
    _apply_reversals(conn, plans, actor)
    record_placements(conn, list(zip(ids, plans, strict=True)))
    reviews = [
        (pid, p) for pid, p in zip(ids, plans, strict=True) if p.status == PaymentStatus.REVIEW
    ]
    review_ids = reserve_ids(conn, review_items, len(reviews))
    bulk_insert(
        conn,
        review_items,
        REVIEW_COLUMNS,
        [
            (
                rid,
                pid,
                p.reason or ReasonCode.NO_REFERENCE,
                db_value(conn, candidates_json(p)),
                review_state,
                db_value(conn, now),
                search_text(p.record.debtor_name, p.record.debtor_iban, p.record.remittance),
                day(p.business_day),
                p.record.amount,
                p.channel,
                source,
                round(p.candidates[0].score * 1000) if p.candidates else None,
            )
            for rid, (pid, p) in zip(review_ids, reviews, strict=True)
        ],
    )


def _apply_reversals(conn: Connection, plans: Sequence[Planned], actor: str) -> None:
    """``reverse_allocations`` and the status ``reversed`` for every original the plans
    reverse, in one read, one bulk insert and one update per chunk of originals (a statement
    may carry hundreds of reversals). An original reversed twice in the batch is compensated
    once, on the day of its first reversal."""
    days: dict[int, date] = {}
    for p in plans:
        if p.reverses_payment_id is not None:
            days.setdefault(p.reverses_payment_id, p.business_day)
    if not days:
        return
    a = allocations
    now = db_value(conn, datetime.now(UTC))
    for chunk in chunks(list(days)):
        done = a.alias("done")  # a compensation row carries its original's payment_id
        compensated = select(done.c.id).where(
            done.c.payment_id == a.c.payment_id, done.c.reverses_id == a.c.id
        )
        originals = conn.execute(
            select(
                a.c.id,
                a.c.payment_id,
                a.c.account_id,
                a.c.invoice_line_id,
                a.c.service_id,
                a.c.provider_id,
                a.c.amount,
            )
            .where(
                a.c.payment_id.in_(chunk),
                a.c.reverses_id.is_(None),
                a.c.kind != AllocationKind.REVERSAL,
                ~compensated.exists(),
            )
            .order_by(a.c.payment_id, a.c.id)
        ).all()
        ids = reserve_ids(conn, allocations, len(originals))
        rows = [
            (
                aid,
                pid,
                acc,
                line,
                svc,
                prov,
                -amount,
                AllocationKind.REVERSAL,
                oid,
                db_value(conn, days[pid]),
                actor,
                now,
            )
            for aid, (oid, pid, acc, line, svc, prov, amount) in zip(ids, originals, strict=True)
        ]
        bulk_insert(conn, allocations, ALLOCATION_COLUMNS, rows)
        conn.execute(
            update(payments).where(payments.c.id.in_(chunk)).values(status=PaymentStatus.REVERSED)
        )


PAYMENT_COLUMNS = (
    "id",
    "source",
    "external_id",
    "channel",
    "collector",
    "business_day",
    "booking_date",
    "value_date",
    "amount",
    "currency",
    "direction",
    "reversal",
    "end_to_end_id",
    "account_servicer_ref",
    "remittance",
    "debtor_name",
    "debtor_iban",
    "given_account_no",
    "given_invoice_no",
    "payment_ref",
    "services",
    "batch_ref",
    "period",
    "status",
    "account_no",
    "reason",
    "raw_file_id",
    "statement_account",
    "reverses_payment_id",
    "created_at",
)


def _payment_row(
    conn: Connection,
    pid: int,
    p: Planned,
    source: str,
    raw_file_id: int | None,
    now: object,
    day: Callable[[date | None], object],
) -> tuple:
    """The PAYMENT_COLUMNS of one plan, driver-ready (``now`` already is, ``day`` converts
    dates: both chosen once per batch in ``persist``)."""
    r = p.record
    services_json = (
        db_value(conn, [{"service_code": s.service_code, "amount": s.amount} for s in r.services])
        if r.services
        else None
    )
    return (
        pid,
        source,
        r.external_id,
        p.channel,
        r.collector,
        day(p.business_day),
        day(r.booking_date),
        day(r.value_date),
        r.amount,
        r.currency,
        r.direction,
        r.reversal,
        r.end_to_end_id,
        r.account_servicer_ref,
        r.remittance,
        r.debtor_name,
        r.debtor_iban,
        r.account_no,
        r.invoice_no,
        r.payment_ref,
        services_json,
        r.batch_ref,
        r.period,
        p.status,
        p.account_no,
        p.reason,
        raw_file_id,
        r.extra.get("id_scope") or None,  # the statement's account (camt, MT940)
        p.reverses_payment_id,
        now,
    )


def _day_value(conn: Connection) -> Callable[[date | None], object]:
    """Dates as the driver takes them, memoised: a file's payments share a few days, and
    the SQLite driver's own adapter is a Python call per value."""
    if conn.dialect.name != "sqlite":
        return _same
    return _iso_day


def _same(value: date | None) -> object:
    return value


@lru_cache(maxsize=1024)
def _iso_day(value: date | None) -> str | None:
    return None if value is None else value.isoformat()
