"""messages: indexes on columns most rows leave empty hold only the rows that have them; no account_id index

Every UPDATE of a message is a new row version with an entry in each index whose condition it meets (see
models/message.py). On PostgreSQL each index is built anew beside the old one without blocking writes
(CONCURRENTLY), then takes its name, so a large table keeps its lookups during the upgrade.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 09:30:00
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# name, columns, PostgreSQL condition, SQLite condition (each as SQLAlchemy renders the queries' `IS true`)
_PARTIAL = [
    ("ix_messages_rfc_id", ["rfc_message_id"], "rfc_message_id IS NOT NULL", None),
    ("ix_messages_external", ["channel", "external_id"], "external_id IS NOT NULL", None),
    ("ix_messages_list_pending", ["account_id", "list_pending"], "list_pending IS TRUE", "list_pending IS 1"),
    ("ix_messages_sending_id", ["sending_id"], "sending_id IS NOT NULL", None),
    ("ix_messages_campaign_id", ["campaign_id"], "campaign_id IS NOT NULL", None),
    ("ix_messages_enrollment_id", ["enrollment_id"], "enrollment_id IS NOT NULL", None),
    ("ix_messages_thread_id", ["thread_id"], "thread_id IS NOT NULL", None),
]


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def _replace(name: str, columns: list[str], where: str | None, sqlite_where: str | None) -> None:
    """Put index `name` on `columns`, partial when `where` is given, in place of the one of that name."""
    if not _postgresql():
        op.drop_index(name, table_name="messages")
        condition = text(sqlite_where or where) if where else None
        op.create_index(name, "messages", columns, sqlite_where=condition)
        return
    with op.get_context().autocommit_block():
        # IF EXISTS: an upgrade interrupted half way (a concurrent build can fail and leave an invalid index)
        # runs again from the start.
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}_new")
        op.create_index(f"{name}_new", "messages", columns, postgresql_where=text(where) if where else None,
                        postgresql_concurrently=True)
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        op.execute(f"ALTER INDEX {name}_new RENAME TO {name}")


def upgrade() -> None:
    for name, columns, where, sqlite_where in _PARTIAL:
        _replace(name, columns, where, sqlite_where)
    if _postgresql():
        with op.get_context().autocommit_block():
            op.execute("DROP INDEX CONCURRENTLY IF EXISTS ix_messages_account_id")
    else:
        op.drop_index("ix_messages_account_id", table_name="messages")


def downgrade() -> None:
    op.create_index("ix_messages_account_id", "messages", ["account_id"])
    for name, columns, _, _ in _PARTIAL:
        _replace(name, columns, None, None)
