"""agents' previous keys, valid for a grace period after a rotation; when an agent was revoked

Revision ID: 0004
Revises: 0005
Create Date: 2026-12-02 06:40:00

``gateway agents rotate NAME`` gives an agent a new key (agents.key_id/key_hash) and keeps the
old one in agent_keys until valid_until, so a bank can switch without downtime;
``gateway agents revoke NAME`` sets agents.active false and agents.revoked_at.
"""

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0005'
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    with op.batch_alter_table('agents') as batch:
        batch.add_column(sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        'agent_keys',
        sa.Column('id', Id, autoincrement=True, nullable=False),
        sa.Column('agent_id', Id, nullable=False),
        sa.Column('key_id', sa.String(length=16), nullable=False),
        sa.Column('key_hash', sa.String(length=128), nullable=False),
        sa.Column('replaced_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], name=op.f('fk_agent_keys_agent_id_agents')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_agent_keys')),
        sa.UniqueConstraint('key_id', name=op.f('uq_agent_keys_key_id')),
    )
    op.create_index('ix_agent_keys_agent', 'agent_keys', ['agent_id'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_agent_keys_agent', table_name='agent_keys')
    op.drop_table('agent_keys')
    with op.batch_alter_table('agents') as batch:
        batch.drop_column('revoked_at')
