"""messaging.events: the listeners an event reaches."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.db.engine import Database
from tidings.db.models import Message
from tidings.messaging import events
from tidings.tenancy.service import NewAccount


async def test_a_listener_registered_after_events_were_recorded_hears_the_next(db: Database,
                                                                                account: NewAccount) -> None:
    heard: list[tuple[int, str]] = []
    async with db.transaction() as s:
        message = Message(account_id=account.account_id, channel="sms", recipient="34600000001", body="hi")
        s.add(message)
        await s.flush()
        await events.record(s, message, "sent")  # the kinds' listeners are worked out by now

    async def listen(session: AsyncSession, happened: events.Happened) -> None:
        heard.append((happened.message.id, happened.event.kind))

    events.on_event("delivered")(listen)
    try:
        async with db.transaction() as s:
            message = await s.get(Message, message.id)
            assert message is not None
            await events.record(s, message, "delivered")
            await events.record(s, message, "opened")
    finally:
        events._LISTENERS[:] = [entry for entry in events._LISTENERS if entry[1] is not listen]
        events._FOR_KIND.clear()
    assert heard == [(message.id, "delivered")]
