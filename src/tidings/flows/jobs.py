"""The per-step timeout of fallback flows, as a due job (queued by tidings.flows.service when a step starts)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.db.models import Job
from tidings.engine.context import EngineContext
from tidings.engine.registry import job
from tidings.flows import service


@job(service.TIMEOUT_JOB)
async def step_timeout(ctx: EngineContext, session: AsyncSession, job_row: Job) -> None:
    """Leave the step if it is still waiting for the message it started."""
    payload = job_row.payload or {}
    await service.time_out(session, int(payload["step_id"]), int(payload["message_id"]))
