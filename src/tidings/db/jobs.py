"""Putting work on the due-queue; the engine's runner executes it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.db.models import Job


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    due_at: datetime | None = None,
    account_id: int | None = None,
    max_attempts: int = 5,
) -> Job:
    """Add a job in the caller's transaction, so it exists only if the work that asked for it does.

    Not flushed here: the session writes it with the rest of the transaction (a flush per job made the
    dispatcher flush its whole batch once per message with a notification URL). Flush for its id.
    """
    job = Job(kind=kind, payload=payload or {}, due_at=due_at or clock.now(), account_id=account_id,
              max_attempts=max_attempts)
    session.add(job)
    return job
