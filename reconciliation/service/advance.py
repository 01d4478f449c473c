"""Advance credit consumed by new invoices: last month's overpayment pays this month."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, func, select

from reconciliation.allocate import DEFAULT_POLICY, AllocationPolicy, apply_advance, open_after
from reconciliation.model import AllocationKind, AllocationRow
from reconciliation.service.load import RefIds, load_accounts, load_open_lines
from reconciliation.service.write import insert_allocations
from schemas.tables import accounts, allocations, providers, services


def consume_advances(
    conn: Connection, *, day: date, actor: str, policy: AllocationPolicy = DEFAULT_POLICY
) -> int:
    """Place every account's unused advance credit on its open lines; returns rows written.

    Runs after an invoice register import: an overpayment from last month pays this month's
    invoice. Credit is used oldest payment first, each payment's own credit staying under
    that payment (the rows sum to zero per payment: a negative advance row and the lines it
    pays), so any day can be rebuilt from the allocations alone. Earmarked credit (a named
    service overpaid) only pays that service.
    """
    a = allocations
    credit_rows = conn.execute(
        select(
            a.c.payment_id,
            accounts.c.account_no,
            services.c.code,
            providers.c.code,
            func.sum(a.c.amount),
        )
        .select_from(a)
        .join(accounts, accounts.c.id == a.c.account_id)
        .outerjoin(services, services.c.id == a.c.service_id)
        .outerjoin(providers, providers.c.id == a.c.provider_id)
        .where(a.c.invoice_line_id.is_(None))
        .group_by(a.c.payment_id, accounts.c.account_no, services.c.code, providers.c.code)
        .having(func.sum(a.c.amount) > 0)
        .order_by(a.c.payment_id)
    ).all()
    if not credit_rows:
        return 0
    lines = load_open_lines(conn, {r[1] for r in credit_rows})
    placed: list[tuple[int, AllocationRow]] = []
    for payment_id, account_no, service, provider, credit in credit_rows:
        own = lines.get(account_no, [])
        rows = apply_advance(
            account_no,
            int(credit),
            own,
            service_code=service,
            provider_code=provider,
            policy=policy,
        )
        if rows:
            lines[account_no] = open_after(own, rows)
            placed.extend((payment_id, row) for row in rows)
    return insert_allocations(
        conn,
        placed,
        account_ids=load_accounts(conn, {row.account_no for _, row in placed}),
        refs=RefIds.load(conn),
        business_day=day,
        created_by=actor,
        kind=AllocationKind.ADVANCE_USE,
    )
