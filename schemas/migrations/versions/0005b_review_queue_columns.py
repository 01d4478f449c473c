"""review_items: the payment facts the workspace queue filters and sorts by

Revision ID: 0005b
Revises: 0004
Create Date: 2026-12-02 07:05:00

The queue filtered and sorted through a join with payments: 20,000 open items meant 20,000
payment rows read per page. The business day, amount, channel and source are copied onto
the item when it is written (they never change), with the best candidate's score in
thousandths; one index covers every filter and sort of the queue (with the folded search
text, capped at 600 characters), so a page and its count never read the item rows.
Existing items are filled here.
"""

import sqlalchemy as sa
from alembic import op

revision = '0005b'
down_revision = '0004'
branch_labels = None
depends_on = None

COPIED = ('business_day', 'amount', 'channel', 'source')


def upgrade() -> None:
    with op.batch_alter_table('review_items') as batch:
        batch.add_column(sa.Column('business_day', sa.Date(), nullable=True))
        batch.add_column(sa.Column('amount', sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column('channel', sa.String(length=20), nullable=True))
        batch.add_column(sa.Column('source', sa.String(length=64), nullable=True))
        batch.add_column(sa.Column('best_score', sa.Integer(), nullable=True))
    op.create_index(
        'ix_review_items_queue', 'review_items',
        ['state', 'business_day', 'id', 'amount', 'channel', 'source', 'reason', 'claimed_by',
         'best_score', 'search'],
        unique=False,
    )
    from gateway.services.review_queue import fill_queue_columns

    fill_queue_columns(op.get_bind())


def downgrade() -> None:
    op.drop_index('ix_review_items_queue', table_name='review_items')
    with op.batch_alter_table('review_items') as batch:
        for name in ('best_score', *reversed(COPIED)):
            batch.drop_column(name)
