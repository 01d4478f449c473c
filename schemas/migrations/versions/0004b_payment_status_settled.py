"""payments: status 'settled' for a collector's lump sum that settled its registry

Revision ID: 0004b
Revises: 0009
Create Date: 2026-12-02 07:00:00

Before, such a lump sum was exported as 'allocated' with no allocation rows, so anyone summing
'allocated' counted a collector's money twice (its registry's lines carry the allocations).
Existing settled lump sums (channel 'settlement', reason 'SETTLEMENT') become 'settled', and
their SETTLEMENT_PENDING review items, left open before, are resolved by the settlement.
"""

from alembic import op
import sqlalchemy as sa


revision = '0004b'
down_revision = '0009'
branch_labels = None
depends_on = None

_BEFORE = "status IN ('allocated', 'review', 'returned', 'rejected', 'reversed')"
_AFTER = "status IN ('allocated', 'settled', 'review', 'returned', 'rejected', 'reversed')"


def _status_check(before: str, after: str) -> None:
    if op.get_context().dialect.name != 'sqlite':
        op.drop_constraint(op.f('ck_payments_status'), 'payments', type_='check')
        op.create_check_constraint(op.f('ck_payments_status'), 'payments', sa.text(after))
        return
    # SQLite cannot alter a CHECK, and rebuilding payments inside this transaction (foreign
    # keys on) fails on every row that allocations reference. A wider IN list invalidates
    # no row, so the stored table definition is edited in place, the procedure SQLite
    # documents for such changes (sqlite.org/lang_altertable.html, "otherwise ...").
    conn = op.get_bind()
    sql = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'payments'"
    ).scalar_one()
    if before not in sql:
        raise RuntimeError(f"payments: expected CHECK ({before}) not found")
    version = conn.exec_driver_sql('PRAGMA schema_version').scalar_one()
    conn.exec_driver_sql('PRAGMA writable_schema=ON')
    conn.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'payments'",
        (sql.replace(before, after),),
    )
    conn.exec_driver_sql(f'PRAGMA schema_version={int(version) + 1}')
    conn.exec_driver_sql('PRAGMA writable_schema=OFF')


def upgrade() -> None:
    _status_check(_BEFORE, _AFTER)
    op.execute(
        "UPDATE payments SET status = 'settled' "
        "WHERE channel = 'settlement' AND status = 'allocated' AND reason = 'SETTLEMENT'"
    )
    op.execute(
        "UPDATE review_items SET state = 'resolved_settled', resolved_by = 'settlement', "
        "resolved_at = CURRENT_TIMESTAMP, version = version + 1 "
        "WHERE state = 'open' AND payment_id IN "
        "(SELECT id FROM payments WHERE status = 'settled')"
    )


def downgrade() -> None:
    op.execute("UPDATE payments SET status = 'allocated' WHERE status = 'settled'")
    _status_check(_AFTER, _BEFORE)
