"""The dispatcher loop: sends due outbound messages of every channel and records the outcome.

One transaction claims a batch and prepares it, the sends run concurrently (sequentially per
provider key, so one SMTP connection per mailbox is reused, unless the provider declares a
`concurrency`, as a windowed SMPP provider does), and outcomes are committed while the sends go on.
A crash between a provider's acceptance and our commit of it re-sends that message after the lease
expires: at-least-once (docs/reliability.md).
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, and_, literal_column, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.channels.base import EMAIL, SendResult
from tidings.core import clock
from tidings.db import plain_writes
from tidings.db.base import attach, by_ids, get_loaded, one_of
from tidings.db.jobs import enqueue
from tidings.db.models import Account, Job, Message, Sending
from tidings.db.models.message import QUEUED
from tidings.db.queue import claim
from tidings.db.tracked import TrackedRow
from tidings.engine.context import EngineContext
from tidings.engine.health import DATABASE, Backoff, is_unavailable
from tidings.engine.registry import job, loop
from tidings.messaging import events
from tidings.messaging.delivery import (
    BEFORE_GATES,
    GATES,
    OUTCOMES,
    PREPARE_FAILED,
    Hold,
    Prepared,
    PrepareFailed,
    Refuse,
    hold_batch,
    preparer_for,
)

log = structlog.get_logger("tidings.dispatcher")
MAX_SEND_ATTEMPTS = 8
# What one batch may hold prepared in memory (emails with their attachments); the messages claimed beyond
# it are given back unprepared and go in the next batch.
PREPARED_BYTES_PER_BATCH = 64 * 1024 * 1024
# Send failures that mean the provider could not be reached (an outage), not that it refused the message.
UNREACHABLE = {"connection", "provider", "bind", "timeout"}
PROVIDER_STATUSES = {"delivered", "undelivered", "expired", "rejected", "bounced", "failed"}


# The messages a claim may take: the claim index's own condition, as written (a bound parameter would hide it
# from the planners).
CLAIMABLE: list[ColumnElement[bool]] = [Message.direction == "out", literal_column(QUEUED)]


@dataclass
class Claimed:
    """A batch's messages as the claim left them (by id; tracked rows, `db.tracked`) with their accounts and
    sendings, detached: its record transactions use them instead of reading them back (no row changes under a
    lease but ours).

    `usable` turns False when a record transaction fails: its rollback expired what it had attached, and the
    messages may hold values it did not write.
    """

    messages: dict[int, Message] = field(default_factory=dict)
    related: list[object] = field(default_factory=list)
    usable: bool = True
    memo: dict[str, Any] = field(default_factory=dict)  # delivery.batch_memo: the claim's and its records'


def retry_delay(attempt: int) -> timedelta:
    """1, 2, 4 ... minutes, at most one hour, between transient failures."""
    return timedelta(minutes=min(60, 2 ** max(0, attempt - 1)))


def _release(message: Message) -> None:
    message.locked_until, message.locked_by = None, None


async def _claim_and_prepare(ctx: EngineContext) -> tuple[list[tuple[int, Prepared]], Claimed]:
    ready: list[tuple[int, Prepared]] = []
    now = clock.now()
    claimed = Claimed()
    async with ctx.db.transaction() as session:
        # Tracked rows, not objects of the session: loading 44 columns into an object a message and reading them
        # through instrumented attributes was most of what the claim cost. A message that is not sent is loaded.
        messages = await claim(session, Message, worker=ctx.worker, limit=ctx.settings.worker_batch,
                               lease_seconds=ctx.settings.worker_lease_seconds, claimed_status="sending",
                               where=CLAIMABLE, as_tracked=True)
        hold_batch(session, messages, claimed.memo)
        # Gates and preparers look up each message's sending and account; load them once for the batch
        # and keep them referenced (the session holds rows weakly) so every lookup is an identity-map hit.
        related = await _load_related(session, messages)
        with session.no_autoflush:
            for hook in BEFORE_GATES:
                await hook(session, messages, ctx.settings)
        async with events.batch(session):
            await _prepare_each(ctx, session, messages, now, ready)
        # What the gates and preparers changed on the messages to be sent (a certified message's seal, an email's
        # new Message-ID) is committed with the claim, before the send, as the unit of work did.
        prepared = {m.id: changes for m in messages if (changes := plain_writes.take_changes(m))}
        if prepared:
            await plain_writes.update_plain(session, Message, prepared)
        claimed.messages = {m.id: m for m in messages}
        claimed.related = related
    return ready, claimed


# What happens to a claimed message that is not sent: given back unattempted, or a gate's decision (an expiry
# and a failed preparation are refusals too).
_GIVE_BACK, _EXPIRED = "give back", "expired"
Settled = Hold | Refuse | str


async def _prepare_each(ctx: EngineContext, session: AsyncSession, messages: Sequence[Message], now: datetime,
                        ready: list[tuple[int, Prepared]]) -> None:
    """Expire, gate and prepare each claimed message; those ready to send are appended to `ready`, the others
    settled on their loaded objects (`_settle`)."""
    in_memory = 0
    settled: list[tuple[Message, Settled]] = []
    for message in messages:
        if in_memory > PREPARED_BYTES_PER_BATCH:
            # Not attempted: as if never claimed (the next batch takes it first, it is due the longest).
            settled.append((message, _GIVE_BACK))
            continue
        if message.expires_at is not None and message.expires_at <= now:
            settled.append((message, _EXPIRED))
            continue
        decision = await _gates(session, message, ctx)
        if decision is not None:
            settled.append((message, decision))
            continue
        try:
            prepared = await preparer_for(message)(session, message, ctx.settings)
            ready.append((message.id, prepared))
            in_memory += len(prepared.outbound.raw or b"") + len(prepared.outbound.body) + (
                0 if prepared.finish is None else _content_size(message))
        except Exception as exc:  # noqa: BLE001 - a message that cannot be built fails alone
            log.warning("message cannot be prepared", message_id=message.id, error=str(exc))
            settled.append((message, Refuse("failed", PREPARE_FAILED, str(exc))))
    if settled:
        loaded = await _loaded(session, [message for message, _ in settled])
        for message, (_, outcome) in zip(loaded, settled, strict=True):
            await _settle(session, message, outcome)


def _content_size(message: Message) -> int:
    """About what a message built in its send lane will hold (its texts and attachments), counted at the claim as
    the bytes of one built there are: the batch's budget bounds both alike."""
    attachments = (message.extra or {}).get("attachments") or []
    return len(message.html or "") + len(message.body or "") + sum(
        len(str(item.get("data") or "")) for item in attachments if isinstance(item, dict))


