"""messages: index by signature and extension code instead of by signature and phone

The per-number limits read ix_messages_lookup (account_id, phone, created_at), the index
QuerySendDetails reads; ix_messages_limits, in the phone's random order too, cost every
message one more random page to write.  A database with many messages takes a while to
build the new index (once, at the upgrade).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 04:00:00.000000
"""

from alembic import op


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index('ix_messages_limits', table_name='messages')
    op.create_index('ix_messages_signature', 'messages', ['signature_id', 'extend_code'],
                    unique=False)


def downgrade() -> None:
    op.drop_index('ix_messages_signature', table_name='messages')
    op.create_index('ix_messages_limits', 'messages', ['signature_id', 'phone', 'created_at'],
                    unique=False)
