"""Import the monthly invoice register: all or nothing, idempotent, fast, never silent.

``import_register(engine, dir)`` validates the whole register in memory first
(``connectors.formats.invoice_register``), then writes it in one transaction:

- the same files again (sha256 over the five files, in name order) is a no-op that says so;
- providers, services, managers and accounts are upserted (an account may become closed);
- an invoice already in the database with the same header and lines stays as it is;
- a changed invoice gets a new version and the old one becomes 'superseded', unless
  allocations already reference its lines: then the whole import is refused and names the
  first few such invoices, because rewriting what money was placed on is never silent;
- invoices of the period that the new register no longer lists are left untouched (reported).

Speed: ids are resolved through dicts loaded once, rows go in with one executemany per table
(SQLite) or COPY (PostgreSQL); there is no query per row and no ORM unit of work. Figures,
and why writing while reading is not done, in docs/perf.md.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import IntegrityError

from connectors.formats.invoice_register import FILES, InvoiceRow, Register, read_register
from gateway.db import bulk_transaction
from gateway.errors import UserError
from gateway.gcpause import gc_paused
from gateway.progress import Bar, bar
from gateway.services import invoice_writes as w
from reconciliation.allocate import DEFAULT_POLICY, AllocationPolicy
from reconciliation.model import CITY_TIMEZONE
from reconciliation.service import business_today, consume_advances
from schemas import tables as t

_CHUNK = 500  # ids per IN (...) list: far below every backend's parameter limit


@dataclass
class ImportSummary:
    """What an import did; ``describe()`` is what the CLI prints."""

    sha256: str
    periods: tuple[str, ...] = ()
    noop: bool = False
    import_id: int | None = None
    invoices_new: int = 0
    invoices_unchanged: int = 0
    invoices_versioned: int = 0
    invoices_missing: int = 0  # in the database for these periods, absent from the register
    lines: int = 0
    advance_rows: int = 0
    accounts_new: int = 0
    accounts_updated: int = 0
    reference_rows: int = 0  # providers, services and managers inserted or updated
    seconds: float = 0.0
    previous: str = ""  # for a no-op: when the same files were imported before

    def describe(self) -> str:
        if self.noop:
            return (
                f"register already imported ({self.previous}, sha256 {self.sha256[:12]}): "
                "nothing to do"
            )
        parts = [
            f"imported register for {', '.join(self.periods) or 'no period'}"
            f" (import #{self.import_id}, sha256 {self.sha256[:12]}) in {self.seconds:.1f}s",
            f"invoices: {self.invoices_new} new, {self.invoices_versioned} new versions, "
            f"{self.invoices_unchanged} unchanged; {self.lines} lines written",
            f"accounts: {self.accounts_new} new, {self.accounts_updated} updated",
            f"advance credit placed on the new invoices: {self.advance_rows} allocation rows",
        ]
        if self.invoices_missing:
            parts.append(
                f"{self.invoices_missing} invoices of these periods are not in this register "
                "and were left as they were"
            )
        return "\n".join(parts)


@dataclass
class _Plan:
    """Which register invoices to write and which database invoices they supersede."""

    new: list[InvoiceRow] = field(default_factory=list)
    versioned: list[tuple[InvoiceRow, int, int]] = field(default_factory=list)  # row, id, ver
    unchanged: int = 0
    missing: int = 0


def register_digest(folder: Path) -> str:
    """sha256 over the register's five files in name order (name and bytes of each)."""
    h = hashlib.sha256()
    for name in sorted(FILES):
        path = Path(folder) / name
        if not path.is_file():
            continue  # read_register reports the missing file with its name
        h.update(name.encode() + b"\0")
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                h.update(chunk)
        h.update(b"\0")
    return h.hexdigest()


def import_register(
    engine: Engine,
    folder: Path,
    progress: bool = False,
    policy: AllocationPolicy = DEFAULT_POLICY,
    timezone: str = CITY_TIMEZONE,
) -> ImportSummary:
    """Import the register in ``folder`` (see the module docstring); refuses with UserError.

    Advance credit is placed on the new invoices by ``policy`` (the TOML ``[allocation]``),
    on today in ``timezone`` (``Settings.timezone``).
    """
    started = time.perf_counter()
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"invoice register folder not found: {folder}")
    with bar(progress) as shown:
        shown.stage("checking register")
        summary = ImportSummary(sha256=register_digest(folder))
        with engine.connect() as conn:
            previous = _previous_import(conn, summary.sha256)
        if previous:
            summary.noop, summary.previous = True, previous
            return summary
        with gc_paused():
            _read_and_write(engine, folder, summary, shown, policy, business_today(timezone))
    summary.seconds = time.perf_counter() - started
    return summary


