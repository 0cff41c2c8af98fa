"""A batch of delivery receipts applied together: the same events and counters as one at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.channels.registry import build_provider
from tidings.channels.sms import Receipt
from tidings.db.engine import Database
from tidings.db.models import Event, Job, Message, MessagePart, StatCounter
from tidings.engine.runner import Runner
from tidings.messaging import events, outbox, reports
from tidings.messaging.receipts import apply_receipt, apply_receipts
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

from fakes.smsc import FakeSmsc
from helpers import notify_events


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


async def test_receipts_that_do_not_name_their_message_are_recorded_as_named_ones(
        db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc) -> None:
    """A batch heard by a worker that did not send them (another worker's bind, or after a restart): each found by
    its provider id, a later part's in message_parts, a reused id on its latest message; the unknown come back."""
    sending_id, (one, two, long, old, new) = await _sent(db, account, runner, ["one", "two", "x" * 200, "o", "n"])
    async with db.transaction() as s:  # a provider that reuses ids: the latest message with the id is meant
        (await s.get(Message, old.id)).external_id = new.external_id  # type: ignore[union-attr]
    batch = [Receipt("sms", str(one.external_id), "DELIVRD", "delivered"),
             Receipt("sms", str(two.external_id), "UNDELIV", "undelivered", "034"),
             Receipt("sms", str(long.external_id), "DELIVRD", "delivered"),
             Receipt("sms", long.extra["part_ids"][1], "REJECTD", "rejected", "009"),
             Receipt("sms", "nobody-knows", "DELIVRD", "delivered"),
             Receipt("sms", str(new.external_id), "DELIVRD", "delivered")]
    async with db.transaction() as s, events.batch(s):
        missing = await apply_receipts(s, batch)
    assert [r.provider_id for r in missing] == ["nobody-knows"]
    async with db.sessions() as s:
        statuses = {m.id: m.status for m in (await s.execute(select(Message).where(Message.sending_id == sending_id))
                                             ).scalars()}
        rejected = (await s.execute(select(Event.details).where(Event.message_id == long.id,
                                                                Event.kind == "rejected"))).scalar_one()
        counters = {c.metric: c.value for c in (await s.execute(
            select(StatCounter).where(StatCounter.scope == "sending", StatCounter.scope_id == sending_id))).scalars()}
    assert statuses == {one.id: "delivered", two.id: "undelivered", long.id: "rejected", old.id: "sent",
                        new.id: "delivered"}
    assert (rejected["part"], rejected["provider_id"]) == (2, long.extra["part_ids"][1])
    assert (counters["sent"], counters["delivered"], counters["undelivered"], counters["rejected"]) == (5, 3, 1, 1)


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


async def _sent_with(db: Database, account: NewAccount, runner: Runner, extras: list[dict[str, Any]],
                     source: str = "test", bodies: list[str] | None = None) -> list[Message]:
    async with db.transaction() as s:
        subject = AuthSubject(account_id=account.account_id, user_id=1)
        sending = await outbox.open_sending(s, subject, channel="sms", source=source)
        for i, extra in enumerate(extras):
            await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel="sms", sender="TIDINGS",
                                                     recipient=f"3466677{i:04d}", sending=sending,
                                                     body=bodies[i] if bodies else f"m{i}",
                                                     extra={"kind": "transactional", **extra}))
        sending_id = sending.id
    await runner.run_until_idle()
    async with db.sessions() as s:
        return list((await s.execute(select(Message).where(Message.sending_id == sending_id).order_by(Message.id))
                     ).scalars())


async def _jobs(db: Database, kind: str, event: str | None = None) -> list[int]:
    """The messages that jobs of `kind` (about `event`, when named) were queued for."""
    async with db.sessions() as s:
        return sorted(int(j.payload["message_id"]) for j in (await s.execute(select(Job).where(Job.kind == kind))
                                                             ).scalars() if event in (None, j.payload.get("event")))


