"""alerts follow-ups: resolved notifications, conversions, connector down since

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 03:20:00.000000
"""

from alembic import op
import sqlalchemy as sa
import pigeon.store.tables


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('alert_notifications', schema=None) as batch_op:
        batch_op.add_column(sa.Column('event', sa.String(length=12), nullable=False,
                                      server_default='fired'))

    op.create_table('message_conversions',
    sa.Column('message_id', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('account_id', sa.BigInteger(), nullable=False),
    sa.Column('phone', sa.String(length=20), nullable=False),
    sa.Column('message_at', pigeon.store.tables.UTCDateTime(), nullable=False),
    sa.Column('delivered', sa.Boolean(), nullable=False),
    sa.Column('conversion_time', pigeon.store.tables.UTCDateTime(), nullable=True),
    sa.Column('created_at', pigeon.store.tables.UTCDateTime(), nullable=False),
    sa.Column('updated_at', pigeon.store.tables.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], name=op.f('fk_message_conversions_account_id_accounts')),
    sa.PrimaryKeyConstraint('message_id', name=op.f('pk_message_conversions'))
    )
    with op.batch_alter_table('message_conversions', schema=None) as batch_op:
        batch_op.create_index('ix_message_conversions_account', ['account_id', 'message_at'], unique=False)

    op.create_table('connector_down_since',
    sa.Column('connector', sa.String(length=64), nullable=False),
    sa.Column('since', pigeon.store.tables.UTCDateTime(), nullable=False),
    sa.Column('seen_at', pigeon.store.tables.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('connector', name=op.f('pk_connector_down_since'))
    )


def downgrade() -> None:
    op.drop_table('connector_down_since')
    with op.batch_alter_table('message_conversions', schema=None) as batch_op:
        batch_op.drop_index('ix_message_conversions_account')
    op.drop_table('message_conversions')
    with op.batch_alter_table('alert_notifications', schema=None) as batch_op:
        batch_op.drop_column('event')
