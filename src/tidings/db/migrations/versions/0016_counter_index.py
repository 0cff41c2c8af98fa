"""index: an account's counters by scope and day, in place of the index on the account alone

The dashboard's sendings chart (the last 30 days) read every counter of every sending the account ever made.
On PostgreSQL it is built without blocking writes (CONCURRENTLY) before the old index is dropped.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-03 19:30:00
"""

from collections.abc import Sequence

from alembic import op

from tidings.db import online_ddl

revision: str = '0016'
down_revision: str | None = '0015'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NEW = "ix_stat_counters_account_scope_day"
_OLD = "ix_stat_counters_account_id"


def upgrade() -> None:
    online_ddl.create_index(_NEW, "stat_counters", ["account_id", "scope", "day"])
    online_ddl.drop_index(_OLD, "stat_counters")


def downgrade() -> None:
    op.create_index(_OLD, "stat_counters", ["account_id"])
    op.drop_index(_NEW, table_name="stat_counters")
