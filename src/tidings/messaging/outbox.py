"""Putting messages on the outbox: sendings (batches), their campaign, and queued messages.

Every dialect that sends (messaging, email, omnichannel, outreach) queues through here; the
engine's dispatcher sends whatever is due.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock, mime
from tidings.core.emails import email_domain
from tidings.db.base import build, table_of
from tidings.db.models import Campaign, Message, Sending
from tidings.db.plain_writes import insert_rows
from tidings.tenancy.scoping import scoped
from tidings.tenancy.subject import AuthSubject


@dataclass
class Outcome:
    """One recipient's result: a queued message, or the documented code it was refused with."""

    to: str
    message: Message | None = None
    error: int | None = None


@dataclass
class Queued:
    """What one send request queued: its sending and a result per recipient."""

    sending: Sending | None
    results: list[Outcome] = field(default_factory=list)

    @property
    def partial(self) -> bool:
        return any(r.message is None for r in self.results)


async def broadcast_campaign(
    session: AsyncSession, subject: AuthSubject, name: str, *, channel: str, tags: Iterable[str] = ()
) -> Campaign:
    """The account's broadcast campaign of this name, created on first use; tags accumulate."""
    stmt = scoped(select(Campaign), Campaign, subject).where(Campaign.name == name, Campaign.kind == "broadcast")
    campaign = (await session.execute(stmt.order_by(Campaign.id).limit(1))).scalar_one_or_none()
    if campaign is None:
        campaign = Campaign(account_id=subject.account_id, client_id=subject.client_id, name=name, kind="broadcast",
                            channel=channel, status="RUNNING", tags=list(dict.fromkeys(tags)), started_at=clock.now())
        session.add(campaign)
        await session.flush()
    elif tags:
        campaign.tags = list(dict.fromkeys([*(campaign.tags or []), *tags]))
    return campaign


async def open_sending(
    session: AsyncSession,
    subject: AuthSubject,
    *,
    channel: str,
    source: str,
    campaign_name: str | None = None,
    tags: Iterable[str] = (),
    scheduled_at: datetime | None = None,
    options: dict[str, Any] | None = None,
) -> Sending:
    """A new sending (one API request's batch), attached to its named campaign if any."""
    campaign = None
    if campaign_name:
        campaign = await broadcast_campaign(session, subject, campaign_name, channel=channel, tags=tags)
    sending = Sending(account_id=subject.account_id, campaign_id=campaign.id if campaign else None, channel=channel,
                      source=source, scheduled_at=scheduled_at, options=options or {})
    session.add(sending)
    await session.flush()
    return sending


def message_row(
    *,
    account_id: int,
    channel: str,
    sender: str,
    recipient: str,
    sending: Sending | None = None,
    due_at: datetime | None = None,
    now: datetime | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """The column values of a queued outbound message, due now unless scheduled.

    For callers that insert many messages at once (`queue_rows`) and need no ORM object for them. `now`: the
    moment a request's messages were accepted, one for all of them (its creation, and its due time unless
    scheduled); the bulk insert then binds it once instead of a clock reading a row.
    """
    row: dict[str, Any] = {"account_id": account_id, "channel": channel, "direction": "out", "status": "queued",
                           "sender": sender, "recipient": recipient, "sending_id": sending.id if sending else None,
                           "campaign_id": sending.campaign_id if sending else None,
                           "due_at": due_at or now or clock.now(), "scheduled_at": due_at}
    if now is not None:
        row["created_at"] = now
    row.update(fields)
    if channel == "email" and not row.get("rfc_message_id"):
        # Given now, in the INSERT, rather than when the message is built: that cost an UPDATE of every
        # email's row, about a third of PostgreSQL's work on the cold-email path. A retry reuses it.
        row["rfc_message_id"] = _message_id(sender)
    if sending is not None:
        count_accepted(sending, 1)
    return row


def count_accepted(sending: Sending, messages: int) -> None:
    """Count messages accepted into a sending: `message_row` does it a message at a time when given the sending;
    a caller building many gives its `sending_id` and `campaign_id` instead and counts them here once."""
    sending.total += messages
    sending.accepted += messages


def _message_id(sender: str) -> str | None:
    """A Message-ID in the sender's domain; None where the sender has none (the build then fails that message)."""
    try:
        return mime.make_message_id(email_domain(sender))
    except ValueError:
        return None


def new_message(
    *,
    account_id: int,
    channel: str,
    sender: str,
    recipient: str,
    sending: Sending | None = None,
    due_at: datetime | None = None,
    now: datetime | None = None,
    **fields: Any,
) -> Message:
    """A queued outbound message, due now unless scheduled (`message_row`); the caller adds it to the session."""
    return build(Message, message_row(account_id=account_id, channel=channel, sender=sender, recipient=recipient,
                                      sending=sending, due_at=due_at, now=now, **fields))


async def queue_rows(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> None:
    """Insert many rows made by `message_row` in one statement (no ORM objects, no ids back)."""
    await insert_rows(session, table_of(Message), list(rows))


async def queue(session: AsyncSession, message: Message) -> Message:
    """Add a message built by `new_message` and give it its id."""
    session.add(message)
    await session.flush()
    return message
