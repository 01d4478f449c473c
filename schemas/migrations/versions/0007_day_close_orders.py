"""finance: day close (exports frozen, findings acknowledged) and payment orders

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 06:00:00

business_days gains the sha256 of its snapshot; day_exports keeps every export of a closed
day as it was at the close; finding_acks holds the comments that let a day close despite a
finding; payment_orders and payment_order_lines are the pain.001 files and their transfers.
"""

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('business_days') as batch:
        batch.add_column(sa.Column('snapshot_sha256', sa.String(64), nullable=True))
    op.create_table(
        'day_exports',
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('name', sa.String(40), nullable=False),
        sa.Column('sha256', sa.String(64), nullable=False),
        sa.Column('size', sa.BigInteger(), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('day', 'name', name='pk_day_exports'),
    )
    op.create_table(
        'finding_acks',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('finding_key', sa.String(200), nullable=False),
        sa.Column('comment', sa.Text(), nullable=False),
        sa.Column('acknowledged_by', sa.String(64), nullable=False),
        sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_finding_acks'),
        sa.UniqueConstraint('day', 'finding_key', name='uq_finding_acks_day_key'),
    )
    op.create_table(
        'payment_orders',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('kind', sa.String(12), nullable=False),
        sa.Column('business_day', sa.Date(), nullable=False),
        sa.Column('number', sa.Integer(), nullable=False),
        sa.Column('message_id', sa.String(35), nullable=False),
        sa.Column('sha256', sa.String(64), nullable=False),
        sa.Column('content', sa.LargeBinary(), nullable=False),
        sa.Column('total', sa.BigInteger(), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(10), nullable=False),
        sa.Column('created_by', sa.String(64), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('confirmed_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('remittance', 'refund')", name='ck_payment_orders_kind'),
        sa.CheckConstraint(
            "state IN ('created', 'sent', 'confirmed')", name='ck_payment_orders_state'
        ),
        sa.PrimaryKeyConstraint('id', name='pk_payment_orders'),
        sa.UniqueConstraint('message_id', name='uq_payment_orders_message_id'),
        sa.UniqueConstraint(
            'kind', 'business_day', 'number', name='uq_payment_orders_kind_day_no'
        ),
    )
    op.create_table(
        'payment_order_lines',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('order_id', Id, nullable=False),
        sa.Column('end_to_end_id', sa.String(35), nullable=False),
        sa.Column('provider_code', sa.String(32), nullable=True),
        sa.Column('refund_id', sa.BigInteger(), nullable=True),
        sa.Column('creditor_name', sa.String(140), nullable=False),
        sa.Column('creditor_iban', sa.String(34), nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('remittance_info', sa.String(140), nullable=False),
        sa.Column('confirmed_payment_id', Id, nullable=True),
        sa.ForeignKeyConstraint(
            ['order_id'], ['payment_orders.id'],
            name='fk_payment_order_lines_order_id_payment_orders',
        ),
        sa.ForeignKeyConstraint(
            ['confirmed_payment_id'], ['payments.id'],
            name='fk_payment_order_lines_confirmed_payment_id_payments',
        ),
        sa.PrimaryKeyConstraint('id', name='pk_payment_order_lines'),
        sa.UniqueConstraint('end_to_end_id', name='uq_payment_order_lines_end_to_end_id'),
    )
    op.create_index(
        'ix_payment_order_lines_order', 'payment_order_lines', ['order_id'], unique=False
    )


def downgrade() -> None:
    op.drop_index('ix_payment_order_lines_order', table_name='payment_order_lines')
    op.drop_table('payment_order_lines')
    op.drop_table('payment_orders')
    op.drop_table('finding_acks')
    op.drop_table('day_exports')
    with op.batch_alter_table('business_days') as batch:
        batch.drop_column('snapshot_sha256')
