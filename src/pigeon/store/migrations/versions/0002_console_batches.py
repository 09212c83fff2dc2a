"""console batches

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 03:20:00.000000
"""

from alembic import op
import sqlalchemy as sa
import pigeon.store.tables


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('batches',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('account_id', sa.BigInteger(), nullable=False),
    sa.Column('file_name', sa.String(length=255), nullable=False),
    sa.Column('file_format', sa.String(length=16), nullable=False),
    sa.Column('sign_name', sa.String(length=64), nullable=False),
    sa.Column('template_code', sa.String(length=32), nullable=False),
    sa.Column('template_type', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('valid', sa.Integer(), nullable=False),
    sa.Column('segments', sa.Integer(), nullable=False),
    sa.Column('sent', sa.Integer(), nullable=False),
    sa.Column('failed', sa.Integer(), nullable=False),
    sa.Column('ignored_columns', sa.JSON(), nullable=True),
    sa.Column('scheduled_at', pigeon.store.tables.UTCDateTime(), nullable=True),
    sa.Column('started_at', pigeon.store.tables.UTCDateTime(), nullable=True),
    sa.Column('finished_at', pigeon.store.tables.UTCDateTime(), nullable=True),
    sa.Column('created_at', pigeon.store.tables.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_batches_account_id_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_batches'))
    )
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.create_index('ix_batches_account', ['account_id', 'id'], unique=False)
        batch_op.create_index('ix_batches_due', ['status', 'scheduled_at'], unique=False)

    op.create_table('batch_rows',
    sa.Column('batch_id', sa.BigInteger(), nullable=False),
    sa.Column('line', sa.Integer(), nullable=False),
    sa.Column('phone', sa.String(length=64), nullable=False),
    sa.Column('params', sa.JSON(), nullable=True),
    sa.Column('content', sa.Text(), nullable=True),
    sa.Column('segments', sa.Integer(), nullable=True),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('err_code', sa.String(length=64), nullable=True),
    sa.Column('err_msg', sa.Text(), nullable=True),
    sa.Column('biz_id', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.id'], name=op.f('fk_batch_rows_batch_id_batches'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('batch_id', 'line', name=op.f('pk_batch_rows'))
    )
    with op.batch_alter_table('batch_rows', schema=None) as batch_op:
        batch_op.create_index('ix_batch_rows_state', ['batch_id', 'state', 'line'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('batch_rows', schema=None) as batch_op:
        batch_op.drop_index('ix_batch_rows_state')

    op.drop_table('batch_rows')
    with op.batch_alter_table('batches', schema=None) as batch_op:
        batch_op.drop_index('ix_batches_due')
        batch_op.drop_index('ix_batches_account')

    op.drop_table('batches')
