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
