"""indexes: scheduled messages, a WhatsApp conversation's messages, a campaign's replies

Found by an audit of the read paths on a large account (session 19):
- `GET /api/rest/scheduled` (and PUT/DELETE without guids) read every queued message of every account on
  PostgreSQL (the queue index) and every messaging-API message of the account on SQLite: an index of the
  messages that have a schedule date, by account and status.
- A WhatsApp conversation's messages: the inbound arm (theirs -> ours) read every message to our number; the
  (account, recipient) index takes the sender as well (the same entries).
- A campaign's replies (newest first): the campaign's index takes the direction and creation time (the same
  entries, the messages that have a campaign).
On PostgreSQL each is built without blocking writes (CONCURRENTLY); a changed index is built beside the old one,
then swapped, so its queries keep an index meanwhile.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03 19:10:00
"""

from collections.abc import Sequence
from typing import Any

from alembic import op
from sqlalchemy import text

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SCHEDULED = ("ix_messages_scheduled", ["account_id", "status", "scheduled_at"], "scheduled_at IS NOT NULL")
_CHANGED = [
    ("ix_messages_account_recipient", ["account_id", "recipient", "sender"], None),
    ("ix_messages_campaign_id", ["campaign_id", "direction", "created_at"], "campaign_id IS NOT NULL"),
]
_BEFORE = [
    ("ix_messages_account_recipient", ["account_id", "recipient"], None),
    ("ix_messages_campaign_id", ["campaign_id"], "campaign_id IS NOT NULL"),
]


def _where(condition: str | None, dialect: str) -> dict[str, Any]:
    return {} if condition is None else {f"{dialect}_where": text(condition)}


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        for name, columns, where in _CHANGED:
            op.drop_index(name, table_name="messages")
            op.create_index(name, "messages", columns, **_where(where, "sqlite"))
        name, columns, where = _SCHEDULED
        op.create_index(name, "messages", columns, **_where(where, "sqlite"))
        return
    with op.get_context().autocommit_block():
        # IF EXISTS: a concurrent build that failed half way leaves an invalid index behind; the upgrade runs again.
        name, columns, where = _SCHEDULED
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        op.create_index(name, "messages", columns, postgresql_concurrently=True, **_where(where, "postgresql"))
        for name, columns, where in _CHANGED:
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}_new")
            op.create_index(f"{name}_new", "messages", columns, postgresql_concurrently=True,
                            **_where(where, "postgresql"))
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
            op.execute(f"ALTER INDEX {name}_new RENAME TO {name}")


def downgrade() -> None:
    op.drop_index(_SCHEDULED[0], table_name="messages")
    for name, columns, where in _BEFORE:
        op.drop_index(name, table_name="messages")
        op.create_index(name, "messages", columns, **_where(where, "sqlite"), **_where(where, "postgresql"))