async def test_a_batch_records_wanted_and_unwanted_events_alike_and_calls_only_the_wanting_listeners(
        db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc) -> None:
    """Receipts no listener wants are recorded on plain rows; the others, in the same batch, reach their listeners."""
    plain, notified, failed, long = await _sent_with(db, account, runner, [
        {}, {"notification_url": "https://hooks.acme.test/n"}, {}, {}], bodies=["a", "b", "c", "x" * 200])
    assert len(long.extra["part_ids"]) == 2
    batch = [Receipt("sms", str(plain.external_id), "DELIVRD", "delivered", reference=str(plain.id)),
             Receipt("sms", str(notified.external_id), "DELIVRD", "delivered", reference=str(notified.id)),
             Receipt("sms", str(failed.external_id), "EXPIRED", "expired", "027", reference=str(failed.id)),
             Receipt("sms", str(long.external_id), "DELIVRD", "delivered", reference=str(long.id)),
             Receipt("sms", long.extra["part_ids"][1], "REJECTD", "rejected", "009", reference=str(long.id), part=2),
             Receipt("sms", str(plain.external_id), "DELIVRD", "delivered", reference=str(plain.id))]  # resent
    async with db.transaction() as s, events.batch(s):
        assert await apply_receipts(s, batch) == []
    ids = [plain.id, notified.id, failed.id, long.id]
    async with db.sessions() as s:
        got = {m.id: (m.status, m.delivered_at is not None, m.error_code, m.error_detail) for m in (await s.execute(
            select(Message).where(Message.id.in_(ids)))).scalars()}
        kinds = [(e.message_id, e.kind, e.details.get("part")) for e in (await s.execute(
            select(Event).where(Event.kind != "sent", Event.message_id.in_(ids)).order_by(Event.id))).scalars()]
        counters = {c.metric: c.value for c in (await s.execute(
            select(StatCounter).where(StatCounter.scope == "sending", StatCounter.scope_id == plain.sending_id)
        )).scalars()}
    assert got == {plain.id: ("delivered", True, None, None), notified.id: ("delivered", True, None, None),
                   failed.id: ("expired", False, "027", "stat:EXPIRED err:027"),
                   long.id: ("rejected", True, "009", "stat:REJECTD err:009")}
    # The receipts no listener wants of messages with one receipt in the batch first (set statements), then the
    # others in the order they came.
    assert kinds == [(failed.id, "expired", 1), (plain.id, "delivered", 1), (notified.id, "delivered", 1),
                     (long.id, "delivered", 1), (long.id, "rejected", 2), (plain.id, "delivered", 1)]
    assert (counters["delivered"], counters["expired"], counters["rejected"]) == (3, 1, 1)
    assert await _jobs(db, "rest.notification") == [notified.id]


async def test_receipts_recorded_by_set_statements_write_what_one_at_a_time_would(
        db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc) -> None:
    """A batch's receipts of messages no listener wants them on: the same status, stamps, event details and
    counters as a receipt recorded alone, a failure's error included."""
    delivered, undelivered, alone = await _sent_with(db, account, runner, [{}, {}, {}])
    async with db.transaction() as s, events.batch(s):
        assert await apply_receipts(s, [
            Receipt("sms", str(delivered.external_id), "DELIVRD", "delivered", reference=str(delivered.id)),
            Receipt("sms", str(undelivered.external_id), "UNDELIV", "undelivered", "001",
                    reference=str(undelivered.id))]) == []
    async with db.transaction() as s:  # outside a batch: recorded on the loaded message, one at a time
        assert await apply_receipt(s, Receipt("sms", str(alone.external_id), "DELIVRD", "delivered",
                                              reference=str(alone.id)))
    async with db.sessions() as s:
        messages = {m.id: m for m in (await s.execute(select(Message).where(
            Message.id.in_([delivered.id, undelivered.id, alone.id])))).scalars()}
        found = {e.message_id: e for e in (await s.execute(select(Event).where(
            Event.kind != "sent", Event.message_id.in_(list(messages))))).scalars()}
        counters = {c.metric: c.value for c in (await s.execute(select(StatCounter).where(
            StatCounter.scope == "sending", StatCounter.scope_id == delivered.sending_id))).scalars()}
    assert found[delivered.id].details == {"stat": "DELIVRD", "code": None, "provider_id": delivered.external_id,
                                           "part": 1}
    assert found[alone.id].details == {"stat": "DELIVRD", "code": None, "provider_id": alone.external_id, "part": 1}
    assert found[undelivered.id].details == {"stat": "UNDELIV", "code": "001", "provider_id": undelivered.external_id,
                                             "part": 1, "detail": "stat:UNDELIV err:001"}
    for message_id in (delivered.id, alone.id):
        message = messages[message_id]
        assert (message.status, message.delivered_at) == ("delivered", found[message_id].occurred_at)
        assert found[message_id].account_id == account.account_id
        assert found[message_id].sending_id == delivered.sending_id
    failed = messages[undelivered.id]
    assert (failed.status, failed.delivered_at, failed.error_code, failed.error_detail) == (
        "undelivered", None, "001", "stat:UNDELIV err:001")
    assert (counters["delivered"], counters["undelivered"]) == (2, 1)


