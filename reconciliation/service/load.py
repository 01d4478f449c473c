"""Loaders: what a batch needs from the database, in one or two queries, as core shapes.

What is "open" on an invoice line is always derived (amount due minus the sum of its
allocations), never stored, because allocations are append-only.
"""

from __future__ import annotations

import typing
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import (
    BigInteger,
    Connection,
    CursorResult,
    Select,
    String,
    and_,
    cast,
    func,
    select,
    values,
)
from sqlalchemy import column as sa_column

from reconciliation.model import AccountInfo, OpenLine, PaymentRecord, PaymentStatus
from schemas.bulk import in_keys, keyset
from schemas.tables import (
    accounts,
    allocations,
    invoice_lines,
    invoices,
    payments,
    providers,
    services,
)

# SQLite caps bound parameters per statement; chunk IN lists well below it.
IN_CHUNK = 900
T = TypeVar("T")


def rows_of(result: CursorResult[Any]) -> Iterable[tuple[Any, ...]]:
    """The rows straight from the driver's cursor (no Result row objects): for big reads."""
    return typing.cast(Iterable[tuple[Any, ...]], result.cursor)


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

    def by_id(self) -> tuple[dict[int, str], dict[int, str]]:
        """id -> code for services and providers (the codes are shared, interned strings)."""
        return (
            {i: c for c, i in self.services.items()},
            {i: c for c, i in self.providers.items()},
        )


def chunks(items: Sequence[T], size: int = IN_CHUNK) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def load_accounts(conn: Connection, account_nos: Collection[str] | None = None) -> dict[str, int]:
    """account_no -> id, for the given numbers or for the whole city."""
    q = select(accounts.c.account_no, accounts.c.id)
    if account_nos is None:
        return dict(conn.execute(q).all())
    out: dict[str, int] = {}
    for chunk in chunks(sorted(set(account_nos))):
        out.update(conn.execute(q.where(accounts.c.account_no.in_(chunk))).all())
    return out


def load_account_infos(
    conn: Connection, account_nos: Collection[str] | None = None
) -> list[AccountInfo]:
    """Accounts as the matcher sees them (number, payer, address, status); all, or some.

    Read through the raw driver cursor, not SQLAlchemy's Result: the whole city is read at
    once (docs/perf.md).
    """
    status = {"open": "open", "closed": "closed"}  # one shared string per status
    sql = "SELECT account_no, payer_name, address, status FROM accounts"
    if account_nos is None:
        rows = conn.exec_driver_sql(sql).cursor.fetchall()
    elif len(account_nos) <= IN_CHUNK:
        marks = ", ".join("?" if conn.dialect.name == "sqlite" else "%s" for _ in account_nos)
        rows = conn.exec_driver_sql(
            f"{sql} WHERE account_no IN ({marks})", tuple(account_nos)
        ).cursor.fetchall()
    else:
        keyset(conn, "account_infos", account_nos)
        rows = conn.exec_driver_sql(
            f"{sql} WHERE account_no IN (SELECT k FROM tmp_account_infos)"
        ).cursor.fetchall()
    return [AccountInfo(a, n, ad, status.get(st, st)) for a, n, ad, st in rows]


def _lines_query() -> Select[Any]:
    """Open invoices' lines as ``OpenLine`` fields in order, what is still open computed by
    the database (amount due minus the line's allocations, through the line index), grouped
    by account and oldest period first."""
    a = allocations
    paid = (
        select(func.coalesce(func.sum(a.c.amount), 0))
        .where(a.c.invoice_line_id == invoice_lines.c.id)
        .scalar_subquery()
    )
    return (
        select(
            invoice_lines.c.id,
            invoices.c.invoice_no,
            accounts.c.account_no,
            invoices.c.period,
            invoice_lines.c.service_id,
            invoice_lines.c.provider_id,
            cast(invoice_lines.c.amount_due - paid, BigInteger),
        )
        .select_from(invoice_lines)
        .join(invoices, invoices.c.id == invoice_lines.c.invoice_id)
        .join(accounts, accounts.c.id == invoices.c.account_id)
        .where(invoices.c.status == "open")
        .order_by(
            accounts.c.account_no, invoices.c.period, invoices.c.invoice_no, invoice_lines.c.id
        )
    )


