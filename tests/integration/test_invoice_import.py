"""Register import on SQLite and PostgreSQL: counts, all-or-nothing refusals, re-imports."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select

from connectors.formats.invoice_register import RegisterError
from fixtures.generate import build_city, write_register
from gateway.errors import UserError
from gateway.services.invoices import import_register
from reconciliation.references import make_account_no, make_rf
from schemas import tables as t
from tests.unit.test_invoice_register import ACC1, base_register, write

DAY = date(2026, 11, 20)
REGISTER_TABLES = (
    t.providers,
    t.services,
    t.managers,
    t.accounts,
    t.register_imports,
    t.invoices,
    t.invoice_lines,
)


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of the register tables, ordered: 'unchanged' means equal snapshots."""
    with engine.connect() as conn:
        return {
            tb.name: [tuple(r) for r in conn.execute(select(tb).order_by(*tb.primary_key))]
            for tb in REGISTER_TABLES
        }


def count(engine: Engine, table) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table))


def test_small_city_imports_with_exact_counts(engine: Engine, tmp_path: Path) -> None:
    city = build_city("small", seed=3)
    written = write_register(city, tmp_path)
    summary = import_register(engine, tmp_path / "register")
    assert summary.invoices_new == written["invoices"] == len(city.invoices)
    assert summary.lines == written["lines"]
    assert summary.accounts_new == 2000 and summary.periods == ("2026-10", "2026-11")
    assert count(engine, t.invoices) == len(city.invoices)
    assert count(engine, t.invoice_lines) == written["lines"]
    assert count(engine, t.providers) == 24
    with engine.connect() as conn:
        total = conn.scalar(select(func.sum(t.invoice_lines.c.amount_due)))
    assert total == sum(bani for inv in city.invoices for _, _, bani in inv.lines)
    assert "imported register" in summary.describe()


def _bad(kind: str, files: dict[str, list[list[str]]]) -> None:
    """Turn a good register into one with one kind of problem."""
    inv = files["invoices.csv"]
    if kind == "missing column":
        files["invoices.csv"] = [r[:8] for r in inv]
    elif kind == "unknown account":
        inv[3][1] = make_account_no(5555555)
    elif kind == "unknown provider":
        inv[3][7] = "NOSUCH"
    elif kind == "unknown service":
        inv[3][6] = "NOSUCH"
    elif kind == "unknown manager":
        files["accounts.csv"][1][1] = "ACC-404"
    elif kind in ("12.345", "1e3"):
        inv[3][8] = kind
    elif kind == "duplicate line":
        inv.append(list(inv[0]))
    elif kind == "invoice_no with another account":
        inv[3][0] = inv[0][0]
    elif kind == "bad RF":
        inv[3][5] = "RF00AV26110000002"
    elif kind == "bad date":
        inv[3][3] = "2026-02-30"


KINDS = [
    "missing column",
    "unknown account",
    "unknown provider",
    "unknown service",
    "unknown manager",
    "12.345",
    "1e3",
    "duplicate line",
    "invoice_no with another account",
    "bad RF",
    "bad date",
]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_register_is_refused_whole(engine: Engine, tmp_path: Path, kind: str) -> None:
    files = base_register()
    import_register(engine, write(tmp_path / "good", files))
    before = snapshot(engine)
    bad = copy.deepcopy(files)
    bad["accounts.csv"][0][4] = "closed"  # a valid change that must not land either
    bad["invoices.csv"][1][8] = "1.00"
    _bad(kind, bad)
    headers = {"invoices.csv": ["x"] * 8} if kind == "missing column" else None
    with pytest.raises(RegisterError) as info:
        import_register(engine, write(tmp_path / "bad", bad, headers))
    assert info.value.file and info.value.reason
    assert snapshot(engine) == before


def test_identical_register_again_is_a_noop(engine: Engine, tmp_path: Path) -> None:
    folder = write(tmp_path / "reg", base_register())
    first = import_register(engine, folder)
    before = snapshot(engine)
    again = import_register(engine, folder)
    assert again.noop and not first.noop
    assert "already imported" in again.describe() and "nothing to do" in again.describe()
    assert snapshot(engine) == before


