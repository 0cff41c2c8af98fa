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

from alembic import op
from sqlalchemy import text

from tidings.db import online_ddl

revision: str = '0015'
down_revision: str | None = '0014'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    online_ddl.create_index("ix_messages_scheduled", "messages", ["account_id", "status", "scheduled_at"],
                            where="scheduled_at IS NOT NULL")
    online_ddl.replace_index("ix_messages_account_recipient", "messages", ["account_id", "recipient", "sender"])
    online_ddl.replace_index("ix_messages_campaign_id", "messages", ["campaign_id", "direction", "created_at"],
                             where="campaign_id IS NOT NULL")


def downgrade() -> None:
    op.drop_index("ix_messages_scheduled", table_name="messages")
    op.drop_index("ix_messages_account_recipient", table_name="messages")
    op.create_index("ix_messages_account_recipient", "messages", ["account_id", "recipient"])
    op.drop_index("ix_messages_campaign_id", table_name="messages")
    op.create_index("ix_messages_campaign_id", "messages", ["campaign_id"],
                    postgresql_where=text("campaign_id IS NOT NULL"), sqlite_where=text("campaign_id IS NOT NULL"))
