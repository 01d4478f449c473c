"""the accountants' workspace: people, their sessions, the queue's search column

Revision ID: 0005
Revises: 0007
Create Date: 2026-12-02 06:10:00

users gain a display name, disabled, failed log-ins and a lock-out time, and the time the
password was last changed (NULL: a one-time password to change at the next log-in);
web_sessions holds signed-in sessions (the sha256 of the cookie's token), so every server
process sees the same ones; review_items.search is the folded text the queue searches
(payer name, IBAN, remittance), filled here for the items already there.
"""

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0007'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('users') as batch:
        batch.add_column(sa.Column('display_name', sa.String(length=200), nullable=True))
        batch.add_column(
            sa.Column('disabled', sa.Boolean(), server_default=sa.false(), nullable=False)
        )
        batch.add_column(
            sa.Column('failed_logins', sa.Integer(), server_default='0', nullable=False)
        )
        batch.add_column(sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column('password_changed_at', sa.DateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'web_sessions',
        sa.Column('id', sa.String(length=64), nullable=False),
        sa.Column('user_id', Id, nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('flash', sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ['user_id'], ['users.id'], name=op.f('fk_web_sessions_user_id_users')
        ),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_web_sessions')),
    )
    op.create_index('ix_web_sessions_user', 'web_sessions', ['user_id'], unique=False)
    with op.batch_alter_table('review_items') as batch:
        batch.add_column(sa.Column('search', sa.Text(), nullable=True))
    _fill_search()


def _fill_search() -> None:
    from reconciliation.fold import search_text

    conn = op.get_bind()
    rows = conn.execute(
        sa.text(
            'SELECT r.id, p.debtor_name, p.debtor_iban, p.remittance FROM review_items r '
            'JOIN payments p ON p.id = r.payment_id'
        )
    ).all()
    if rows:
        conn.execute(
            sa.text('UPDATE review_items SET search = :s WHERE id = :i'),
            [{'i': r[0], 's': search_text(r[1], r[2], r[3])} for r in rows],
        )


def downgrade() -> None:
    with op.batch_alter_table('review_items') as batch:
        batch.drop_column('search')
    op.drop_index('ix_web_sessions_user', table_name='web_sessions')
    op.drop_table('web_sessions')
    with op.batch_alter_table('users') as batch:
        for name in (
            'last_login_at', 'password_changed_at', 'locked_until', 'failed_logins',
            'disabled', 'display_name',
        ):
            batch.drop_column(name)
