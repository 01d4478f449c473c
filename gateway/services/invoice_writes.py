"""The database half of the register import: bulk loads and bulk writes, no query per row.

Kept apart from ``gateway.services.invoices`` (which decides what to write) so that each
function here is one statement or one bulk load. Rows are written with one executemany per
table on SQLite and with COPY on PostgreSQL (psycopg 3), with ids reserved up front so that
lines can point at their invoices without reading anything back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import BindParameter, Connection, Table, bindparam, insert, select, update

from schemas import tables as t
from schemas.bulk import bulk_insert, reserve_ids

if TYPE_CHECKING:
    from connectors.formats.invoice_register import InvoiceRow, Register

_CHUNK = 500


def _chunks(items: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]


# --- reference data and accounts -------------------------------------------------------------


def _upsert_coded(
    conn: Connection, table: Table, rows: Sequence[tuple[str, ...]], fields: Sequence[str]
) -> int:
    """Insert unknown codes, update changed ones; rows are (code, *fields). Returns changes."""
    existing = {
        r[0]: (r[1], tuple(r[2:]))
        for r in conn.execute(select(table.c.code, table.c.id, *(table.c[f] for f in fields)))
    }
    new = [dict(zip(("code", *fields), r, strict=True)) for r in rows if r[0] not in existing]
    changed = [
        {"_id": existing[r[0]][0], **dict(zip(fields, r[1:], strict=True))}
        for r in rows
        if r[0] in existing and existing[r[0]][1] != tuple(r[1:])
    ]
    if new:
        conn.execute(insert(table), new)
    if changed:
        values: dict[str, BindParameter[Any]] = {f: bindparam(f) for f in fields}
        conn.execute(update(table).where(table.c.id == bindparam("_id")).values(values), changed)
    return len(new) + len(changed)


def upsert_reference(conn: Connection, reg: Register) -> int:
    """Providers, services and managers: small tables, Core bulk statements."""
    return (
        _upsert_coded(conn, t.providers, reg.providers, ("name", "iban"))
        + _upsert_coded(conn, t.services, reg.services, ("name",))
        + _upsert_coded(conn, t.managers, reg.managers, ("name",))
    )


def code_ids(conn: Connection, table: Table) -> dict[str, int]:
    return {code: id_ for code, id_ in conn.execute(select(table.c.code, table.c.id))}


def upsert_accounts(conn: Connection, reg: Register) -> tuple[dict[str, int], int, int]:
    """Accounts by number: new ones inserted, changed ones (e.g. now closed) updated.

    Returns (account_no -> id for every account in the register, inserted, updated).
    """
    a = t.accounts
    managers = code_ids(conn, t.managers)
    existing = {
        r[0]: (r[1], tuple(r[2:]))
        for r in conn.execute(
            select(a.c.account_no, a.c.id, a.c.manager_id, a.c.payer_name, a.c.address, a.c.status)
        )
    }
    ids = {no: v[0] for no, v in existing.items()}
    fresh, changed = [], []
    for no, manager, payer, address, status in reg.accounts:
        values = (managers[manager], payer, address, status)
        old = existing.get(no)
        if old is None:
            fresh.append((no, *values))
        elif old[1] != values:
            changed.append({"_id": old[0], "m": values[0], "p": payer, "a": address, "s": status})
    new_ids = reserve_ids(conn, a, len(fresh))
    rows = [(i, *r) for i, r in zip(new_ids, fresh, strict=True)]
    bulk_insert(
        conn, a, ("id", "account_no", "manager_id", "payer_name", "address", "status"), rows
    )
    ids.update((r[1], r[0]) for r in rows)
    if changed:
        stmt = update(a).where(a.c.id == bindparam("_id"))
        params: dict[str, BindParameter[Any]] = {"manager_id": bindparam("m")}
        params |= {"payer_name": bindparam("p"), "address": bindparam("a")}
        params |= {"status": bindparam("s")}
        conn.execute(stmt.values(params), changed)
    return ids, len(fresh), len(changed)


# --- invoices --------------------------------------------------------------------------------


def load_open_invoices(
    conn: Connection, periods: Sequence[str]
) -> dict[str, tuple[int, int, tuple[object, ...]]]:
    """invoice_no -> (id, version, (account_id, period, issued_on, due_on, payment_ref))."""
    i = t.invoices
    q = select(
        i.c.invoice_no, i.c.id, i.c.version, i.c.account_id, i.c.period, i.c.issued_on,
        i.c.due_on, i.c.payment_ref,
    ).where(i.c.status == "open", i.c.period.in_(list(periods)))  # fmt: skip
    return {r[0]: (r[1], r[2], tuple(r[3:])) for r in conn.execute(q)}


def load_open_lines(
    conn: Connection, periods: Sequence[str]
) -> dict[int, list[tuple[str, str, int]]]:
    """invoice id -> sorted (service_code, provider_code, amount_due) of its lines."""
    i, il, s, p = t.invoices, t.invoice_lines, t.services, t.providers
    q = (
        select(il.c.invoice_id, s.c.code, p.c.code, il.c.amount_due)
        .join(i, i.c.id == il.c.invoice_id)
        .join(s, s.c.id == il.c.service_id)
        .join(p, p.c.id == il.c.provider_id)
        .where(i.c.status == "open", i.c.period.in_(list(periods)))
    )
    out: dict[int, list[tuple[str, str, int]]] = {}
    for inv_id, svc, prov, amount in conn.execute(q):
        out.setdefault(inv_id, []).append((svc, prov, amount))
    for lines in out.values():
        lines.sort()
    return out


def insert_import(
    conn: Connection, reg: Register, sha256: str, *, new: int, versioned: int, unchanged: int
) -> int:
    """The register_imports row that the new invoices point at."""
    result = conn.execute(
        insert(t.register_imports).values(
            periods=",".join(reg.periods),
            sha256=sha256,
            imported_at=datetime.now(UTC),
            invoices=new + versioned,
            lines=0,
            note=f"{unchanged} unchanged, {versioned} versioned",
        )
    )
    key = result.inserted_primary_key
    assert key is not None  # None only when no row was inserted; this inserts one
    return int(key[0])


def write_invoices(
    conn: Connection,
    new: Sequence[InvoiceRow],
    versioned: Sequence[tuple[InvoiceRow, int, int]],
    account_ids: dict[str, int],
    import_id: int,
) -> int:
    """Supersede changed invoices, insert new ones and new versions with their lines."""
    for chunk in _chunks([old_id for _, old_id, _ in versioned]):
        conn.execute(
            update(t.invoices).where(t.invoices.c.id.in_(chunk)).values(status="superseded")
        )
    todo = [(inv, 1) for inv in new] + [(inv, ver + 1) for inv, _, ver in versioned]
    ids = reserve_ids(conn, t.invoices, len(todo))
    iso: dict[object, str] = {}
    head_rows = []
    for inv_id, (inv, version) in zip(ids, todo, strict=True):
        issued = iso.get(inv.issued_on) or iso.setdefault(inv.issued_on, inv.issued_on.isoformat())
        due = iso.get(inv.due_on) or iso.setdefault(inv.due_on, inv.due_on.isoformat())
        head_rows.append(
            (inv_id, inv.invoice_no, version, account_ids[inv.account_no], inv.period,
             issued, due, inv.payment_ref, "open", import_id)
        )  # fmt: skip
    cols = ("id", "invoice_no", "version", "account_id", "period", "issued_on", "due_on")
    bulk_insert(conn, t.invoices, (*cols, "payment_ref", "status", "import_id"), head_rows)
    del head_rows
    svc, prov = code_ids(conn, t.services), code_ids(conn, t.providers)
    line_cols = ("invoice_id", "service_id", "provider_id", "amount_due")
    rows = _line_rows(zip(ids, (inv for inv, _ in todo), strict=True), svc, prov)
    n = bulk_insert(conn, t.invoice_lines, line_cols, rows)
    conn.execute(
        update(t.register_imports).where(t.register_imports.c.id == import_id).values(lines=n)
    )
    return n


def _line_rows(
    invoices: Iterable[tuple[int, InvoiceRow]], svc: dict[str, int], prov: dict[str, int]
) -> Iterator[tuple[int, int, int, int]]:
    """invoice_lines rows, generated: ``bulk_insert`` takes them in bounded chunks, so the
    1.8 M row tuples of a seed register never exist all at once."""
    for inv_id, inv in invoices:
        for s, p, bani in inv.lines:
            yield inv_id, svc[s], prov[p], bani


def refresh_statistics(conn: Connection) -> None:
    """PostgreSQL: the planner's statistics of the tables the import filled, at once.

    Without them, until autovacuum comes by, the first ingests plan their lines query for
    a near-empty table (a full sort of all 1.8 M lines per round, ten seconds each at seed
    scale). ANALYZE in the import's own transaction counts its rows; SQLite plans by rule.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE accounts, invoices, invoice_lines")