async def _settle(session: AsyncSession, message: Message, outcome: Settled) -> None:
    if isinstance(outcome, Hold):
        message.status, message.due_at = "queued", outcome.until
        message.attempts -= 1
        message.extra = {**(message.extra or {}), "held": outcome.reason}
    elif isinstance(outcome, Refuse):
        await events.record(session, message, outcome.kind, details={"code": outcome.code, "detail": outcome.detail})
        message.due_at = None
    elif outcome == _EXPIRED:
        await events.record(session, message, "expired", details={"detail": "expired before sending"})
        message.due_at = None
    else:
        message.status, message.attempts = "queued", message.attempts - 1
    _release(message)


async def _loaded(session: AsyncSession, messages: Sequence[Message]) -> list[Message]:
    """The loaded objects of claimed messages (tracked rows), in the same order, holding what was assigned to them.

    For what needs the object itself: a message's event recorded by `events.record` (listeners without a plain
    form), the unit of work. Rows that are objects already are returned as they are.
    """
    wanted = sorted(m.id for m in messages if isinstance(m, TrackedRow))
    found: dict[int, Message] = {}
    for i in range(0, len(wanted), 500):
        found.update((m.id, m) for m in (await session.execute(by_ids(Message), {"ids": wanted[i:i + 500]})).scalars())
    out = []
    for message in messages:
        if isinstance(message, TrackedRow):
            obj = found[message.id]
            for key, value in message.take_changes().items():
                setattr(obj, key, value)
            message = obj
        out.append(message)
    return out


_RELATED = (select(Account, Sending).outerjoin(Sending, and_(Sending.account_id == Account.id,
                                                             one_of(Sending.id, "sendings")))
            .where(one_of(Account.id, "accounts")))


async def _load_related(session: AsyncSession, messages: Sequence[Message]) -> list[object]:
    """The batch's accounts and sendings, in one query when the batch is not unusually spread out."""
    held: list[object] = []
    sendings = sorted({m.sending_id for m in messages if m.sending_id is not None})
    accounts = sorted({m.account_id for m in messages})
    with session.no_autoflush:
        if len(sendings) <= 500 and len(accounts) <= 500:
            for row in (await session.execute(_RELATED, {"sendings": sendings, "accounts": accounts})).all():
                held.extend(row)
            return held
        for model, wanted in ((Sending, sendings), (Account, accounts)):
            for i in range(0, len(wanted), 500):
                held.extend((await session.execute(by_ids(model), {"ids": wanted[i:i + 500]})).scalars())
    return held


