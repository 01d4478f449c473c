"""An overpayment becomes advance credit, and the next invoices consume it (append-only)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, insert, select

from fixtures.writers.post_registry import PostLine, write_post_registry
from gateway.services.ingest import ingest_bytes
from reconciliation.allocate import DEFAULT_POLICY, AllocationPolicy
from reconciliation.service import consume_advances
from schemas import tables as t
from tests.integration.citykit import ACC_MARIA, load_tiny_city

DAY = date(2026, 11, 20)


def _advance(conn) -> int:
    q = select(func.coalesce(func.sum(t.allocations.c.amount), 0)).where(
        t.allocations.c.invoice_line_id.is_(None)
    )
    return conn.execute(q).scalar_one()


def test_overpayment_is_credit_that_the_next_invoice_consumes(engine, settings) -> None:
    load_tiny_city(engine)
    registry = write_post_registry(
        [PostLine(ACC_MARIA, 30000, DAY, "MD-2068", "R1")], registry_date=DAY
    )
    ingest_bytes(engine, settings, registry, filename="r.txt", source="posta")
    with engine.connect() as conn:
        assert _advance(conn) == 5000  # 300.00 paid on 250.00 due
    with engine.begin() as conn:  # December's invoice arrives
        conn.execute(
            insert(t.invoices),
            [
                {
                    "id": 99,
                    "invoice_no": "INV-2026-12-2",
                    "version": 1,
                    "account_id": 2,
                    "period": "2026-12",
                    "issued_on": date(2026, 12, 1),
                    "due_on": date(2026, 12, 25),
                    "payment_ref": "RF18INV2026122",
                    "status": "open",
                    "import_id": 1,
                }
            ],
        )
        conn.execute(
            insert(t.invoice_lines),
            [
                {"id": 99, "invoice_id": 99, "service_id": 2, "provider_id": 2, "amount_due": 3000},
            ],
        )
    with engine.begin() as conn:
        written = consume_advances(conn, day=date(2026, 12, 2), actor="test")
    with engine.connect() as conn:
        on_line = conn.execute(
            select(func.sum(t.allocations.c.amount)).where(t.allocations.c.invoice_line_id == 99)
        ).scalar_one()
        kinds = set(conn.execute(select(t.allocations.c.kind)).scalars())
        left = _advance(conn)
        total = conn.execute(select(func.sum(t.allocations.c.amount))).scalar_one()
    assert written == 2 and on_line == 3000 and left == 2000
    assert "advance_use" in kinds and total == 30000  # the payment still sums to itself
    with engine.begin() as conn:  # nothing more to place: a second run writes nothing
        assert consume_advances(conn, day=date(2026, 12, 2), actor="test") == 0


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (DEFAULT_POLICY, {"APA": 2500, "IMGFL5": 2500}),  # in proportion to what is due
        (AllocationPolicy(provider_priority=(("IMGFL5",),)), {"IMGFL5": 3000, "APA": 2000}),
    ],
)
def test_advance_credit_is_placed_by_the_policy(engine, settings, policy, expected) -> None:
    """The register import's use of advance credit follows the configured provider priority."""
    load_tiny_city(engine)
    registry = write_post_registry(
        [PostLine(ACC_MARIA, 30000, DAY, "MD-2068", "R1")], registry_date=DAY
    )
    ingest_bytes(engine, settings, registry, filename="r.txt", source="posta")  # 50.00 credit
    with engine.begin() as conn:
        conn.execute(
            insert(t.invoices),
            [
                {
                    "id": 99,
                    "invoice_no": "INV-2026-12-2",
                    "version": 1,
                    "account_id": 2,
                    "period": "2026-12",
                    "issued_on": date(2026, 12, 1),
                    "due_on": date(2026, 12, 25),
                    "payment_ref": "RF18INV2026122",
                    "status": "open",
                    "import_id": 1,
                }
            ],
        )
        conn.execute(
            insert(t.invoice_lines),
            [
                {"id": 98, "invoice_id": 99, "service_id": 2, "provider_id": 2, "amount_due": 3000},
                {"id": 99, "invoice_id": 99, "service_id": 3, "provider_id": 3, "amount_due": 3000},
            ],
        )
    with engine.begin() as conn:
        consume_advances(conn, day=date(2026, 12, 2), actor="test", policy=policy)
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.providers.c.code, func.sum(t.allocations.c.amount))
            .join(t.invoice_lines, t.invoice_lines.c.id == t.allocations.c.invoice_line_id)
            .join(t.providers, t.providers.c.id == t.invoice_lines.c.provider_id)
            .where(t.invoice_lines.c.invoice_id == 99)
            .group_by(t.providers.c.code)
        ).all()
    assert {code: int(total) for code, total in rows} == expected
