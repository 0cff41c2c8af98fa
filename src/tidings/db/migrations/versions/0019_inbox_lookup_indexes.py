"""indexes: the email status search by dates, the inbox by interest

Found by session 19's audit of the read paths on a large account:
- `POST /v1/email/status/search` with dates alone read every message of the account in the range (on PostgreSQL,
  with an open range, every message of every account by id): an index of the emails of sendings, by account and
  time (the channel too, which SQLite needs to prefer it).
- The unified inbox by interest read every reply of the account's campaigns: an index of the account's marked
  enrollments (UNMARKED, most of them, left out), by interest.
On PostgreSQL each is built without blocking writes (CONCURRENTLY).

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03 22:20:00
"""

from collections.abc import Sequence

from alembic import op

from tidings.db import online_ddl

revision: str = '0019'
down_revision: str | None = '0018'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EMAIL = "ix_messages_email_created"
_INTEREST = "ix_enrollments_account_interest"


def upgrade() -> None:
    online_ddl.create_index(_EMAIL, "messages", ["account_id", "channel", "created_at"],
                            where="channel = 'email' AND sending_id IS NOT NULL")
    online_ddl.create_index(_INTEREST, "enrollments", ["account_id", "interest"], where="interest <> 'UNMARKED'")


def downgrade() -> None:
    op.drop_index(_INTEREST, table_name="enrollments")
    op.drop_index(_EMAIL, table_name="messages")
