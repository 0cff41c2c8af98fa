"""Putting work on the due-queue; the engine's runner executes it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tidings.core import clock
from tidings.db.base import table_of
from tidings.db.models import Job

_PENDING = "tidings.jobs.pending"
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
    pending: list[dict[str, Any]] = session.sync_session.info.setdefault(_PENDING, [])
    pending.append({"kind": kind, "payload": payload or {}, "due_at": due_at or clock.now(),
                    "account_id": account_id, "max_attempts": max_attempts})


def write_pending(session: Session) -> None:
    """Insert the jobs queued in this transaction (called just before it commits)."""
    rows: list[dict[str, Any]] | None = session.info.pop(_PENDING, None)
    if rows:
        session.connection().execute(_INSERT, rows)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    write_pending(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
