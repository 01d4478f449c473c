"""review workflow: versions and claims on items, form tokens, approvals, refunds, learning

Revision ID: 0006
Revises: 0008
Create Date: 2026-12-02 06:30:00

Optimistic concurrency (``review_items.version``, checked in every UPDATE), claims, the
idempotency tokens of forms and API calls, four-eyes approvals (one pending per item or
payment), refunds for finance's payment orders (one live row per payment), and the rules
learned from accountants' decisions with the payments they placed.
"""

from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0008'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table('review_items') as batch:
        batch.add_column(sa.Column('version', sa.Integer(), nullable=False, server_default='1'))
        batch.add_column(sa.Column('claimed_by', sa.String(64), nullable=True))
        batch.add_column(sa.Column('claimed_at', TS, nullable=True))
        batch.add_column(sa.Column('note', sa.Text(), nullable=True))
    op.create_index('ix_review_actions_item', 'review_actions', ['review_item_id'])
    op.create_table(
        'form_tokens',
        sa.Column('token', sa.String(64), nullable=False),
        sa.Column('actor', sa.String(64), nullable=False),
        sa.Column('action', sa.String(30), nullable=False),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.PrimaryKeyConstraint('token', name='pk_form_tokens'),
    )
    op.create_table(
        'approvals',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('action', sa.String(30), nullable=False),
        sa.Column('review_item_id', Id, nullable=True),
        sa.Column('payment_id', Id, nullable=True),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('params', sa.JSON(), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('requested_by', sa.String(64), nullable=False),
        sa.Column('requested_at', TS, nullable=False),
        sa.Column('status', sa.String(10), nullable=False),
        sa.Column('decided_by', sa.String(64), nullable=True),
        sa.Column('decided_at', TS, nullable=True),
        sa.Column('decision_note', sa.Text(), nullable=True),
        sa.Column('result', sa.JSON(), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'withdrawn')",
            name=op.f('ck_approvals_status'),
        ),
        sa.ForeignKeyConstraint(
            ['review_item_id'], ['review_items.id'],
            name=op.f('fk_approvals_review_item_id_review_items'),
        ),
        sa.ForeignKeyConstraint(
            ['payment_id'], ['payments.id'], name=op.f('fk_approvals_payment_id_payments')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_approvals')),
    )
    pending = sa.text("status = 'pending'")
    op.create_index(
        'ux_approvals_pending_item', 'approvals', ['review_item_id'], unique=True,
        sqlite_where=pending, postgresql_where=pending,
    )
    op.create_index(
        'ux_approvals_pending_payment', 'approvals', ['payment_id'], unique=True,
        sqlite_where=pending, postgresql_where=pending,
    )
    op.create_index('ix_approvals_status', 'approvals', ['status', 'requested_at'])
    op.create_table(
        'refunds',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('payment_id', Id, nullable=False),
        sa.Column('amount', sa.BigInteger(), nullable=False),
        sa.Column('iban', sa.String(34), nullable=False),
        sa.Column('name', sa.String(140), nullable=False),
        sa.Column('reason', sa.String(140), nullable=False),
        sa.Column('business_day', sa.Date(), nullable=False),
        sa.Column('created_by', sa.String(64), nullable=False),
        sa.Column('approved_by', sa.String(64), nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('order_id', sa.BigInteger(), nullable=True),
        sa.Column('cancelled_at', TS, nullable=True),
        sa.Column('cancelled_by', sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ['payment_id'], ['payments.id'], name=op.f('fk_refunds_payment_id_payments')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_refunds')),
    )
    live = sa.text('cancelled_at IS NULL')
    op.create_index(
        'ux_refunds_live_payment', 'refunds', ['payment_id'], unique=True,
        sqlite_where=live, postgresql_where=live,
    )
    op.create_index('ix_refunds_day', 'refunds', ['business_day'])
    op.create_table(
        'learned_rules',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('kind', sa.String(8), nullable=False),
        sa.Column('payer_key', sa.String(300), nullable=False),
        sa.Column('account_no', sa.String(16), nullable=False),
        sa.Column('decisions', sa.Integer(), nullable=False),
        sa.Column('evidence', sa.JSON(), nullable=False),
        sa.Column('status', sa.String(10), nullable=False),
        sa.Column('status_reason', sa.Text(), nullable=True),
        sa.Column('created_at', TS, nullable=False),
        sa.Column('updated_at', TS, nullable=False),
        sa.Column('updated_by', sa.String(64), nullable=True),
        sa.CheckConstraint("kind IN ('place', 'decline')", name=op.f('ck_learned_rules_kind')),
        sa.CheckConstraint(
            "status IN ('active', 'disabled', 'retired')", name=op.f('ck_learned_rules_status')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_learned_rules')),
        sa.UniqueConstraint('kind', 'payer_key', 'account_no', name='uq_learned_rules_key'),
    )
    op.create_table(
        'learned_placements',
        sa.Column('payment_id', Id, nullable=False),
        sa.Column('rule_id', Id, nullable=False),
        sa.Column('created_at', TS, nullable=False),
        sa.ForeignKeyConstraint(
            ['payment_id'], ['payments.id'], name=op.f('fk_learned_placements_payment_id_payments')
        ),
        sa.ForeignKeyConstraint(
            ['rule_id'], ['learned_rules.id'],
            name=op.f('fk_learned_placements_rule_id_learned_rules'),
        ),
        sa.PrimaryKeyConstraint('payment_id', name=op.f('pk_learned_placements')),
    )
    op.create_index('ix_learned_placements_rule', 'learned_placements', ['rule_id'])


def downgrade() -> None:
    op.drop_table('learned_placements')
    op.drop_table('learned_rules')
    op.drop_table('refunds')
    op.drop_table('approvals')
    op.drop_table('form_tokens')
    op.drop_index('ix_review_actions_item', table_name='review_actions')
    with op.batch_alter_table('review_items') as batch:
        batch.drop_column('note')
        batch.drop_column('claimed_at')
        batch.drop_column('claimed_by')
        batch.drop_column('version')
