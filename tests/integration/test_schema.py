"""The migrations build the schema on both backends, and its key constraints hold."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import IntegrityError

from gateway.migrate import upgrade
from schemas.tables import metadata, payments


def test_migrations_create_every_table_and_rerun_is_noop(engine) -> None:
    upgrade(engine)  # second run: nothing to do, no error
    names = set(inspect(engine).get_table_names())
    assert {t.name for t in metadata.sorted_tables} <= names


def _payment(**kw):
    row = dict(
        source="bank-a",
        external_id="X1",
        channel="transfer",
        business_day=date(2026, 11, 20),
        amount=12345,
        status="review",
        created_at=datetime.now(UTC),
    )
    row.update(kw)
    return row


def test_payment_identity_is_unique_per_source(engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(payments), [_payment(), _payment(source="bank-b")])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(payments), [_payment()])
    with engine.connect() as conn:
        assert conn.execute(select(payments.c.source)).scalars().all() == ["bank-a", "bank-b"]


def test_money_columns_keep_large_bani_exactly(engine) -> None:
    big = 9_999_999_999_99  # just under ten billion lei
    with engine.begin() as conn:
        conn.execute(insert(payments), [_payment(amount=big)])
    with engine.connect() as conn:
        assert conn.execute(select(payments.c.amount)).scalar_one() == big


def test_payment_status_accepts_settled_and_nothing_unknown(engine) -> None:
    with engine.begin() as conn:
        conn.execute(insert(payments), [_payment(status="settled", channel="settlement")])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(payments), [_payment(external_id="X2", status="paid")])


def test_migration_0004b_keeps_referenced_payments_and_settles_old_lump_sums(tmp_path) -> None:
    """SQLite rebuilds the payments table to change its check; rows that allocations and
    review items reference survive it, and lump sums settled before become 'settled'."""
    from alembic import command
    from alembic.script import ScriptDirectory
    from sqlalchemy import text

    from gateway.db import make_engine
    from gateway.migrate import alembic_config
    from tests.integration.citykit import load_tiny_city

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    with engine.begin() as conn:
        cfg = alembic_config(conn)
        before = ScriptDirectory.from_config(cfg).get_revision("0004b").down_revision
        command.upgrade(cfg, before)
    load_tiny_city(engine)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        old = {"source": "bank", "business_day": date(2026, 11, 20), "created_at": now}
        conn.execute(
            text(
                "INSERT INTO payments (id, source, external_id, channel, business_day, amount,"
                " currency, direction, reversal, status, account_no, reason, created_at) VALUES"
                " (1, :source, 'LS', 'settlement', :business_day, 500, 'MDL', 'credit', false,"
                "  'allocated', NULL, 'SETTLEMENT', :created_at),"
                " (2, :source, 'P', 'transfer', :business_day, 300, 'MDL', 'credit', false,"
                "  'allocated', '12345674', NULL, :created_at)"
            ),
            old,
        )
        conn.execute(
            text(
                "INSERT INTO review_items (payment_id, reason, candidates, state, created_at)"
                " VALUES (1, 'SETTLEMENT_PENDING', '[]', 'open', :created_at)"
            ),
            old,
        )
        conn.execute(
            text(
                "INSERT INTO allocations (payment_id, account_id, amount, kind, business_day,"
                " created_by, created_at) VALUES (2, 1, 300, 'advance', :business_day, 't',"
                " :created_at)"
            ),
            old,
        )
    upgrade(engine)
    with engine.connect() as conn:
        statuses = dict(conn.execute(text("SELECT external_id, status FROM payments")).all())
        item = conn.execute(text("SELECT state, resolved_by FROM review_items")).one()
        allocated = conn.execute(text("SELECT payment_id, amount FROM allocations")).all()
        violations = conn.execute(text("PRAGMA foreign_key_check")).all()
    engine.dispose()
    assert statuses == {"LS": "settled", "P": "allocated"}
    assert tuple(item) == ("resolved_settled", "settlement")
    assert [tuple(r) for r in allocated] == [(2, 300)] and violations == []
