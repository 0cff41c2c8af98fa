"""The dispatcher's recorder gathers outcomes into few transactions while the lanes go on sending."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import event, func, select

from tidings.channels.base import OutboundMessage, SendResult
from tidings.db.engine import Database
from tidings.db.models import Event, Message
from tidings.engine import dispatcher
from tidings.engine.context import EngineContext
from tidings.messaging import outbox
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

MESSAGES = 200


class InstantCarrier:
    """Accepts every SMS at once, giving the event loop a turn as a network answer would."""

    channel, url_scheme = "sms", "instant"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: OutboundMessage) -> SendResult:
        await asyncio.sleep(0.001)
        self.sent.append(message.recipient)
        return SendResult(True, provider_id=f"id{len(self.sent)}")

    async def close(self) -> None:
        return None


async def test_a_batch_is_recorded_in_few_transactions_each_message_once(
        app: Any, db: Database, account: NewAccount, monkeypatch: pytest.MonkeyPatch) -> None:
    # However slow the machine, the recorder waits for half of what the lane may hold unrecorded (16), and the
    # batch's last outcomes are recorded when the lane ends, not when the wait runs out (the test would hang).
    monkeypatch.setattr(dispatcher, "GATHER_SECONDS", 3600.0)
    settings = app.state.settings.model_copy(update={"worker_batch": 2 * MESSAGES})
    carrier = InstantCarrier()
    app.state.providers.set("sms", carrier)
    async with db.transaction() as s:
        sending = await outbox.open_sending(s, AuthSubject(account_id=account.account_id, user_id=1), channel="sms",
                                            source="test")
        for i in range(MESSAGES):
            await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel="sms", sender="TIDINGS",
                                                     recipient=f"34600{i:06d}", sending=sending, body="hi",
                                                     extra={"kind": "transactional"}))
    commits = 0

    def count(_conn: Any) -> None:
        nonlocal commits
        commits += 1

    event.listen(db.engine.sync_engine, "commit", count)
    try:
        ctx = EngineContext(db, settings, app.state.providers, "w1")
        assert await asyncio.wait_for(dispatcher.dispatch(ctx), 120) == MESSAGES
    finally:
        event.remove(db.engine.sync_engine, "commit", count)
    assert sorted(carrier.sent) == [f"34600{i:06d}" for i in range(MESSAGES)]
    async with db.sessions() as s:
        statuses = (await s.execute(select(Message.status, func.count()).group_by(Message.status))).all()
        sent_events = (await s.execute(select(func.count()).select_from(Event).where(Event.kind == "sent"))).scalar()
    assert dict(statuses) == {"sent": MESSAGES}
    assert sent_events == MESSAGES
    # A transaction per outcome or two, as the carrier answers, would be 100 to 200 commits; 8 outcomes or more each
    # (and the claim's and the preparation's) are 27 at most.
    assert commits <= MESSAGES // 8 + 2
