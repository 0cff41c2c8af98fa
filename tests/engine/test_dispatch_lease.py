"""A worker whose lease is running out stops sending and gives the rest back: no other worker can race it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tidings.channels.base import OutboundMessage, SendResult
from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Message
from tidings.engine.context import EngineContext
from tidings.engine.dispatcher import dispatch
from tidings.messaging import outbox
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject


class SlowCarrier:
    """Accepts every SMS; each one takes 10 s of the (manual) clock."""

    channel, url_scheme = "sms", "slow"

    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.sent: list[str] = []

    async def send(self, message: OutboundMessage) -> SendResult:
        self.sent.append(message.recipient)
        self.clock.advance(10)
        return SendResult(True, provider_id=f"id{len(self.sent)}")

    async def close(self) -> None:
        return None


async def test_sending_stops_before_the_lease_lapses_and_the_rest_is_released(
        app: Any, db: Database, account: NewAccount, clock: ManualClock) -> None:
    settings = app.state.settings.model_copy(update={"worker_lease_seconds": 30})
    carrier = SlowCarrier(clock)
    app.state.providers.set("sms", carrier)
    ctx = EngineContext(db, settings, app.state.providers, "w1")
    async with db.transaction() as s:
        sending = await outbox.open_sending(s, AuthSubject(account_id=account.account_id, user_id=1), channel="sms",
                                            source="test")
        for i in range(5):
            await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel="sms", sender="TIDINGS",
                                                     recipient=f"3460000000{i}", sending=sending, body="hi",
                                                     extra={"kind": "transactional"}))
    await dispatch(ctx)
    # 30 s lease, the last 6 s kept free: sends start at 0, 10 and 20 s; the two others are given back at once.
    assert len(carrier.sent) == 3
    async with db.sessions() as s:
        rows = (await s.execute(select(Message).order_by(Message.id))).scalars().all()
    assert [m.status for m in rows] == ["sent"] * 3 + ["queued"] * 2
    assert all(m.locked_until is None and m.locked_by is None for m in rows[3:])
    assert [m.attempts for m in rows[3:]] == [0, 0]  # giving back is not a failed attempt
    await dispatch(EngineContext(db, settings, app.state.providers, "w2"))  # no wait for a lease to lapse
    assert len(carrier.sent) == 5 and len(set(carrier.sent)) == 5
