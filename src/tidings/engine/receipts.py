"""The engine side of SMS receipts: drain providers' receipt queues into events, retry the early ones.

A receipt can overtake the dispatcher's record of its message (another worker, a fast SMSC); such a
receipt becomes an `sms.receipt` job that looks again for ten minutes before giving up.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.channels.sms import Receipt, ReceiptSource
from tidings.core import clock
from tidings.db.jobs import enqueue
from tidings.db.models import Job
from tidings.engine.context import EngineContext
from tidings.engine.health import is_unavailable
from tidings.engine.registry import RetryLater, job, loop
from tidings.messaging import events
from tidings.messaging.receipts import (
    apply_receipt,
    apply_receipts,
    callback_url,
    receipt_from_payload,
    receipt_payload,
)

log = structlog.get_logger("tidings.receipts")
BATCH = 2000
# While this process's dispatcher is sending, receipts wait until this many have come or the first has waited
# this long: the rounds that record them take the event loop's thread from the sends (docs/performance.md).
HOLD_COUNT = 1000
HOLD = timedelta(seconds=1)
GIVE_UP_AFTER = timedelta(minutes=10)


def _sources(ctx: EngineContext) -> list[ReceiptSource]:
    try:
        provider = ctx.providers.get("sms")
    except Exception:  # noqa: BLE001 - a broken SMS URL is reported by the dispatcher, not here
        return []
    return [provider] if isinstance(provider, ReceiptSource) else []


def _configure_callbacks(ctx: EngineContext) -> None:
    """Tell a Twilio-compatible provider where to post statuses, unless its URL names a callback."""
    try:
        provider = ctx.providers.get("sms")
    except Exception:  # noqa: BLE001 - see _sources
        return
    if hasattr(provider, "status_callback") and getattr(provider, "status_callback", None) is None:
        setattr(provider, "status_callback", callback_url(ctx.settings))  # noqa: B010


@loop("sms.receipts", at_stop=True)  # held receipts are recorded at shutdown, not lost with the process
async def drain_receipts(ctx: EngineContext) -> int:
    """Turn waiting receipts into events in one transaction (one INSERT of events); returns how many were handled.

    While the dispatcher sends, a round waits for `HOLD_COUNT` receipts or `HOLD` (receipts must not
    slow submission down): fewer, larger transactions, the same receipts a second later at most.
    """
    _configure_callbacks(ctx)
    sources = _sources(ctx)
    for source in sources:
        await source.listen()
    waiting = sum(source.receipts.qsize() for source in sources)
    if not waiting:
        ctx.receipts_held_since = None
        return 0
    if ctx.sending and waiting < HOLD_COUNT:
        now = clock.now()
        if ctx.receipts_held_since is None:
            ctx.receipts_held_since = now
        if now - ctx.receipts_held_since < HOLD:
            return 0
    ctx.receipts_held_since = None
    taken: list[Receipt] = []
    taken_from: list[tuple[ReceiptSource, list[Receipt]]] = []  # each source's share, given back on an outage
    for source in sources:
        mine: list[Receipt] = []
        while len(taken) + len(mine) < BATCH and not source.receipts.empty():
            mine.append(source.receipts.get_nowait())
        taken += mine
        taken_from.append((source, mine))
    if not taken:
        return 0
    try:
        async with ctx.db.transaction() as session:
            async with events.batch(session):
                missing = await apply_receipts(session, taken)
            for receipt in missing:
                payload = {**receipt_payload(receipt), "first_seen": clock.now().isoformat()}
                await enqueue(session, "sms.receipt", payload, due_at=clock.now() + timedelta(seconds=5))
    except Exception as exc:
        if is_unavailable(exc):
            # The SMSC has its deliver_sm_resp: these exist nowhere else. Back in front, in order, for when the
            # database is back (the runner waits the outage out).
            for source, mine in taken_from:
                _put_back(source.receipts, mine)
        raise
    return len(taken)


def _put_back(queue: asyncio.Queue[Receipt], receipts: list[Receipt]) -> None:
    """`receipts` ahead of what arrived since they were taken; rebuilt without an await, so nothing interleaves."""
    later: list[Receipt] = []
    while not queue.empty():
        later.append(queue.get_nowait())
    for receipt in (*receipts, *later):
        queue.put_nowait(receipt)


@job("sms.receipt")
async def retry_receipt(ctx: EngineContext, session: AsyncSession, job_row: Job) -> None:
    """A receipt whose message was not found at first."""
    payload = job_row.payload
    if await apply_receipt(session, receipt_from_payload(payload)):
        return
    first_seen = datetime.fromisoformat(str(payload.get("first_seen") or clock.now().isoformat()))
    if clock.now() - first_seen < GIVE_UP_AFTER:
        raise RetryLater(30, "message not recorded yet")
    log.warning("receipt for an unknown message dropped", provider_id=payload.get("provider_id"),
                stat=payload.get("stat"))
