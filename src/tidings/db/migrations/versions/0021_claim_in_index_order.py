"""messages: the claim's index in its own order, of the messages it may claim

The dispatcher claims the due messages in (due_at, id) order. On (status, due_at) PostgreSQL and SQLite read every
due message of both statuses and sorted them before taking a batch: with 100,000 messages queued, a claim of 500
cost PostgreSQL about 60 ms (a sort spilled to disk), about 120 µs a message, and more as the queue grows. On
(due_at, id) of the queued and sending messages the claim reads the index in order and stops at its batch; a
message leaves the index when it is sent. On PostgreSQL the new index is built beside the old one without blocking
writes.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-04 11:55:00
"""

from collections.abc import Sequence

from alembic import op

from tidings.db import online_ddl

revision: str = '0021'
down_revision: str | None = '0020'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_QUEUED = "status IN ('queued', 'sending')"


def upgrade() -> None:
    online_ddl.replace_index("ix_messages_queue", "messages", ["due_at", "id"], where=_QUEUED)


def downgrade() -> None:
    op.drop_index("ix_messages_queue", table_name="messages")
    op.create_index("ix_messages_queue", "messages", ["status", "due_at"])
