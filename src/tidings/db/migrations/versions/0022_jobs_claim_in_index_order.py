"""jobs: the claim's index in its own order, of the jobs it may claim; finished jobs by age

As migration 0021 did for messages: a runner claims the due jobs in (due_at, id) order, and on (status, due_at)
both databases read every due queued or running job and sorted them before taking a batch (30,000 notifications
waiting: 30-60 ms a round). On (due_at, id) of the queued and running jobs the claim reads the index in order and
stops at its batch, and a job leaves the index when it finishes. Finished jobs get an index by the time they
finished, which the retention sweep reads (`TIDINGS_JOB_RETENTION_DAYS`). On PostgreSQL both are built without
blocking writes.

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-04 14:20:00
"""

from collections.abc import Sequence

from alembic import op

from tidings.db import online_ddl

revision: str = '0022'
down_revision: str | None = '0021'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = "status IN ('queued', 'running')"


def upgrade() -> None:
    online_ddl.replace_index("ix_jobs_queue", "jobs", ["due_at", "id"], where=_LIVE)
    online_ddl.create_index("ix_jobs_finished", "jobs", ["finished_at"], where="finished_at IS NOT NULL")


def downgrade() -> None:
    op.drop_index("ix_jobs_finished", table_name="jobs")
    op.drop_index("ix_jobs_queue", table_name="jobs")
    op.create_index("ix_jobs_queue", "jobs", ["status", "due_at"])
