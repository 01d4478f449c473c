"""statements and statement findings

Revision ID: 0008
Revises: 0003
Create Date: 2026-12-02 05:55:00

One row per statement in an applied bank file (balances and booked sums as the file states
them), and one per disagreement the file states about itself (balances that do not add up,
batch details that do not add up to their entry): the entries are ingested all the same,
and finance's daily report shows the findings until they are acknowledged.
"""

from alembic import op
import sqlalchemy as sa


revision = '0008'
down_revision = '0003'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('statements',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('raw_file_id', _ID, nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('account_iban', sa.String(length=64), nullable=True),
    sa.Column('statement_id', sa.String(length=140), nullable=True),
    sa.Column('sequence', sa.String(length=35), nullable=True),
    sa.Column('from_date', sa.Date(), nullable=True),
    sa.Column('to_date', sa.Date(), nullable=True),
    sa.Column('currency', sa.String(length=3), nullable=True),
    sa.Column('opening_balance', sa.BigInteger(), nullable=True),
    sa.Column('closing_balance', sa.BigInteger(), nullable=True),
    sa.Column('credits', sa.BigInteger(), nullable=False),
    sa.Column('debits', sa.BigInteger(), nullable=False),
    sa.Column('entry_count', sa.Integer(), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['raw_file_id'], ['raw_files.id'], name=op.f('fk_statements_raw_file_id_raw_files')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statements'))
    )
    op.create_index(op.f('ix_statements_raw_file_id'), 'statements', ['raw_file_id'], unique=False)
    op.create_index(op.f('ix_statements_business_day'), 'statements', ['business_day'], unique=False)
    op.create_table('statement_findings',
    sa.Column('id', _ID, autoincrement=True, nullable=False),
    sa.Column('raw_file_id', _ID, nullable=False),
    sa.Column('statement_id', _ID, nullable=True),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('expected', sa.BigInteger(), nullable=True),
    sa.Column('actual', sa.BigInteger(), nullable=True),
    sa.Column('difference', sa.BigInteger(), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.Column('business_day', sa.Date(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('acknowledged_by', sa.String(length=64), nullable=True),
    sa.Column('acknowledged_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('ack_comment', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['raw_file_id'], ['raw_files.id'], name=op.f('fk_statement_findings_raw_file_id_raw_files')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_statement_findings_statement_id_statements')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_findings'))
    )
    op.create_index(op.f('ix_statement_findings_raw_file_id'), 'statement_findings', ['raw_file_id'], unique=False)
    op.create_index(op.f('ix_statement_findings_business_day'), 'statement_findings', ['business_day'], unique=False)


def downgrade() -> None:
    op.drop_table('statement_findings')
    op.drop_table('statements')
