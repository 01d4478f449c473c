"""References between the bulk tables hold on both backends: on PostgreSQL they are checked
once per statement (migration 0009), and must refuse exactly what a foreign key refuses."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from schemas.tables import accounts, allocations, managers, payments

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _payment(**kw):  # type: ignore[no-untyped-def]
    row = dict(
        source="bank-a", external_id="X1", channel="transfer", business_day=date(2026, 11, 20),
        amount=12345, status="allocated", created_at=NOW,
    )  # fmt: skip
    return row | kw


@pytest.fixture
def city(engine):  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        mid = conn.execute(insert(managers).values(code="M1", name="m")).inserted_primary_key[0]
        acc = conn.execute(
            insert(accounts).values(
                account_no="10000013", manager_id=mid, payer_name="Ion", address="a", status="open"
            )
        ).inserted_primary_key[0]
        pay = conn.execute(insert(payments).values(**_payment())).inserted_primary_key[0]
    return mid, acc, pay


def _allocation(pay: int, acc: int, **kw):  # type: ignore[no-untyped-def]
    row = dict(
        payment_id=pay, account_id=acc, amount=100, kind="advance", business_day=date(2026, 11, 20),
        created_by="test", created_at=NOW,
    )  # fmt: skip
    return row | kw


def test_a_row_whose_parent_exists_is_written(engine, city) -> None:
    _, acc, pay = city
    with engine.begin() as conn:
        conn.execute(insert(allocations), [_allocation(pay, acc), _allocation(pay, acc)])
    with engine.connect() as conn:
        assert len(conn.execute(select(allocations.c.id)).all()) == 2


@pytest.mark.parametrize("column", ["payment_id", "account_id", "invoice_line_id", "reverses_id"])
def test_a_reference_without_a_parent_fails_the_whole_statement(engine, city, column) -> None:
    _, acc, pay = city
    good = {"payment_id": pay, "account_id": acc}.get(column)  # None: a nullable reference
    # both rows with the same keys: SQLAlchemy's executemany takes its columns from the first
    rows = [_allocation(pay, acc, **{column: good}), _allocation(pay, acc, **{column: 999_999})]
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(insert(allocations), rows)
    with engine.connect() as conn:
        assert conn.execute(select(allocations.c.id)).all() == []


def test_an_update_to_a_missing_parent_fails(engine, city) -> None:
    _, acc, pay = city
    with engine.begin() as conn:
        conn.execute(insert(allocations), [_allocation(pay, acc)])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(update(allocations).values(account_id=999_999))


def test_a_referenced_parent_cannot_be_deleted_or_renumbered(engine, city) -> None:
    mid, acc, pay = city
    with engine.begin() as conn:
        conn.execute(insert(allocations), [_allocation(pay, acc)])
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(delete(managers).where(managers.c.id == mid))
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(update(payments).values(id=pay + 1000))
    with engine.begin() as conn:  # a change that keeps the ids is no concern of the check
        conn.execute(update(payments).values(status="review"))
        conn.execute(update(managers).values(name="renamed"))


def test_an_unreferenced_parent_can_be_deleted(engine, city) -> None:
    with engine.begin() as conn:
        mid = conn.execute(insert(managers).values(code="M2", name="n")).inserted_primary_key[0]
        conn.execute(delete(managers).where(managers.c.id == mid))


def test_postgresql_checks_per_statement_not_per_row(engine, db_url) -> None:
    if not db_url.startswith("postgresql"):
        pytest.skip("the statement triggers are PostgreSQL's")
    with engine.connect() as conn:
        fks = conn.execute(
            text("SELECT count(*) FROM pg_constraint WHERE conname = :n"),
            {"n": "fk_allocations_payment_id_payments"},
        ).scalar_one()
        triggers = conn.execute(
            text("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'plata_fk_%'")
        ).scalar_one()
    assert fks == 0 and triggers > 0