async def _gates(session: AsyncSession, message: Message, ctx: EngineContext) -> Hold | Refuse | None:
    for gate in GATES:
        decision = await gate(session, message, ctx.settings)
        if decision is not None:
            return decision
    return None


def _send_until(ctx: EngineContext, claimed_at: datetime) -> datetime:
    """No send starts after this: once the lease lapses another worker may claim and send the same message."""
    lease = ctx.settings.worker_lease_seconds
    return claimed_at + timedelta(seconds=lease - max(1.0, lease * 0.2))


async def _send_and_record(ctx: EngineContext, ready: list[tuple[int, Prepared]], send_until: datetime,
                           claimed: Claimed | None = None) -> None:
    """Send concurrently (one lane per provider key) and record each outcome as soon as it is known.

    Outcomes are committed by one recorder while the sends go on, each commit taking every outcome
    that arrived meanwhile (group commit), and a lane stops sending while `worker_unrecorded_per_connection`
    of its acceptances wait for their commit: a worker killed mid-batch re-sends at most that many messages
    per connection, not the whole batch. If recording fails, sending stops.
    """
    groups: dict[str, list[tuple[int, Prepared]]] = defaultdict(list)
    for item in ready:
        groups[item[1].key].append(item)
    lease_ends = time.monotonic() + ctx.settings.worker_lease_seconds
    pending: dict[int, SendResult] = {}
    waiting: list[asyncio.Future[None]] = []
    arrived = asyncio.Event()
    finished = False

    async def recorder() -> None:
        while True:
            if not pending:
                if finished:
                    return
                await arrived.wait()
                arrived.clear()
                continue
            batch, done = dict(pending), list(waiting)
            pending.clear()
            waiting.clear()
            try:
                await _record_patiently(ctx, batch, lease_ends, claimed)
            finally:
                # On failure too: the lanes wake, see that the recorder ended, and stop sending.
                for future in done:
                    future.set_result(None)

    recording = asyncio.create_task(recorder())

    def outcome(message_id: int, result: SendResult) -> asyncio.Future[None]:
        recorded: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        pending[message_id] = result
        waiting.append(recorded)
        arrived.set()
        return recorded

    async def run(key: str, items: list[tuple[int, Prepared]]) -> None:
        try:
            provider = ctx.providers.keyed(key, items[0][1].provider_factory)
        except Exception as exc:  # noqa: BLE001 - a broken provider fails its own messages only
            for message_id, _ in items:
                outcome(message_id, SendResult(False, permanent=False, code="provider", detail=str(exc)))
            return
        unrecorded: deque[asyncio.Future[None]] = deque()
        queue = iter(items)
        # The bound is per connection; a provider with several (SMPP binds) shares one count across them.
        window = ctx.settings.worker_unrecorded_per_connection * max(1, int(getattr(provider, "connections", 1) or 1))

        async def lane() -> None:
            for message_id, prepared in queue:
                if recording.done() or clock.now() >= send_until:
                    unsent.append(message_id)
                    unsent.extend(m for m, _ in queue)
                    return
                if prepared.finish is not None:
                    try:
                        prepared.finish()
                    except Exception as exc:  # noqa: BLE001 - as a preparer's error: this message fails alone
                        log.warning("message cannot be prepared", message_id=message_id, error=str(exc))
                        outcome(message_id, PrepareFailed(False, permanent=True, code=PREPARE_FAILED, detail=str(exc)))
                        continue
                try:
                    result = await provider.send(prepared.outbound)
                except Exception as exc:  # noqa: BLE001
                    result = SendResult(False, permanent=False, code="provider", detail=str(exc))
                if not result.accepted and result.code in UNREACHABLE:
                    ctx.health.down(f"provider {key}", f"{result.code}: {result.detail}")
                else:
                    ctx.health.up(f"provider {key}")
                recorded = outcome(message_id, result)
                if result.accepted:
                    unrecorded.append(recorded)
                    # A bounded number of accepted, unrecorded messages per connection: what a crash now would
                    # send twice. Waiting for each one's commit would cost a transaction per message.
                    while unrecorded and (len(unrecorded) >= window or unrecorded[0].done()):
                        await unrecorded.popleft()  # popped before the wait: the lanes share the deque

        # A provider that matches answers to requests (SMPP windowing, several binds) says how many sends
        # it takes at once; the lanes share one iterator, so messages still start in claim order.
        width = max(1, min(int(getattr(provider, "concurrency", 1) or 1), len(items)))
        await asyncio.gather(*(lane() for _ in range(width)))

    unsent: list[int] = []
    try:
        await asyncio.gather(*(run(key, items) for key, items in groups.items()))
    finally:
        finished = True
        arrived.set()
        await recording
    if unsent:
        await _give_back(ctx, unsent)