def load_open_lines(
    conn: Connection, account_nos: Collection[str] | None = None
) -> dict[str, list[OpenLine]]:
    """account_no -> its open-invoice lines with what is still open, oldest period first.

    Lines fully paid are kept (open_amount 0): the allocator needs to see them to know a
    named service was billed. One query; a large account set goes through a temporary key
    table, not an IN list. Rows come straight from the driver cursor (a round of 10,000
    payments reads ~85,000 lines); service and provider ids become their shared code strings
    (the codes as the driver reads them would be two new strings per line).
    """
    q = _lines_query()
    if account_nos is not None:
        if len(account_nos) <= IN_CHUNK:
            q = q.where(accounts.c.account_no.in_(sorted(set(account_nos))))
        else:
            keys = keyset(conn, "accounts", account_nos)
            q = q.where(in_keys(accounts.c.account_no, keys))
    service_code, provider_code = (m.__getitem__ for m in RefIds.load(conn).by_id())
    new = tuple.__new__
    out: dict[str, list[OpenLine]] = {}
    group: list[OpenLine] = []
    current = None
    for lid, inv, acc, period, sid, pid, left in rows_of(conn.execute(q)):
        if acc != current:
            current, group = acc, []
            out[acc] = group
        fields = (lid, inv, current, period, service_code(sid), provider_code(pid), left)
        group.append(new(OpenLine, fields))
    return out


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
        for chunk in chunks(sorted(set(account_nos))):
            out.update(
                (a, int(s)) for a, s in conn.execute(q.where(accounts.c.account_no.in_(chunk)))
            )
    return {a: s for a, s in out.items() if s}


def load_invoices(
    conn: Connection, numbers: Collection[str], refs: Collection[str]
) -> list[tuple[str, str, str]]:
    """(invoice_no, payment_ref, account_no) of open invoices named by number or reference."""
    q = (
        select(invoices.c.invoice_no, invoices.c.payment_ref, accounts.c.account_no)
        .join(accounts, accounts.c.id == invoices.c.account_id)
        .where(invoices.c.status == "open")
    )
    rows: set[tuple[str, str, str]] = set()
    for column, keys, name in (
        (invoices.c.invoice_no, numbers, "invoice_nos"),
        (invoices.c.payment_ref, refs, "payment_refs"),
    ):
        if keys:
            table = keyset(conn, name, keys)
            rows.update(tuple(r) for r in conn.execute(q.where(in_keys(column, table))))
    return sorted(rows)


#: (column value, amount) pairs per originals query: two bound parameters each.
_PAIRS_CHUNK = IN_CHUNK // 2


def load_originals(
    conn: Connection, records: Sequence[PaymentRecord]
) -> list[tuple[int, str | None] | None]:
    """For each reversal record, the (id, account_no) of the payment it reverses, or None.

    The original is a payment of any source, not itself a reversal nor already reversed,
    with the record's amount and its account servicer reference, else its end-to-end id;
    the lowest id when several qualify. One query per reference column and chunk of
    records, joined against a VALUES list of (reference, amount) pairs through the column's
    index, not a query per record.
    """
    p = payments
    out: list[tuple[int, str | None] | None] = [None] * len(records)
    for name in ("account_servicer_ref", "end_to_end_id"):
        ref = p.c[name]
        todo = [
            (i, v, r.amount)
            for i, r in enumerate(records)
            if out[i] is None and (v := getattr(r, name))
        ]
        found: dict[tuple[str, int], tuple[int, str | None]] = {}
        for chunk in chunks(sorted({(v, amount) for _, v, amount in todo}), _PAIRS_CHUNK):
            wanted = (
                values(sa_column("ref", String), sa_column("amount", BigInteger), name="wanted")
                .data(list(chunk))
                .cte("wanted")
            )  # a CTE: SQLite names no columns of a VALUES alias
            q = (
                select(p.c.id, p.c.account_no, ref, p.c.amount)
                .join(wanted, and_(ref == wanted.c.ref, p.c.amount == wanted.c.amount))
                .where(p.c.reversal.is_(False), p.c.status != PaymentStatus.REVERSED)
                .order_by(p.c.id.desc())  # the lowest id comes last, so it stays
            )
            found.update(((v, amount), (pid, acc)) for pid, acc, v, amount in conn.execute(q))
        for i, v, amount in todo:
            out[i] = found.get((v, amount))
    return out