def test_changed_unreferenced_invoice_gets_a_new_version(engine: Engine, tmp_path: Path) -> None:
    files = base_register()
    import_register(engine, write(tmp_path / "v1", files))
    files["invoices.csv"][1][8] = "1300.00"  # invoice 1 changes; invoice 2 does not
    files["accounts.csv"][0][4] = "closed"
    summary = import_register(engine, write(tmp_path / "v2", files))
    assert (summary.invoices_versioned, summary.invoices_unchanged, summary.invoices_new) == (
        1,
        1,
        0,
    )
    assert summary.accounts_updated == 1
    i = t.invoices
    with engine.connect() as conn:
        rows = conn.execute(
            select(i.c.invoice_no, i.c.version, i.c.status).order_by(i.c.invoice_no, i.c.version)
        ).all()
        new_lines = (
            conn.execute(
                select(t.invoice_lines.c.amount_due)
                .join(i, i.c.id == t.invoice_lines.c.invoice_id)
                .where(i.c.invoice_no == "AV26110000001", i.c.version == 2)
                .order_by(t.invoice_lines.c.amount_due)
            )
            .scalars()
            .all()
        )
        status = conn.scalar(select(t.accounts.c.status).where(t.accounts.c.account_no == ACC1))
    assert [tuple(r) for r in rows] == [
        ("AV26110000001", 1, "superseded"),
        ("AV26110000001", 2, "open"),
        ("AV26110000002", 1, "open"),
    ]
    assert new_lines == [-1500, 12050, 130000]
    assert status == "closed"


def _allocate_on_first_line(engine: Engine, invoice_no: str) -> None:
    """A payment with one allocation on a line of ``invoice_no``, written with Core."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        line = conn.execute(
            select(t.invoice_lines.c.id, t.invoices.c.account_id)
            .join(t.invoices, t.invoices.c.id == t.invoice_lines.c.invoice_id)
            .where(t.invoices.c.invoice_no == invoice_no)
            .limit(1)
        ).one()
        pid = conn.execute(
            insert(t.payments).values(
                source="test", external_id="p1", channel="transfer", business_day=DAY,
                amount=1000, status="allocated", created_at=now,
            )
        ).inserted_primary_key[0]  # fmt: skip
        conn.execute(
            insert(t.allocations).values(
                payment_id=pid, account_id=line.account_id, invoice_line_id=line.id, amount=1000,
                kind="payment", business_day=DAY, created_by="test", created_at=now,
            )
        )  # fmt: skip


def test_changed_referenced_invoice_refuses_the_import(engine: Engine, tmp_path: Path) -> None:
    files = base_register()
    import_register(engine, write(tmp_path / "v1", files))
    _allocate_on_first_line(engine, "AV26110000001")
    before = snapshot(engine)
    files["invoices.csv"][2][8] = "-20.00"  # invoice 1 changes
    files["invoices.csv"][3][8] = "100.00"  # invoice 2 changes too, but nobody paid it
    with pytest.raises(UserError, match="AV26110000001") as info:
        import_register(engine, write(tmp_path / "v2", files))
    assert "AV26110000002" not in str(info.value)
    assert snapshot(engine) == before


def test_new_invoice_of_another_period_is_added(engine: Engine, tmp_path: Path) -> None:
    files = base_register()
    import_register(engine, write(tmp_path / "v1", files))
    ref = make_rf("AV26120000001")
    files["invoices.csv"] = [
        ["AV26120000001", ACC1, "2026-12", "2026-12-05", "2026-12-25", ref, "INCALZ", "TERMO",
         "10.00"],
    ]  # fmt: skip
    summary = import_register(engine, write(tmp_path / "v2", files))
    assert (summary.invoices_new, summary.periods) == (1, ("2026-12",))
    assert count(engine, t.invoices) == 3


def test_sqlite_foreign_keys_are_back_on_after_the_import(tmp_path: Path) -> None:
    from gateway.db import make_engine
    from gateway.migrate import upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'fk.db'}", pool_size=1, max_overflow=0)
    upgrade(engine)
    folder = tmp_path / "reg"
    write(folder, base_register())
    import_register(engine, folder)
    with engine.connect() as conn:  # the pool hands back the import's own connection
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar_one() == 1
    engine.dispose()
