"""allocations: the line index carries the amount

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 20:55:00

What is open on an invoice line is its amount due minus the sum of its allocations, asked
for every line of every account a lookup shows or a payment pays. With the amount in the
line index that sum is read from the index alone, never from the table's rows.
"""

from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        'ix_allocations_line_amount', 'allocations', ['invoice_line_id', 'amount'], unique=False
    )
    op.drop_index('ix_allocations_line', table_name='allocations')


def downgrade() -> None:
    op.create_index('ix_allocations_line', 'allocations', ['invoice_line_id'], unique=False)
    op.drop_index('ix_allocations_line_amount', table_name='allocations')
