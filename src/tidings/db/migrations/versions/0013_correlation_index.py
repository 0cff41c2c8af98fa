"""index: messages by correlation id, for the email dialect's status search

`POST /v1/email/status/search` with correlationIds read every email-dialect message of the account (1 s and
more for a million); a partial index holds only the messages that have one. On PostgreSQL it is built without
blocking writes (CONCURRENTLY).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-03 19:00:00
"""

from collections.abc import Sequence

from alembic import op

from tidings.db import online_ddl

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ix_messages_correlation_id"


def upgrade() -> None:
    online_ddl.create_index(_NAME, "messages", ["correlation_id"], where="correlation_id IS NOT NULL")


def downgrade() -> None:
    op.drop_index(_NAME, table_name="messages")
