"""A batch of delivery receipts applied together: the same events and counters as one at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select

from tidings.channels.registry import build_provider
from tidings.channels.sms import Receipt
from tidings.db.engine import Database
from tidings.db.models import Event, Message, MessagePart, StatCounter
from tidings.engine.runner import Runner
from tidings.messaging import events, outbox
from tidings.messaging.receipts import apply_receipts
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

from fakes.smsc import FakeSmsc


@pytest.fixture
async def smsc(app: Any) -> AsyncIterator[FakeSmsc]:
    async with FakeSmsc() as server:
        app.state.providers.set("sms", build_provider("sms", server.url(receipts="false")))
        yield server


async def _sent(db: Database, account: NewAccount, runner: Runner, bodies: list[str]) -> tuple[int, list[Message]]:
    async with db.transaction() as s:
        subject = AuthSubject(account_id=account.account_id, user_id=1)
        sending = await outbox.open_sending(s, subject, channel="sms", source="test")
        for i, body in enumerate(bodies):
            await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel="sms", sender="TIDINGS",
                                                     recipient=f"3466655{i:04d}", sending=sending, body=body,
                                                     extra={"kind": "transactional"}))
        sending_id = sending.id
    await runner.run_until_idle()
    async with db.sessions() as s:
        rows = (await s.execute(select(Message).where(Message.sending_id == sending_id).order_by(Message.id)))
        return sending_id, list(rows.scalars())


async def test_a_batch_matches_by_reference_and_by_id_and_returns_the_unknown(
        db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc) -> None:
    sending_id, (one, two, long) = await _sent(db, account, runner, ["one", "two", "x" * 200])
    assert one.external_id and two.external_id and long.external_id
    second_part = long.extra["part_ids"][1]
    batch = [
        Receipt("sms", one.external_id, "DELIVRD", "delivered", reference=str(one.id)),
        Receipt("sms", two.external_id, "UNDELIV", "undelivered", "034"),  # no reference: found by its id
        Receipt("sms", long.external_id, "DELIVRD", "delivered", reference=str(long.id)),
        Receipt("sms", second_part, "REJECTD", "rejected", "009", reference=str(long.id), part=2),
        Receipt("sms", "nobody-knows", "DELIVRD", "delivered"),
        Receipt("sms", one.external_id, "DELIVRD", "delivered", reference=str(one.id)),  # a resent receipt
    ]
    async with db.transaction() as s, events.batch(s):
        missing = await apply_receipts(s, batch)
    assert [r.provider_id for r in missing] == ["nobody-knows"]
    async with db.sessions() as s:
        kinds = {m: [e for e in (await s.execute(select(Event.kind).where(Event.message_id == m).order_by(Event.id))
                                 ).scalars()] for m in (one.id, two.id, long.id)}
        statuses = {m.id: m.status for m in (await s.execute(select(Message).where(Message.sending_id == sending_id))
                                             ).scalars()}
        details = (await s.execute(select(Event.details).where(Event.message_id == long.id, Event.kind == "rejected"))
                   ).scalar_one()
        counters = {c.metric: c.value for c in (await s.execute(
            select(StatCounter).where(StatCounter.scope == "sending", StatCounter.scope_id == sending_id))).scalars()}
    assert kinds == {one.id: ["sent", "delivered", "delivered"], two.id: ["sent", "undelivered"],
                     long.id: ["sent", "delivered", "rejected"]}
    assert statuses == {one.id: "delivered", two.id: "undelivered", long.id: "rejected"}
    assert details["part"] == 2 and details["stat"] == "REJECTD"
    assert (counters["sent"], counters["delivered"], counters["undelivered"], counters["rejected"]) == (3, 2, 1, 1)


async def test_a_later_parts_receipt_without_its_reference_finds_the_message(
        db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc) -> None:
    """As after a restart: the receipt names only the part's provider id (kept in message_parts)."""
    _, (short, long) = await _sent(db, account, runner, ["short", "y" * 400])
    later = long.extra["part_ids"][2]
    async with db.sessions() as s:
        parts = [(p.part, p.provider_id) for p in (await s.execute(
            select(MessagePart).where(MessagePart.message_id == long.id).order_by(MessagePart.part))).scalars()]
        none_for_short = (await s.execute(select(MessagePart).where(MessagePart.message_id == short.id))).first()
    assert parts == [(2, long.extra["part_ids"][1]), (3, later)] and none_for_short is None
    async with db.transaction() as s, events.batch(s):
        missing = await apply_receipts(s, [Receipt("sms", later, "UNDELIV", "undelivered", "001")])
    assert missing == []
    async with db.sessions() as s:
        details = (await s.execute(select(Event.details).where(Event.message_id == long.id,
                                                               Event.kind == "undelivered"))).scalar_one()
    assert details["part"] == 3 and details["provider_id"] == later
