"""indexes for the dashboard's lists: messages by direction and by recipient, enrollments by step

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 16:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_messages_account_direction_created', 'messages', ['account_id', 'direction', 'created_at'])
    op.create_index('ix_messages_account_recipient', 'messages', ['account_id', 'recipient'])
    op.create_index('ix_enrollments_campaign_status_step', 'enrollments', ['campaign_id', 'status', 'next_step'])


def downgrade() -> None:
    op.drop_index('ix_enrollments_campaign_status_step', table_name='enrollments')
    op.drop_index('ix_messages_account_recipient', table_name='messages')
    op.drop_index('ix_messages_account_direction_created', table_name='messages')
