"""indexes: cold emails by lower-cased recipient; no account_id index on enrollments and events; events by sending partial

Inbound mail that answers no message id (a reply without references, any other mail reaching a mailbox) read
all of the account's messages to find the cold email sent to its sender: an index on the lower-cased recipient
of cold emails. Applying a suppression walked every enrollment of the account through its account_id index,
which nothing else uses (enrollments are reached through their campaign and contact): dropped. On PostgreSQL
every change runs without blocking writes (CONCURRENTLY).

Events are only inserted, each with an entry in every index of the table: the account_id index, which no read
uses (they go by message or sending), is dropped, and the (sending, time) index holds only events that have a
sending (a cold email's have none).

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

_RECIPIENT = "ix_messages_outreach_recipient"
_WHERE = text("enrollment_id IS NOT NULL")
_ENROLLMENT_ACCOUNT = "ix_enrollments_account_id"
_EVENT_ACCOUNT = "ix_events_account_id"
_EVENT_SENDING = "ix_events_sending_time"
_EVENT_SENDING_COLUMNS = ["sending_id", "occurred_at"]


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        op.create_index(_RECIPIENT, "messages", [text("lower(recipient)")], sqlite_where=_WHERE)
        op.drop_index(_ENROLLMENT_ACCOUNT, table_name="enrollments")
        op.drop_index(_EVENT_ACCOUNT, table_name="events")
        op.drop_index(_EVENT_SENDING, table_name="events")
        op.create_index(_EVENT_SENDING, "events", _EVENT_SENDING_COLUMNS, sqlite_where=text("sending_id IS NOT NULL"))
        return
    with op.get_context().autocommit_block():
        # IF EXISTS: a concurrent build that failed half way leaves an invalid index behind; the upgrade runs again.
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_RECIPIENT}")
        op.create_index(_RECIPIENT, "messages", [text("lower(recipient)")], postgresql_where=_WHERE,
                        postgresql_concurrently=True)
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_ENROLLMENT_ACCOUNT}")
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_EVENT_ACCOUNT}")
        # Built beside the old one, then renamed, as in 0011: the sending's reports keep their index meanwhile.
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_EVENT_SENDING}_new")
        op.create_index(f"{_EVENT_SENDING}_new", "events", _EVENT_SENDING_COLUMNS,
                        postgresql_where=text("sending_id IS NOT NULL"), postgresql_concurrently=True)
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {_EVENT_SENDING}")
        op.execute(f"ALTER INDEX {_EVENT_SENDING}_new RENAME TO {_EVENT_SENDING}")


def downgrade() -> None:
    op.drop_index(_EVENT_SENDING, table_name="events")
    op.create_index(_EVENT_SENDING, "events", _EVENT_SENDING_COLUMNS)
    op.create_index(_EVENT_ACCOUNT, "events", ["account_id"])
    op.create_index(_ENROLLMENT_ACCOUNT, "enrollments", ["account_id"])
    op.drop_index(_RECIPIENT, table_name="messages")
