"""events: no foreign keys to the account and the sending

An event's account and sending are its message's, and the message's key already removes the events with the
message (deleting an account or a sending deletes its messages). On PostgreSQL each of the two keys was a lookup
and a row lock (FOR KEY SHARE) of the account's or sending's row for every event inserted: two events an SMS,
the account's row shared by every worker's transactions. On SQLite the events table is rebuilt without them
(a copy of the table: on a large installation this migration takes a while, once).

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04 11:05:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = '0020'
down_revision: str | None = '0019'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KEYS = (("fk_events_account_id_accounts", "account_id", "accounts"),
         ("fk_events_sending_id_sendings", "sending_id", "sendings"))


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        for name, _, _ in _KEYS:
            batch.drop_constraint(name, type_="foreignkey")


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        for name, column, table in _KEYS:
            batch.create_foreign_key(name, table, [column], ["id"], ondelete="CASCADE")