async def test_a_receipt_without_its_reference_and_one_with_it_both_count(
        db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc) -> None:
    (one,) = await _sent_with(db, account, runner, [{}])
    batch = [Receipt("sms", str(one.external_id), "DELIVRD", "delivered", reference=str(one.id)),
             Receipt("sms", str(one.external_id), "UNDELIV", "undelivered", "001")]  # found by its provider id
    async with db.transaction() as s, events.batch(s):
        assert await apply_receipts(s, batch) == []
    async with db.sessions() as s:
        message = await s.get(Message, one.id)
        kinds = list((await s.execute(select(Event.kind).where(Event.message_id == one.id).order_by(Event.id))
                      ).scalars())
    assert message is not None and (message.status, message.error_code) == ("undelivered", "001")
    assert kinds == ["sent", "delivered", "undelivered"]


async def test_an_account_with_event_notifications_gets_them_for_every_receipt(
        db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc) -> None:
    await notify_events(db, account.account_id)
    one, two = await _sent_with(db, account, runner, [{}, {}], source="rest")
    async with db.transaction() as s, events.batch(s):
        assert await apply_receipts(s, [
            Receipt("sms", str(m.external_id), "DELIVRD", "delivered", reference=str(m.id)) for m in (one, two)]) == []
    assert await _jobs(db, "rest.event_webhook", reports.event_name("delivered")) == sorted([one.id, two.id])


@pytest.fixture
def plain_listener() -> Iterator[list[int]]:
    """A listener registered without `wants` (as a plugin's may be): it hears every delivered event."""
    heard: list[int] = []

    async def listener(session: AsyncSession, happened: events.Happened) -> None:
        heard.append(happened.message.id)

    events.on_event("delivered")(listener)
    yield heard
    events.forget(listener)


async def test_a_listener_that_does_not_say_what_it_wants_hears_every_receipt(
        db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc, plain_listener: list[int]) -> None:
    (one,) = await _sent_with(db, account, runner, [{}])
    async with db.transaction() as s, events.batch(s):
        await apply_receipts(s, [Receipt("sms", str(one.external_id), "DELIVRD", "delivered", reference=str(one.id))])
    assert plain_listener == [one.id]


async def test_every_receipt_of_a_message_in_one_batch_reaches_the_accounts_notifications(
        db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc) -> None:
    """A message's listeners are worked out once for its only receipt, and again for each of several."""
    await notify_events(db, account.account_id)
    short, long = await _sent_with(db, account, runner, [{}, {}], source="rest", bodies=["a", "x" * 200])
    batch = [Receipt("sms", str(short.external_id), "DELIVRD", "delivered", reference=str(short.id)),
             Receipt("sms", str(long.external_id), "DELIVRD", "delivered", reference=str(long.id)),
             Receipt("sms", long.extra["part_ids"][1], "REJECTD", "rejected", "009", reference=str(long.id), part=2),
             Receipt("sms", str(long.external_id), "DELIVRD", "delivered", reference=str(long.id))]  # resent
    async with db.transaction() as s, events.batch(s):
        assert await apply_receipts(s, batch) == []
    assert await _jobs(db, "rest.event_webhook", reports.event_name("delivered")) == sorted([short.id, long.id])
    assert await _jobs(db, "rest.event_webhook", reports.event_name("rejected")) == [long.id]


async def test_receipts_recorded_together_have_their_events_in_their_messages_order(
        db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc) -> None:
    messages = await _sent_with(db, account, runner, [{}, {}, {}, {}])
    async with db.transaction() as s, events.batch(s):
        assert await apply_receipts(s, [Receipt("sms", str(m.external_id), "DELIVRD", "delivered", reference=str(m.id))
                                        for m in reversed(messages)]) == []
    async with db.sessions() as s:
        order = list((await s.execute(select(Event.message_id).where(
            Event.kind == "delivered", Event.message_id.in_([m.id for m in messages])).order_by(Event.id))).scalars())
    assert order == [m.id for m in messages]
