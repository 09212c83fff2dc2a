"""account_counts: an account's messages per day and per month, for its caps

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 04:30:00.000000
"""

from alembic import op
import sqlalchemy as sa
import pigeon.store.tables


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty: a period's row is counted from the messages the first time a cap needs it.
    op.create_table('account_counts',
    sa.Column('account_id', sa.BigInteger(), nullable=False),
    sa.Column('period', sa.String(length=8), nullable=False),
    sa.Column('starts_at', pigeon.store.tables.UTCDateTime(), nullable=False),
    sa.Column('messages', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_account_counts_account_id_accounts')),
    sa.PrimaryKeyConstraint('account_id', 'period', 'starts_at', name=op.f('pk_account_counts'))
    )


def downgrade() -> None:
    op.drop_table('account_counts')
