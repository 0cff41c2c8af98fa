"""Putting work on the due-queue; the engine's runner executes it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tidings.core import clock
from tidings.db.at_commit import Pending
from tidings.db.base import table_of
from tidings.db.models import Job

# Built once: the rows of a transaction's jobs go in one executemany.
_INSERT = insert(table_of(Job))


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    due_at: datetime | None = None,
    account_id: int | None = None,
    max_attempts: int = 5,
) -> None:
    """Add a job in the caller's transaction, so it exists only if the work that asked for it does.

    Written when the transaction commits, with every other job it queued, in one statement: as ORM
    objects they were one INSERT each on SQLite (four per SMS with a notificationUrl and account events).
    """
    _JOBS.of(session.sync_session).append({"kind": kind, "payload": payload or {}, "due_at": due_at or clock.now(),
                                           "account_id": account_id, "max_attempts": max_attempts})


def _insert(session: Session, rows: list[dict[str, Any]]) -> None:
    session.connection().execute(_INSERT, rows)


_JOBS: Pending[list[dict[str, Any]]] = Pending("tidings.jobs.pending", list, _insert)


async def delete_finished(session: AsyncSession, finished_before: datetime, *, limit: int) -> int:
    """Delete up to `limit` jobs that finished (done or failed) before that time, oldest first; how many."""
    oldest = (select(Job.id).where(Job.finished_at.is_not(None), Job.finished_at < finished_before,
                                   Job.status.in_(("done", "failed")))
              .order_by(Job.finished_at).limit(limit))
    result = await session.execute(delete(Job).where(Job.id.in_(oldest.scalar_subquery()))
                                   .execution_options(synchronize_session=False))
    return int(result.rowcount)  # type: ignore[attr-defined]
