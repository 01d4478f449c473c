"""payments.statement_account: the account of the statement block that booked the payment

Revision ID: 0010
Revises: 0004b
Create Date: 2026-12-02 09:30:00

A bank file may hold the statements of several accounts (camt.053 with several <Stmt>,
MT940 with several :25:); the daily report counted every payment of such a file under the
file's first account. The column names the payment's own statement account (the same text
as ``statements.account_iban``). Payments booked before it stay NULL and are counted as
before (the file's first account).
"""

from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0004b'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('payments', sa.Column('statement_account', sa.String(length=64), nullable=True))


def downgrade() -> None:
    op.drop_column('payments', 'statement_account')  # SQLite >= 3.35 drops a column in place