async def _give_back(ctx: EngineContext, message_ids: list[int]) -> None:
    """Release claimed messages that were not sent (the lease was running out), without counting an attempt."""
    async with ctx.db.transaction() as session:
        await session.execute(
            update(Message).where(Message.id.in_(message_ids), Message.locked_by == ctx.worker)
            .values(status="queued", locked_until=None, locked_by=None, attempts=Message.attempts - 1)
            .execution_options(synchronize_session=False))


async def _record_patiently(ctx: EngineContext, results: dict[int, SendResult], lease_ends: float,
                            claimed: Claimed | None = None) -> None:
    """Record outcomes, waiting out a database outage while the lease still keeps other workers off them.

    The provider has accepted these messages: given up, they would be sent again once the lease lapses.
    """
    backoff = Backoff(first=0.2, cap=2.0)
    while True:
        try:
            await _record_all(ctx, results, claimed if claimed is not None and claimed.usable else None)
            return
        except Exception as exc:
            if claimed is not None:
                claimed.usable = False  # read back from now on
            if not is_unavailable(exc) or time.monotonic() + backoff.first >= lease_ends:
                raise
            ctx.health.down(DATABASE, exc)
            await asyncio.sleep(backoff.next())


# Built once (a statement built per transaction cost a noticeable part of recording a small group).
_RECORDED = (select(Message, Sending, Account).outerjoin(Sending, Sending.id == Message.sending_id)
             .join(Account, Account.id == Message.account_id).where(one_of(Message.id))
             .order_by(Message.id))  # events are written in message order, whatever the join's plan


async def _record_all(ctx: EngineContext, results: dict[int, SendResult], claimed: Claimed | None = None) -> None:
    now = clock.now()
    async with ctx.db.transaction() as session, events.batch(session):
        rows = _attach(session, results, claimed) if claimed is not None else None
        if rows is None:
            # Outcome hooks and event listeners look up each message's sending and account: loaded with the
            # messages, in the one query (each round trip waits for the event loop's turn, a few ms under load).
            loaded = (await session.execute(_RECORDED, {"ids": list(results)})).all()
            rows = [row[0] for row in loaded]
        hold_batch(session, rows, claimed.memo if claimed is not None else None)
        plain: dict[int, dict[str, Any]] = {}
        settings: dict[int, Any] = {}
        on_objects: list[tuple[Message, SendResult]] = []
        for message in rows:
            result = results[message.id]
            for hook in OUTCOMES:
                await hook(session, message, result)
            if result.accepted:
                changes = await _sent_plain(session, message, result, now, settings)
                if changes is not None:
                    plain[message.id] = changes
                    await _later_events(session, message, result, now)
                    continue
            on_objects.append((message, result))
        objects = await _loaded(session, [message for message, _ in on_objects]) if on_objects else []
        for message, (_, result) in zip(objects, on_objects, strict=True):
            await _record_on_object(session, message, result, now)
        # The messages recorded on their objects in the same pass: another worker may be recording receipts of
        # these messages, and one key order keeps the two from deadlocking.
        await plain_writes.update_plain(session, Message, plain, loaded=[*rows, *objects])


async def _record_on_object(session: AsyncSession, message: Message, result: SendResult, now: datetime) -> None:
    """A send's outcome recorded on the message's object: a refusal, a retry, a send a listener without a plain form
    wants."""
    _release(message)
    if result.accepted:
        message.external_id = result.provider_id
        message.due_at = None
        await events.record(session, message, "sent", at=now)
        await _later_events(session, message, result, now)
    elif result.permanent:
        kind = "failed" if isinstance(result, PrepareFailed) else "bounced" if message.channel == EMAIL else "rejected"
        message.due_at = None
        await events.record(session, message, kind, details={"code": result.code, "detail": result.detail})
    else:
        await _soft_bounce(session, message, result)
        if message.attempts >= MAX_SEND_ATTEMPTS:
            message.due_at = None
            await events.record(session, message, "failed", details={"code": result.code, "detail": result.detail})
        elif message.status == "sending":
            # Transient: try again later; an outcome hook may already have rescheduled it.
            message.status, message.due_at = "queued", now + retry_delay(message.attempts)
            message.error_code, message.error_detail = result.code, result.detail


