"""Every query of the certificates: tenant rows through the scoping helper."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.db.models import Account, Event, Message
from tidings.tenancy.scoping import scoped
from tidings.tenancy.subject import AuthSubject


async def outbound_message(session: AsyncSession, subject: AuthSubject, message_id: int,
                           channel: str) -> Message | None:
    """The subject's outbound message of this channel, if any."""
    stmt = scoped(select(Message), Message, subject).where(Message.id == message_id, Message.channel == channel,
                                                           Message.direction == "out")
    return (await session.execute(stmt)).scalar_one_or_none()


async def events(session: AsyncSession, subject: AuthSubject, message_id: int, *,
                 through: int | None = None) -> list[Event]:
    """The message's events, oldest id first; only those up to event id `through` when given."""
    stmt = scoped(select(Event), Event, subject).where(Event.message_id == message_id)
    if through is not None:
        stmt = stmt.where(Event.id <= through)
    return list((await session.execute(stmt.order_by(Event.id))).scalars())


async def account(session: AsyncSession, subject: AuthSubject) -> Account | None:
    """The subject's own account (the tenant root has no account_id column to scope on)."""
    return await session.get(Account, subject.account_id)


async def message_named_by_code(session: AsyncSession, message_id: int) -> Message | None:
    """The message a verification code names, whatever its account: the code's HMAC then decides.

    The one unscoped read here, as for the other public links (tracking, unsubscribe): the caller
    has no account, and nothing of the row is shown unless the HMAC over its facts matches.
    """
    return await session.get(Message, message_id)
