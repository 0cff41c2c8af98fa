"""The engine's WhatsApp work: statuses that overtook their message, and the periodic template sync.

Every hour (per worker process) each business account of the registered senders has its templates read
from the provider, when the provider has a template API (meta://), so an approval or a new template at
the provider becomes sendable without an operator. The HTTP calls run outside any transaction.
"""

from __future__ import annotations

import weakref
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.channels.base import ProviderError
from tidings.core import clock
from tidings.db.jobs import enqueue
from tidings.db.models import Job, WhatsappSender
from tidings.engine.context import EngineContext
from tidings.engine.registry import job, loop
from tidings.messaging.whatsapp import service
from tidings.messaging.whatsapp.webhook import STATUS_JOB, STATUS_RETRY_SECONDS

log = structlog.get_logger("tidings.whatsapp")


@runtime_checkable
class TemplateSource(Protocol):
    """A provider with a template API (the Cloud API's meta://); the sandbox has none."""

    async def list_templates(self, waba_id: str) -> list[dict[str, Any]]: ...


STATUS_GIVE_UP = timedelta(minutes=10)
SYNC_EVERY = timedelta(hours=1)
# Per provider instance: a new provider URL (a restart, a test's app) syncs at once.
_last_sync: weakref.WeakKeyDictionary[TemplateSource, datetime] = weakref.WeakKeyDictionary()


@job(STATUS_JOB)
async def retry_status(ctx: EngineContext, session: AsyncSession, job_row: Job) -> None:
    """A status that arrived before the dispatcher recorded its message's provider id."""
    payload = job_row.payload
    if await service.apply_status(session, str(payload["id"]), str(payload["status"]),
                                  str(payload.get("detail") or ""), payload.get("code")):
        return
    first = datetime.fromisoformat(str(payload.get("first_seen")))
    if clock.now() - clock.as_utc(first) < STATUS_GIVE_UP:
        await enqueue(session, STATUS_JOB, dict(payload), due_at=clock.now() + timedelta(seconds=STATUS_RETRY_SECONDS))


@loop("whatsapp.templates")
async def sync_templates(ctx: EngineContext) -> int:
    """Synchronise every business account's templates once an hour; returns how many accounts were read."""
    try:
        provider = ctx.providers.get("whatsapp")
    except ProviderError:
        return 0
    if not isinstance(provider, TemplateSource):
        return 0
    now = clock.now()
    last = _last_sync.get(provider)
    if last is not None and now - last < SYNC_EVERY:
        return 0
    _last_sync[provider] = now
    async with ctx.db.reading() as session:
        rows = (await session.execute(select(WhatsappSender.account_id, WhatsappSender.waba_id)
                                      .where(WhatsappSender.waba_id.is_not(None)).distinct())).all()
    done = 0
    for account_id, waba_id in rows:
        try:
            listed = await provider.list_templates(str(waba_id))
        except ProviderError as exc:
            log.warning("template sync failed", account_id=account_id, waba_id=waba_id, error=str(exc))
            continue
        async with ctx.db.transaction() as session:
            await service.sync_templates(session, int(account_id), str(waba_id), listed)
        done += 1
    return done