def _read_and_write(
    engine: Engine,
    folder: Path,
    summary: ImportSummary,
    shown: Bar,
    policy: AllocationPolicy,
    today: date,
) -> None:
    """Read, validate and write the register in one transaction.

    A function of its own so that the register (millions of objects) is freed when it
    returns, still inside the caller's GC pause: alive at ``gc.enable()``, it would make
    the first collection walk all of it (~0.5 s at seed scale) for nothing.
    """
    steps = _Steps(shown, sum((folder / n).stat().st_size for n in FILES if (folder / n).is_file()))
    reg = read_register(folder, progress=steps.read if shown.active else None)
    summary.periods = reg.periods
    try:
        with bulk_transaction(engine, IMPORT_CACHE_MB) as conn:
            _write(conn, reg, summary, steps, policy, today)
    except IntegrityError as exc:
        reason = _first_line(exc)
        raise UserError(f"invoice register refused by the database: {reason}") from exc


class _Steps:
    """The import's bar: reading is about half the work (by bytes read), writing the rest
    (``WRITE_STEPS`` in order, equal shares)."""

    WRITE_STEPS = ("reference data", "accounts", "comparing", "invoices", "advance credit")

    def __init__(self, shown: Bar, size: int) -> None:
        self.shown, self.size = shown, max(size, 1)
        shown.stage("reading register", total=2 * self.size)

    def read(self, done: int) -> None:
        self.shown.update(min(done, self.size))

    def __call__(self, name: str) -> None:
        share = self.size / len(self.WRITE_STEPS)
        at = self.size + self.WRITE_STEPS.index(name) * share
        self.shown.update(at, description=f"writing register: {name}")


#: SQLite page cache while the register imports: about two million index entries.
IMPORT_CACHE_MB = 256


def _previous_import(conn: Connection, sha256: str) -> str:
    row = conn.execute(
        select(t.register_imports.c.id, t.register_imports.c.imported_at)
        .where(t.register_imports.c.sha256 == sha256)
        .limit(1)
    ).first()
    return f"import #{row.id} at {row.imported_at:%Y-%m-%d %H:%M}" if row else ""


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0]


def _write(
    conn: Connection,
    reg: Register,
    summary: ImportSummary,
    stage: Callable[[str], None],
    policy: AllocationPolicy,
    today: date,
) -> None:
    """Everything that touches the database, inside the caller's transaction."""
    stage("reference data")
    summary.reference_rows = w.upsert_reference(conn, reg)
    stage("accounts")
    account_ids, summary.accounts_new, summary.accounts_updated = w.upsert_accounts(conn, reg)
    stage("comparing")
    plan = _plan(conn, reg, account_ids)
    _refuse_referenced(conn, plan)
    summary.invoices_new = len(plan.new)
    summary.invoices_versioned = len(plan.versioned)
    summary.invoices_unchanged = plan.unchanged
    summary.invoices_missing = plan.missing
    import_id = w.insert_import(
        conn,
        reg,
        summary.sha256,
        new=summary.invoices_new,
        versioned=summary.invoices_versioned,
        unchanged=summary.invoices_unchanged,
    )
    summary.import_id = import_id
    stage("invoices")
    summary.lines = w.write_invoices(conn, plan.new, plan.versioned, account_ids, import_id)
    stage("advance credit")
    summary.advance_rows = consume_advances(conn, day=today, actor="register-import", policy=policy)
    w.refresh_statistics(conn)


def _plan(conn: Connection, reg: Register, account_ids: dict[str, int]) -> _Plan:
    """Sort the register's invoices into new, unchanged and changed (to be versioned)."""
    plan = _Plan()
    existing = w.load_open_invoices(conn, reg.periods)
    if not existing:
        plan.new = list(reg.invoices.values())
        return plan
    lines = w.load_open_lines(conn, reg.periods)
    for inv in reg.invoices.values():
        old = existing.pop(inv.invoice_no, None)
        if old is None:
            plan.new.append(inv)
            continue
        inv_id, version, header = old
        same_header = header == (
            account_ids[inv.account_no],
            inv.period,
            inv.issued_on,
            inv.due_on,
            inv.payment_ref,
        )
        if same_header and sorted(inv.lines) == lines.get(inv_id, []):
            plan.unchanged += 1
        else:
            plan.versioned.append((inv, inv_id, version))
    plan.missing = len(existing)
    return plan


def _refuse_referenced(conn: Connection, plan: _Plan) -> None:
    """Refuse the import when a changed invoice has allocations on its lines."""
    ids = {inv_id: inv.invoice_no for inv, inv_id, _ in plan.versioned}
    referenced = sorted(ids[i] for i in _referenced_ids(conn, list(ids)))
    if referenced:
        first = ", ".join(referenced[:5])
        more = f" and {len(referenced) - 5} more" if len(referenced) > 5 else ""
        raise UserError(
            f"invoice register refused: {len(referenced)} changed invoice(s) already have "
            f"payments allocated ({first}{more}); nothing was imported"
        )


def _referenced_ids(conn: Connection, invoice_ids: Sequence[int]) -> Iterable[int]:
    a, il = t.allocations, t.invoice_lines
    for chunk in _chunks(invoice_ids):
        q = (
            select(il.c.invoice_id)
            .distinct()
            .join(a, a.c.invoice_line_id == il.c.id)
            .where(il.c.invoice_id.in_(chunk))
        )
        yield from conn.scalars(q)


def _chunks(items: Sequence[int]) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i : i + _CHUNK]
