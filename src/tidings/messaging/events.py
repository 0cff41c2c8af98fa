"""The one way something happens to a message: `record` it.

Recording updates the message, inserts the Event, moves the sending's counters and calls the
listeners other modules register (outreach stats, webhooks, fallback flows) in the same
transaction, so counters and reactions can never disagree with the events.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.db.counters import bump
from tidings.db.models import Event, Message

# Outcomes after which nothing more is sent for the message.
FAILURES = ("undelivered", "bounced", "rejected", "expired", "failed")
KINDS = ("queued", "sent", "delivered", *FAILURES, "opened", "clicked", "replied", "autoreplied", "unsubscribed")
_TIMESTAMP = {"sent": "sent_at", "delivered": "delivered_at", "opened": "opened_at", "clicked": "clicked_at"}
_STATUS = {"sent": "sent", "delivered": "delivered", **{k: k for k in FAILURES}}


@dataclass
class Happened:
    """What listeners receive; `first` is False when the message had this event already."""

    message: Message
    event: Event
    first: bool


Listener = Callable[[AsyncSession, Happened], Awaitable[None]]
_LISTENERS: list[tuple[frozenset[str], Listener]] = []


def on_event(*kinds: str) -> Callable[[Listener], Listener]:
    """Register a listener for some kinds of event (all kinds when none are named)."""
    unknown = set(kinds) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown event kinds {sorted(unknown)}")

    def decorate(fn: Listener) -> Listener:
        _LISTENERS.append((frozenset(kinds), fn))
        return fn

    return decorate


async def record(
    session: AsyncSession,
    message: Message,
    kind: str,
    *,
    at: datetime | None = None,
    details: dict[str, Any] | None = None,
) -> Happened:
    """Record one event on a message, with its counters and listeners, in the caller's transaction."""
    if kind not in KINDS:
        raise ValueError(f"unknown event kind {kind}")
    when = at or clock.now()
    details = details or {}
    first = True
    stamp = _TIMESTAMP.get(kind)
    if stamp is not None:
        first = getattr(message, stamp) is None
        if first:
            setattr(message, stamp, when)
    if kind == "clicked" and message.opened_at is None:
        # A click proves an open even when images were blocked.
        await record(session, message, "opened", at=when, details={"implied_by": "click"})
    status = _STATUS.get(kind)
    if status is not None and not (message.status == "delivered" and kind == "sent"):
        message.status = status
    if kind in FAILURES:
        message.error_code = str(details.get("code")) if details.get("code") is not None else message.error_code
        message.error_detail = str(details.get("detail") or "") or message.error_detail
    event = Event(account_id=message.account_id, message_id=message.id, sending_id=message.sending_id,
                  campaign_id=message.campaign_id, kind=kind, occurred_at=when, details=details)
    session.add(event)
    if message.sending_id is not None and first:
        await bump(session, account_id=message.account_id, scope="sending", scope_id=message.sending_id,
                   day=clock.as_utc(when).date(), metric=kind)
    happened = Happened(message, event, first)
    for kinds, listener in list(_LISTENERS):
        if not kinds or kind in kinds:
            await listener(session, happened)
    return happened
