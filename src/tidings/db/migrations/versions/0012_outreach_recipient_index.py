"""messages: cold emails by the lower-cased recipient, for inbound mail that answers no message id

Without it every such mail (a reply without references, any other mail reaching a mailbox) read all of the
account's messages. On PostgreSQL the index is built without blocking writes (CONCURRENTLY).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 13:00:00
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = '0012'
down_revision: str | None = '0011'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NAME = "ix_messages_outreach_recipient"
_WHERE = text("enrollment_id IS NOT NULL")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(_NAME, "messages", [text("lower(recipient)")], sqlite_where=_WHERE)
        return
    with op.get_context().autocommit_block():
        # IF EXISTS: a concurrent build that failed half way leaves an invalid index behind; the upgrade runs again.
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_NAME}")
        op.create_index(_NAME, "messages", [text("lower(recipient)")], postgresql_where=_WHERE,
                        postgresql_concurrently=True)


def downgrade() -> None:
    op.drop_index(_NAME, table_name="messages")
