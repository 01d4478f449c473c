"""The API's raw DBAPI path reads and writes exactly what the Core functions do, on both DBs.

``gateway.services.payment_rows`` repeats two functions of ``reconciliation.service`` in
plain SQL for speed; these tests hold the copies to the originals for the same input.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import Connection, Engine, insert, select

from gateway.services.payment_rows import Sql, insert_allocations, open_lines
from reconciliation.allocate import allocate
from reconciliation.model import ServiceAmount
from reconciliation.service import RefIds, load_accounts, load_open_lines
from reconciliation.service import insert_allocations as core_insert_allocations
from schemas.tables import accounts, allocations, payments
from tests.integration.citykit import ACC_CLOSED, ACC_ION, ACC_MARIA, load_tiny_city

DAY = date(2026, 11, 20)


def _payment(conn: Connection, external_id: str, amount: int, account_no: str) -> int:
    return conn.execute(
        insert(payments)
        .values(
            source="test",
            external_id=external_id,
            channel="bank_api",
            business_day=DAY,
            amount=amount,
            currency="MDL",
            direction="credit",
            reversal=False,
            status="allocated",
            account_no=account_no,
            created_at=datetime.now(UTC),
        )
        .returning(payments.c.id)
    ).scalar_one()


def _account_id(conn: Connection, account_no: str) -> int:
    return conn.execute(
        select(accounts.c.id).where(accounts.c.account_no == account_no)
    ).scalar_one()


def _partly_paid(engine: Engine) -> None:
    """The tiny city with one line partly paid and one overpaid into advance credit."""
    load_tiny_city(engine)
    with engine.begin() as conn:
        for ext, acc, amount in (("P1", ACC_ION, 45_000), ("P2", ACC_MARIA, 30_000)):
            pid = _payment(conn, ext, amount, acc)
            rows = allocate(acc, amount, load_open_lines(conn, {acc})[acc])
            core_insert_allocations(
                conn,
                [(pid, r) for r in rows],
                account_ids=load_accounts(conn, {acc}),
                refs=RefIds.load(conn),
                business_day=DAY,
                created_by="test",
            )


def test_open_lines_equal_the_core_loader(engine: Engine) -> None:
    _partly_paid(engine)
    with engine.begin() as conn:
        core = load_open_lines(conn, {ACC_ION, ACC_MARIA, ACC_CLOSED})
        db = Sql(conn)
        for acc in (ACC_ION, ACC_MARIA, ACC_CLOSED):
            raw = open_lines(db, _account_id(conn, acc), acc)
            assert raw == core[acc], acc
            assert [type(x) for x in raw[0]] == [type(x) for x in core[acc][0]]
    assert any(ln.open_amount == 0 for ln in core[ACC_MARIA])  # paid lines are kept
    assert any(0 < ln.open_amount < 60_000 for ln in core[ACC_ION])  # one partly paid


def _stored(conn: Connection, pid: int) -> list[tuple]:
    a = allocations
    q = select(
        a.c.account_id,
        a.c.invoice_line_id,
        a.c.service_id,
        a.c.provider_id,
        a.c.amount,
        a.c.kind,
        a.c.reverses_id,
        a.c.business_day,
        a.c.created_by,
    ).where(a.c.payment_id == pid)
    return sorted(conn.execute(q).all(), key=lambda r: (r.invoice_line_id or 0, r.amount))


def test_allocation_rows_written_raw_equal_the_core_insert(engine: Engine) -> None:
    _partly_paid(engine)
    with engine.begin() as conn:
        lines = load_open_lines(conn, {ACC_ION})[ACC_ION]
        services = (ServiceAmount("HEAT", 70_000), ServiceAmount("WATER", 25_000))
        rows = allocate(ACC_ION, 95_000, lines, services=services)  # lines and advance credit
        assert {r.line_id is None for r in rows} == {True, False}
        core_pid = _payment(conn, "CORE", 95_000, ACC_ION)
        raw_pid = _payment(conn, "RAW", 95_000, ACC_ION)
        core_insert_allocations(
            conn,
            [(core_pid, r) for r in rows],
            account_ids=load_accounts(conn, {ACC_ION}),
            refs=RefIds.load(conn),
            business_day=DAY,
            created_by="agent:x",
        )
        db = Sql(conn)
        now = db.ts(datetime.now(UTC))
        account_id = _account_id(conn, ACC_ION)
        insert_allocations(db, conn, raw_pid, account_id, DAY, rows, "agent:x", now)
        core, raw = _stored(conn, core_pid), _stored(conn, raw_pid)
        created = conn.execute(
            select(allocations.c.payment_id, allocations.c.created_at).where(
                allocations.c.payment_id.in_((core_pid, raw_pid))
            )
        ).all()
    assert raw == core and len(core) == len(rows)
    assert {type(c) for _, c in created} == {datetime}  # both read back as timestamps
