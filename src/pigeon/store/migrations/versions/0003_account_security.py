"""account security

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28 03:20:00.000000
"""

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401
import pigeon.store.tables  # noqa: F401


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('ip_allow_list',
    sa.Column('account_id', sa.BigInteger(), nullable=False),
    sa.Column('network', sa.String(length=64), nullable=False),
    sa.Column('created_at', pigeon.store.tables.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_ip_allow_list_account_id_accounts')),
    sa.PrimaryKeyConstraint('account_id', 'network', name=op.f('pk_ip_allow_list'))
    )


def downgrade() -> None:
    op.drop_table('ip_allow_list')