async def _later_events(session: AsyncSession, message: Message, result: SendResult, now: datetime) -> None:
    """A provider's statuses known at acceptance and due later (a sandbox's delivery), as jobs."""
    for later in result.events:
        await enqueue(session, "provider.event", {"message_id": message.id, "status": later.status,
                                                  "detail": later.detail, "code": later.code},
                      due_at=now + timedelta(seconds=later.after_seconds), account_id=message.account_id)


async def _sent_plain(session: AsyncSession, message: Message, result: SendResult, now: datetime,
                      settings: dict[int, Any]) -> dict[str, Any] | None:
    """Record a send on a plain row when its listeners allow it (`events.plain_listeners`): the message's changes,
    which the object takes as written; None when it must be recorded on the object.

    A send's attribute writes, `events.record` with every listener of "sent" and the flush's bookkeeping of the
    changed object were most of recording it (docs/performance.md).
    """
    account_id = message.account_id
    if account_id not in settings:
        account = await get_loaded(session, Account, account_id)
        settings[account_id] = account.settings if account is not None else None
    row = events.facts_of(message, settings[account_id])
    listeners = events.plain_listeners("sent", row)
    if listeners is None:
        return None
    changes = plain_writes.take_changes(message)  # an outcome hook's (a quote, part ids), written with the send's
    if changes is None:
        return None
    changes.update(locked_until=None, locked_by=None, external_id=result.provider_id, due_at=None)
    changes.update(await events.record_plain(session, row, "sent", at=now, listeners=listeners))
    plain_writes.mark_written(message, changes)
    return changes


def _attach(session: AsyncSession, results: dict[int, SendResult], claimed: Claimed) -> list[Message] | None:
    """The claim's tracked rows of these messages, in message order, with every account and sending of the batch
    attached to this session; None when one of them is missing (then they are read back)."""
    try:
        rows = [claimed.messages[message_id] for message_id in sorted(results)]
    except KeyError:
        return None
    attach(session, [obj for obj in claimed.related if obj is not None])  # None: an account without the sendings
    return rows


async def _soft_bounce(session: AsyncSession, message: Message, result: SendResult) -> None:
    """Record an email's temporary SMTP refusal (4xx) as a soft bounce; the message is retried as before."""
    code = result.code or ""
    temporary = len(code) == 3 and code.startswith("4") and code.isdigit()
    if message.channel == EMAIL and temporary and not result.login_failed:
        await events.record(session, message, "deferred", details={"code": code, "detail": result.detail})


@loop("dispatch")
async def dispatch(ctx: EngineContext) -> int:
    """Send one batch of due messages; returns how many were claimed."""
    claimed_at = clock.now()
    ctx.sending += 1
    try:
        ready, claimed = await _claim_and_prepare(ctx)
        if ready:
            await _send_and_record(ctx, ready, _send_until(ctx, claimed_at), claimed)
    finally:
        ctx.sending -= 1
    if not ready and ctx.receipts_held_since is not None:
        ctx.wake_loops()  # nothing left to send: the receipts held for the sends are recorded now
    return len(ready)


@asynccontextmanager
async def _event_batch(session: AsyncSession, jobs: list[Job]) -> AsyncIterator[object]:
    """A batch of provider events: their messages, sendings and accounts loaded at once, one INSERT of the events."""
    wanted = sorted({int(j.payload["message_id"]) for j in jobs})
    messages: list[Message] = []
    for i in range(0, len(wanted), 500):
        messages.extend((await session.execute(by_ids(Message), {"ids": wanted[i:i + 500]})).scalars())
    held = [*messages, *await _load_related(session, messages)]
    async with events.batch(session):
        yield held


@job("provider.event", batched=True, scope=_event_batch)
async def provider_event(ctx: EngineContext, session: AsyncSession, job_row: Job) -> None:
    """A later outcome a provider announced (the sandbox's delivery report)."""
    payload = job_row.payload
    message = await get_loaded(session, Message, int(payload["message_id"]))  # the batch's scope loaded it
    status = str(payload.get("status"))
    if message is None or status not in PROVIDER_STATUSES:
        return
    await events.record(session, message, status, details={"code": payload.get("code"),
                                                           "detail": payload.get("detail") or ""})
