"""cluster: nodes, leases, nonces, and who claimed a message

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 03:00:00.000000
"""

from alembic import op
import sqlalchemy as sa
import pigeon.store.tables


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('nodes',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('started_at', pigeon.store.tables.UTCDateTime(), nullable=False),
    sa.Column('seen_at', pigeon.store.tables.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_nodes')),
    sqlite_autoincrement=True
    )
    op.create_table('leases',
    sa.Column('name', sa.String(length=128), nullable=False),
    sa.Column('owner', sa.BigInteger(), nullable=False),
    sa.Column('expires_at', pigeon.store.tables.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_leases'))
    )
    op.create_table('nonces',
    sa.Column('digest', sa.LargeBinary(length=16), nullable=False),
    sa.Column('expires_at', pigeon.store.tables.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('digest', name=op.f('pk_nonces'))
    )
    op.create_index('ix_nonces_expires_at', 'nonces', ['expires_at'], unique=False)
    # A plain ADD COLUMN on both databases: no copy of the messages table.
    op.add_column('messages', sa.Column('claimed_by', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('messages') as batch:
        batch.drop_column('claimed_by')
    op.drop_index('ix_nonces_expires_at', table_name='nonces')
    op.drop_table('nonces')
    op.drop_table('leases')
    op.drop_table('nodes')
