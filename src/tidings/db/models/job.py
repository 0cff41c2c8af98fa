"""Background work of every kind, as rows of the due-queue."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, DueMixin, IdMixin, TimestampMixin, partial_index

# The jobs a runner may claim: the claim index's condition, and the claims' filter written the same
# (tidings.engine.runner), so that both planners see that the index covers the query.
LIVE = "status IN ('queued', 'running')"


class Job(IdMixin, TimestampMixin, DueMixin, Base):
    __tablename__ = "jobs"
    __table_args__ = (
        partial_index("ix_jobs_queue", "due_at", "id", where=LIVE),
        partial_index("ix_jobs_finished", "finished_at"),  # finished jobs by age, for the retention sweep
    )

    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default="queued")
    max_attempts: Mapped[int] = mapped_column(default=5)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
