"""The dispatcher's claimed messages are tracked rows: what gates and preparers assign reaches the database the way
it did on objects (committed with the claim before the send, or with a hold or refusal), and the rest as before."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.channels.base import OutboundMessage, SendResult
from tidings.config import Settings
from tidings.core import clock
from tidings.db.engine import Database
from tidings.db.models import Event, Message
from tidings.engine.context import EngineContext
from tidings.engine.dispatcher import dispatch
from tidings.messaging import delivery, outbox
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject


class CheckingCarrier:
    """Accepts every SMS; at each send, reads the message's row as committed (the claim's transaction has ended)."""

    channel, url_scheme = "sms", "checking"

    def __init__(self, db: Database) -> None:
        self.db = db
        self.committed_extra: dict[str, Any] = {}

    async def send(self, message: OutboundMessage) -> SendResult:
        async with self.db.sessions() as s:
            row = await s.get(Message, int(str(message.reference)))
            assert row is not None
            self.committed_extra[message.recipient] = dict(row.extra or {})
        return SendResult(True, provider_id=f"p{message.reference}")

    async def close(self) -> None:
        return None


async def _marking_gate(session: AsyncSession, message: Message, settings: Settings) -> delivery.Hold | \
        delivery.Refuse | None:
    if message.channel != "sms":
        return None
    message.extra = {**(message.extra or {}), "gated": True}
    if message.recipient.endswith("1"):
        return delivery.Hold(clock.now().replace(year=clock.now().year + 1), "test hold")
    if message.recipient.endswith("2"):
        return delivery.Refuse("rejected", "T1", "test refusal")
    return None


async def test_gate_and_preparer_changes_reach_the_database(app: Any, db: Database, account: NewAccount) -> None:
    carrier = CheckingCarrier(db)
    app.state.providers.set("sms", carrier)
    async with db.transaction() as s:
        sending = await outbox.open_sending(s, AuthSubject(account_id=account.account_id, user_id=1), channel="sms",
                                            source="test")
        for recipient in ("34600000001", "34600000002", "34600000003"):
            await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel="sms", sender="TIDINGS",
                                                     recipient=recipient, sending=sending, body="hi",
                                                     extra={"kind": "transactional", "certified": True}))
    delivery.GATES.append(_marking_gate)
    try:
        await dispatch(EngineContext(db, app.state.settings, app.state.providers, "w1"))
    finally:
        delivery.GATES.remove(_marking_gate)
    # The preparer's seal of a certified SMS and the gate's mark were committed with the claim, before the send.
    sent_extra = carrier.committed_extra["34600000003"]
    assert sent_extra["gated"] is True and "sha256" in sent_extra["as_sent"]
    assert list(carrier.committed_extra) == ["34600000003"]
    async with db.sessions() as s:
        rows = {m.recipient: m for m in (await s.execute(select(Message))).scalars()}
        kinds = {(m, k) for m, k in (await s.execute(select(Event.message_id, Event.kind))).all()}
    held, refused, sent = rows["34600000001"], rows["34600000002"], rows["34600000003"]
    assert (held.status, held.attempts, held.locked_by) == ("queued", 0, None)
    assert held.extra["gated"] is True and held.extra["held"] == "test hold"
    assert (refused.status, refused.due_at, refused.locked_by) == ("rejected", None, None)
    assert refused.extra["gated"] is True
    assert (refused.id, "rejected") in kinds and (sent.id, "sent") in kinds
    assert (sent.status, sent.external_id, sent.locked_by, sent.due_at) == ("sent", f"p{sent.id}", None, None)
    assert sent.extra["gated"] is True and "sha256" in sent.extra["as_sent"]
    assert "pricing" in sent.extra  # the pricing outcome hook's quote, written with the send
