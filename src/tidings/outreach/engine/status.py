"""Which enrollments still receive steps, and the campaign's time window."""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core.windows import WeeklyWindow, parse_hhmm
from tidings.db.base import by_ids
from tidings.db.models import Campaign, Enrollment, Mailbox, Message
from tidings.messaging.delivery import batch_messages
from tidings.outreach.campaigns.service import receiving_statuses

T = TypeVar("T")


def sendable(status: str, campaign: Campaign) -> bool:
    return status in receiving_statuses(campaign)


def window(campaign: Campaign) -> WeeklyWindow | None:
    """The campaign's sending window in its time zone, or None when it may send at any time."""
    schedule = campaign.schedule or {}
    start, end = parse_hhmm(str(schedule.get("start") or "")), parse_hhmm(str(schedule.get("end") or ""))
    days = [d for d in schedule.get("days") or [] if isinstance(d, int) and 1 <= d <= 7]
    if start is None or end is None or not days or start >= end:
        return None
    try:
        return WeeklyWindow(frozenset(days), start, end, campaign.timezone or "UTC")
    except ValueError:
        return WeeklyWindow(frozenset(days), start, end, "UTC")


def next_opening(campaign: Campaign, now: datetime) -> datetime:
    """`now` when the window is open, else its next opening."""
    win = window(campaign)
    return now if win is None else win.next_open(now)


_HELD = "tidings.outreach.enrollments"


def held_messages(session: AsyncSession) -> list[Message]:
    """The messages the session holds, and the dispatcher's batch (tracked rows, not in the session)."""
    return [*(o for o in list(session.identity_map.values()) if isinstance(o, Message)), *batch_messages(session)]


async def enrollment_of(session: AsyncSession, message: Message) -> Enrollment | None:
    """The message's enrollment; a miss loads those of every outreach message the session holds.

    The dispatcher's gates and listeners look at one message at a time: without the batch load each
    lookup would be its own query and, worse, its own autoflush of the batch so far. The session
    only holds loaded rows weakly, so they are kept in `session.info` for the transaction.
    """
    if message.enrollment_id is None:
        return None
    held: dict[int, Enrollment] = session.info.setdefault(_HELD, {})
    if message.enrollment_id not in held:
        wanted = {message.enrollment_id} | {
            o.enrollment_id for o in held_messages(session) if o.enrollment_id is not None and o.direction == "out"}
        missing = sorted(wanted - set(held))
        with session.no_autoflush:
            for i in range(0, len(missing), 500):
                # Without their campaigns: joined, every row would carry its campaign's columns (its JSON documents
                # decoded once a row); `campaign_of` loads the batch's few campaigns in one query.
                rows = await session.execute(by_ids(Enrollment), {"ids": missing[i:i + 500]})
                held.update((enrollment.id, enrollment) for enrollment in rows.scalars())
    return held.get(message.enrollment_id)


# The message column naming each model `held` loads for a whole batch at once.
_BATCHED_BY: dict[type[Any], str] = {Campaign: "campaign_id", Mailbox: "mailbox_id"}


async def held(session: AsyncSession, model: type[T], pk: int | None) -> T | None:
    """`session.get` that keeps the row for the rest of the transaction (campaigns, mailboxes).

    A miss on a campaign or mailbox loads those of every message the session holds, in one query: the
    dispatcher records a batch a message at a time, and a batch spans many mailboxes.
    """
    if pk is None:
        return None
    cache: dict[tuple[type[Any], int], Any] = session.info.setdefault(_HELD + ".rows", {})
    key = (model, pk)
    if key not in cache:
        field = _BATCHED_BY.get(model)
        wanted = {pk}
        if field is not None:
            wanted |= {getattr(o, field) for o in held_messages(session)}
        missing = sorted(k for k in wanted if k is not None and (model, k) not in cache)
        cls: Any = model
        with session.no_autoflush:
            for i in range(0, len(missing), 500):
                rows = await session.execute(by_ids(cls), {"ids": missing[i:i + 500]})
                cache.update(((model, row.id), row) for row in rows.scalars())
        for k in missing:
            cache.setdefault((model, k), None)
    found: T | None = cache[key]
    return found


async def campaign_of(session: AsyncSession, message: Message) -> Campaign | None:
    return await held(session, Campaign, message.campaign_id)
