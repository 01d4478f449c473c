"""The one DB-aware module of reconciliation: load a batch's world once, persist results in bulk.

The pure core (match.py, allocate.py) never sees a connection. Callers (the file ingest, the
bank API, the review queue) use these functions to load what a batch needs in one or two
queries, run the core in memory, and write payments and allocations with set-based inserts.
What is "open" on an invoice line is always derived (amount due minus the sum of its
allocations), never stored, because allocations are append-only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Connection, func, insert, select

from reconciliation.model import AccountInfo, AllocationRow, OpenLine
from schemas.tables import (
    accounts,
    allocations,
    invoice_lines,
    invoices,
    providers,
    services,
)

# SQLite caps bound parameters per statement; chunk IN lists well below it.
_IN_CHUNK = 900


@dataclass(frozen=True)
class RefIds:
    """Code -> id maps for the small reference tables, loaded once per batch."""

    services: dict[str, int]
    providers: dict[str, int]

    @classmethod
    def load(cls, conn: Connection) -> RefIds:
        return cls(
            services=dict(conn.execute(select(services.c.code, services.c.id)).all()),
            providers=dict(conn.execute(select(providers.c.code, providers.c.id)).all()),
        )


def _chunks(items: Sequence[str], size: int = _IN_CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def load_accounts(conn: Connection, account_nos: Collection[str] | None = None) -> dict[str, int]:
    """account_no -> id, for the given numbers or for the whole city."""
    q = select(accounts.c.account_no, accounts.c.id)
    if account_nos is None:
        return dict(conn.execute(q).all())
    out: dict[str, int] = {}
    for chunk in _chunks(sorted(set(account_nos))):
        out.update(conn.execute(q.where(accounts.c.account_no.in_(chunk))).all())
    return out


def load_account_infos(conn: Connection) -> list[AccountInfo]:
    """Every account as the matcher sees it (number, payer, address, status)."""
    rows = conn.execute(
        select(accounts.c.account_no, accounts.c.payer_name, accounts.c.address, accounts.c.status)
    )
    return [AccountInfo(*r) for r in rows]


def _allocated_per_line():  # type: ignore[no-untyped-def]
    return (
        select(allocations.c.invoice_line_id, func.sum(allocations.c.amount).label("paid"))
        .where(allocations.c.invoice_line_id.is_not(None))
        .group_by(allocations.c.invoice_line_id)
        .subquery()
    )


def _open_lines_query():  # type: ignore[no-untyped-def]
    paid = _allocated_per_line()
    return (
        select(
            invoice_lines.c.id,
            invoices.c.invoice_no,
            accounts.c.account_no,
            invoices.c.period,
            services.c.code,
            providers.c.code,
            invoice_lines.c.amount_due - func.coalesce(paid.c.paid, 0),
        )
        .select_from(invoice_lines)
        .join(invoices, invoices.c.id == invoice_lines.c.invoice_id)
        .join(accounts, accounts.c.id == invoices.c.account_id)
        .join(services, services.c.id == invoice_lines.c.service_id)
        .join(providers, providers.c.id == invoice_lines.c.provider_id)
        .outerjoin(paid, paid.c.invoice_line_id == invoice_lines.c.id)
        .where(invoices.c.status == "open")
    )


def load_open_lines(
    conn: Connection, account_nos: Collection[str] | None = None
) -> dict[str, list[OpenLine]]:
    """account_no -> its open-invoice lines with what is still open, oldest period first.

    Lines fully paid are kept (open_amount 0): the allocator needs to see them to know a
    named service was billed, and to put a reversal back where it came from.
    """
    q = _open_lines_query()
    rows: list = []
    if account_nos is None:
        rows = conn.execute(q).all()
    else:
        for chunk in _chunks(sorted(set(account_nos))):
            rows.extend(conn.execute(q.where(accounts.c.account_no.in_(chunk))).all())
    out: dict[str, list[OpenLine]] = defaultdict(list)
    for r in rows:
        out[r[2]].append(OpenLine(r[0], r[1], r[2], r[3], r[4], r[5], int(r[6])))
    for lines in out.values():
        lines.sort(key=lambda ln: (ln.period, ln.invoice_no, ln.line_id))
    return dict(out)


def load_advance_credit(
    conn: Connection, account_nos: Collection[str] | None = None
) -> dict[str, int]:
    """account_no -> advance credit (bani) not yet consumed by invoices."""
    q = (
        select(accounts.c.account_no, func.sum(allocations.c.amount))
        .join(accounts, accounts.c.id == allocations.c.account_id)
        .where(allocations.c.invoice_line_id.is_(None))
        .group_by(accounts.c.account_no)
    )
    out: dict[str, int] = {}
    if account_nos is None:
        out.update((a, int(s)) for a, s in conn.execute(q))
    else:
        for chunk in _chunks(sorted(set(account_nos))):
            out.update(
                (a, int(s)) for a, s in conn.execute(q.where(accounts.c.account_no.in_(chunk)))
            )
    return {a: s for a, s in out.items() if s}


def allocation_kind(row: AllocationRow) -> str:
    if row.amount < 0:
        return "reversal"
    return "advance" if row.line_id is None else "payment"


def insert_allocations(
    conn: Connection,
    placed: Iterable[tuple[int, AllocationRow]],
    *,
    account_ids: dict[str, int],
    refs: RefIds,
    business_day: date | dict[int, date],
    created_by: str,
    kind: str | None = None,
) -> int:
    """Write (payment_id, row) pairs in one executemany; returns the number of rows.

    ``business_day`` is one day for all rows or a payment_id -> day map (a file may span
    several booking days).
    """
    now = datetime.now(UTC)
    batch = [
        {
            "payment_id": pid,
            "account_id": account_ids[row.account_no],
            "invoice_line_id": row.line_id,
            "service_id": refs.services.get(row.service_code) if row.service_code else None,
            "provider_id": refs.providers.get(row.provider_code) if row.provider_code else None,
            "amount": row.amount,
            "kind": kind or allocation_kind(row),
            "reverses_id": None,
            "business_day": business_day[pid] if isinstance(business_day, dict) else business_day,
            "created_by": created_by,
            "created_at": now,
        }
        for pid, row in placed
    ]
    if batch:
        conn.execute(insert(allocations), batch)
    return len(batch)


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
            a.c.kind != "reversal",
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
            "kind": "reversal",
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
