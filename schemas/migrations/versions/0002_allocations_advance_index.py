"""allocations: index account_id only on advance-credit rows

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 19:50:00

Open amounts are derived through the line index (``invoice_line_id``); the account index
is only ever used to find an account's advance credit (rows without a line). A partial
index keeps that lookup and drops one random-order index entry from every allocated line,
which a day's ingest writes a million times.
"""

from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_ADVANCE = sa.text("invoice_line_id IS NULL")


def upgrade() -> None:
    op.drop_index('ix_allocations_account', table_name='allocations')
    op.create_index(
        'ix_allocations_advance', 'allocations', ['account_id'], unique=False,
        sqlite_where=_ADVANCE, postgresql_where=_ADVANCE,
    )


def downgrade() -> None:
    op.drop_index('ix_allocations_advance', table_name='allocations')
    op.create_index('ix_allocations_account', 'allocations', ['account_id'], unique=False)
