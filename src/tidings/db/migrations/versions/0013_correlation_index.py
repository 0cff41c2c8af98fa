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
from sqlalchemy import text

revision: str = '0013'
down_revision: str | None = '0012'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ix_messages_correlation_id"
_WHERE = text("correlation_id IS NOT NULL")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(_NAME, "messages", ["correlation_id"], sqlite_where=_WHERE)
        return
    with op.get_context().autocommit_block():
        # IF EXISTS: a concurrent build that failed half way leaves an invalid index behind; the upgrade runs again.
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_NAME}")
        op.create_index(_NAME, "messages", ["correlation_id"], postgresql_where=_WHERE, postgresql_concurrently=True)


def downgrade() -> None:
    op.drop_index(_NAME, table_name="messages")
