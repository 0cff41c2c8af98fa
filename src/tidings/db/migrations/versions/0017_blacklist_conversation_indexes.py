"""indexes: a blacklist by sending, WhatsApp conversations by recipient (in place of the account's own index)

`GET /api/rest/v2/blacklist/{type}?sendingId=` read the whole blacklist of that type: a partial index of the
entries a sending's unsubscribes made. `GET /api/rest/whatsapp/conversations?to=` without `from` read every
conversation of the account: an index by (account, recipient), which replaces the index on the account alone
(both other indexes of the table lead with the account). On PostgreSQL each is built without blocking writes.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03 19:50:00
"""

from collections.abc import Sequence

from alembic import op

from tidings.db import online_ddl

revision: str = '0017'
down_revision: str | None = '0016'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SENDING = "ix_suppressions_sending_id"
_RECIPIENT = "ix_whatsapp_conversations_recipient"
_ACCOUNT = "ix_whatsapp_conversations_account_id"


def upgrade() -> None:
    online_ddl.create_index(_SENDING, "suppressions", ["sending_id"], where="sending_id IS NOT NULL")
    online_ddl.create_index(_RECIPIENT, "whatsapp_conversations", ["account_id", "recipient"])
    online_ddl.drop_index(_ACCOUNT, "whatsapp_conversations")


def downgrade() -> None:
    op.create_index(_ACCOUNT, "whatsapp_conversations", ["account_id"])
    op.drop_index(_RECIPIENT, table_name="whatsapp_conversations")
    op.drop_index(_SENDING, table_name="suppressions")
