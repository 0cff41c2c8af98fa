"""The engine side of voice calls: statuses due later (the sandbox's, early callbacks) and AMD hang-ups."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.channels.base import VOICE, SendResult
from tidings.core import clock
from tidings.db.models import Job, Message
from tidings.engine.context import EngineContext
from tidings.engine.registry import RetryLater, io_job, job
from tidings.messaging.voice import calls

GIVE_UP_AFTER = timedelta(minutes=10)


@job(calls.STATUS_JOB)
async def call_status(ctx: EngineContext, session: AsyncSession, job_row: Job) -> None:
    """Statuses the sandbox announced, or a callback that arrived before its call was recorded."""
    payload = job_row.payload or {}
    updates = calls.updates_from(payload)
    if not updates:
        return
    message = (await session.get(Message, int(payload["message_id"]), with_for_update=True, populate_existing=True)
               if payload.get("message_id") else await calls.find_call(session, updates[0].provider_id))
    if message is not None and message.external_id == updates[0].provider_id:
        await calls.apply_updates(session, message, updates)
        return
    first_seen = datetime.fromisoformat(str(payload.get("first_seen") or clock.now().isoformat()))
    if message is None and clock.now() - first_seen < GIVE_UP_AFTER:
        raise RetryLater(5, "call not recorded yet")


@io_job(calls.HANGUP_JOB)
async def hang_up(ctx: EngineContext, job_row: Job) -> None:
    """End a call an answering machine took (the provider then reports it completed)."""
    provider = ctx.providers.get(VOICE)
    hangup = getattr(provider, "hangup", None)
    if hangup is None:
        return
    result: SendResult = await hangup(str(job_row.payload["provider_id"]))
    if not result.accepted and not result.permanent:
        raise RuntimeError(f"hang-up failed: {result.code}")
