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
BATCH = 2000  # receipts a transaction
# While this process's dispatcher is sending, receipts wait until the first has waited this long or this many
# have come (the memory they may take), then a round records all that wait: recording takes the event loop's
# thread from the sends, so a burst goes out first and its receipts follow it (docs/performance.md).
HOLD = timedelta(seconds=2)
HOLD_COUNT = 20_000
SIDE_BY_SIDE = 2  # transactions recording a held burst at once on PostgreSQL
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
    """Turn waiting receipts into events, `BATCH` a transaction (one INSERT of events); returns how many were handled.

    While the dispatcher sends, receipts wait for `HOLD` or `HOLD_COUNT` (receipts must not slow submission
    down); the dispatcher wakes this loop when it stops sending. A round takes those waiting when it starts.
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
    if len(sources) == 1 and not ctx.db.sqlite and waiting > BATCH:
        side_by_side = await _record_side_by_side(ctx, sources[0], waiting)
        if side_by_side is not None:
            return side_by_side
    handled = 0
    while handled < waiting and (recorded := await _record(ctx, sources, min(BATCH, waiting - handled))):
        handled += recorded
    return handled


async def _record(ctx: EngineContext, sources: list[ReceiptSource], limit: int) -> int:
    """Up to `limit` waiting receipts recorded in one transaction; on an outage they go back, in order."""
    taken: list[Receipt] = []
    taken_from: list[tuple[ReceiptSource, list[Receipt]]] = []  # each source's share, given back on an outage
    for source in sources:
        mine: list[Receipt] = []
        while len(taken) + len(mine) < limit and not source.receipts.empty():
            mine.append(source.receipts.get_nowait())
        taken += mine
        taken_from.append((source, mine))
    if not taken:
        return 0
    try:
        await _in_transaction(ctx, taken)
    except Exception as exc:
        if is_unavailable(exc):
            # The SMSC has its deliver_sm_resp: these exist nowhere else. Back in front, in order, for when the
            # database is back (the runner waits the outage out).
            for source, mine in taken_from:
                _put_back(source.receipts, mine)
        raise
    return len(taken)


async def _in_transaction(ctx: EngineContext, taken: list[Receipt]) -> None:
    async with ctx.db.transaction() as session:
        async with events.batch(session):
            missing = await apply_receipts(session, taken)
        for receipt in missing:
            payload = {**receipt_payload(receipt), "first_seen": clock.now().isoformat()}
            await enqueue(session, "sms.receipt", payload, due_at=clock.now() + timedelta(seconds=5))


async def _record_side_by_side(ctx: EngineContext, source: ReceiptSource, waiting: int) -> int | None:
    """PostgreSQL, a held burst: `SIDE_BY_SIDE` transactions at a time, each a share of the messages, so that the
    database runs one's statements while this thread works out another's (recorded one after the other, a burst's
    receipts came several tenths of a second after its last send).

    A message's receipts stay in one share, in order; receipts that do not name their message (found by provider
    id) could name one of another share: then None, and nothing taken (they go one transaction at a time).
    """
    taken = [source.receipts.get_nowait() for _ in range(min(waiting, source.receipts.qsize()))]
    if not all(r.reference and r.reference.isdigit() for r in taken):
        _put_back(source.receipts, taken)
        return None
    shares: list[list[Receipt]] = [[] for _ in range(SIDE_BY_SIDE)]
    for receipt in taken:
        shares[int(str(receipt.reference)) % SIDE_BY_SIDE].append(receipt)
    outcomes = await asyncio.gather(*(_share(ctx, share) for share in shares if share))
    failures = [(exc, failed, after) for exc, failed, after in outcomes if exc is not None]
    if not failures:
        return len(taken)
    # Back in front, in the order they came: what a failed transaction held when the database is unavailable (as in
    # `_record`), and what its share had not tried yet in any case.
    back = {id(r) for exc, failed, after in failures for r in (*(failed if is_unavailable(exc) else ()), *after)}
    _put_back(source.receipts, [r for r in taken if id(r) in back])
    raise failures[0][0]


async def _share(ctx: EngineContext, share: list[Receipt],
                 ) -> tuple[Exception | None, list[Receipt], list[Receipt]]:
    """A share's receipts, `BATCH` a transaction in order, until one fails: (its error, its receipts, the rest)."""
    for first in range(0, len(share), BATCH):
        chunk = share[first:first + BATCH]
        try:
            await _in_transaction(ctx, chunk)
        except Exception as exc:  # noqa: BLE001 - raised by the caller once every share has ended
            return exc, chunk, share[first + BATCH:]
    return None, [], []


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
