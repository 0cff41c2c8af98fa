"""indexes: the email status search by dates, the inbox by interest, a sending's totals from its index

Found by session 19's audit of the read paths on a large account:
- `POST /v1/email/status/search` with dates alone read every message of the account in the range (on PostgreSQL,
  with an open range, every message of every account by id): an index of the emails of sendings, by account and
  time (the channel too, which SQLite needs to prefer it).
- The unified inbox by interest read every reply of the account's campaigns: an index of the account's marked
  enrollments (UNMARKED, most of them, left out), by interest.
- A sending's totals (`sending_stats`: processed, first and last send, sent parts) read each of its messages: the
  sending's index takes the status, send time and parts (the same entries), so they are summed from it alone.
On PostgreSQL each is built without blocking writes (CONCURRENTLY); the changed index is built beside the old one,
then swapped, so its queries keep an index meanwhile.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03 22:20:00
"""

from collections.abc import Sequence

from alembic import op
from sqlalchemy import text

from tidings.db import online_ddl

revision: str = '0018'
down_revision: str | None = '0017'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMAIL = "ix_messages_email_created"
_INTEREST = "ix_enrollments_account_interest"
_SENDING = "ix_messages_sending_id"


def upgrade() -> None:
    online_ddl.create_index(_EMAIL, "messages", ["account_id", "channel", "created_at"],
                            where="channel = 'email' AND sending_id IS NOT NULL")
    online_ddl.create_index(_INTEREST, "enrollments", ["account_id", "interest"], where="interest <> 'UNMARKED'")
    online_ddl.replace_index(_SENDING, "messages", ["sending_id", "status", "sent_at", "parts"],
                             where="sending_id IS NOT NULL")


def downgrade() -> None:
    op.drop_index(_SENDING, table_name="messages")
    op.create_index(_SENDING, "messages", ["sending_id"],
                    postgresql_where=text("sending_id IS NOT NULL"), sqlite_where=text("sending_id IS NOT NULL"))
    op.drop_index(_INTEREST, table_name="enrollments")
    op.drop_index(_EMAIL, table_name="messages")
