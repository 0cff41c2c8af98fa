"""SMPP through the engine: dispatch to a fake SMSC, deliver_sm receipts become events, multi-part ids."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from tidings.channels.registry import Providers, build_provider
from tidings.channels.sms import Receipt
from tidings.channels.sms.smpp import SmppProvider
from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Event, Job, Message
from tidings.engine import receipts
from tidings.engine.dispatcher import dispatch
from tidings.engine.receipts import drain_receipts
from tidings.engine.runner import Runner
from tidings.messaging import outbox
from tidings.messaging.receipts import apply_receipt
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

from fakes.smsc import FakeSmsc


@pytest.fixture
async def smsc(app: Any) -> AsyncIterator[FakeSmsc]:
    async with FakeSmsc() as server:
        app.state.providers.set("sms", build_provider("sms", server.url()))
        yield server


async def _queue(db: Database, account: NewAccount, recipient: str, body: str) -> int:
    async with db.transaction() as s:
        subject = AuthSubject(account_id=account.account_id, user_id=1)
        sending = await outbox.open_sending(s, subject, channel="sms", source="test")
        message = await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel="sms",
                                                           sender="TIDINGS", recipient=recipient, sending=sending,
                                                           body=body, extra={"kind": "transactional"}))
        return message.id


async def _events(db: Database, message_id: int) -> list[tuple[str, dict[str, Any]]]:
    async with db.sessions() as s:
        rows = (await s.execute(select(Event).where(Event.message_id == message_id).order_by(Event.id))).scalars()
        return [(e.kind, e.details) for e in rows]


async def _settle(runner: Runner, provider: Any, expected: int) -> None:
    """Run the engine until the fake SMSC's receipts have arrived and been applied."""
    for _ in range(100):
        await runner.run_until_idle()
        await asyncio.sleep(0.02)
        if provider.receipts.empty() and len(provider._parts) >= expected:
            await runner.run_until_idle()
            return
    raise AssertionError("receipts did not settle")


@pytest.mark.parametrize("stat, kind", [("DELIVRD", "delivered"), ("UNDELIV", "undelivered"),
                                        ("EXPIRED", "expired"), ("REJECTD", "rejected"), ("ACCEPTD", None)])
async def test_receipt_becomes_the_event(app: Any, db: Database, account: NewAccount, runner: Runner,
                                         smsc: FakeSmsc, stat: str, kind: str | None) -> None:
    smsc.stat = stat
    mid = await _queue(db, account, "34666555444", "hello")
    await _settle(runner, app.state.providers.get("sms"), 1)
    events = await _events(db, mid)
    assert [k for k, _ in events] == ["sent", *([kind] if kind else [])]
    if kind and kind != "delivered":
        assert events[1][1]["stat"] == stat
    async with db.sessions() as s:
        message = await s.get(Message, mid)
        assert message is not None and message.external_id == smsc.submitted[0].message_id
        assert message.status == (kind or "sent")


async def test_multipart_ids_and_a_failed_later_part(app: Any, db: Database, account: NewAccount, runner: Runner,
                                                     smsc: FakeSmsc) -> None:
    mid = await _queue(db, account, "34666555444", "x" * 200)
    await _settle(runner, app.state.providers.get("sms"), 2)
    first, second = (s.message_id for s in smsc.submitted)
    async with db.sessions() as s:
        message = await s.get(Message, mid)
        assert message is not None
        assert message.external_id == first and message.extra["part_ids"] == [first, second]
        assert message.parts == 2
    assert [k for k, _ in await _events(db, mid)] == ["sent", "delivered"], "one delivered event for two parts"
    # After a restart the provider has forgotten the parts: the second part's failure still maps back.
    async with db.transaction() as s:
        assert await apply_receipt(s, Receipt("sms", second, "UNDELIV", "undelivered", "001"))
    events = await _events(db, mid)
    assert [k for k, _ in events] == ["sent", "delivered", "undelivered"] and events[-1][1]["part"] == 2


async def test_receipts_an_smsc_sends_to_another_workers_bind_are_recorded(
        app: Any, db: Database, account: NewAccount, runner: Runner) -> None:
    """Many SMSCs send a receipt to any bound session: one that reaches a worker which did not send its message
    does not name it, and is found by its provider id."""
    async with FakeSmsc(receipts_any_bind=True) as server:
        app.state.providers.set("sms", build_provider("sms", server.url()))
        other = build_provider("sms", server.url())
        assert isinstance(other, SmppProvider)
        await other.listen()  # another worker's bind
        other_ctx = dataclasses.replace(runner.ctx, providers=Providers({}), worker="other")
        other_ctx.providers.set("sms", other)
        ids = [await _queue(db, account, f"3466655{i:04d}", f"hello {i}") for i in range(6)]
        heard: list[Receipt] = []
        for _ in range(100):
            await runner.run_until_idle()
            while not other.receipts.empty():
                heard.append(other.receipts.get_nowait())
            if server.receipts_acked >= 6:
                break
            await asyncio.sleep(0.02)
        assert heard and all(r.reference is None for r in heard)
        for receipt in heard:
            other.receipts.put_nowait(receipt)
        assert await drain_receipts(other_ctx) == len(heard)
        await runner.run_until_idle()
        await other.close()
    for message_id in ids:
        assert [k for k, _ in await _events(db, message_id)] == ["sent", "delivered"]
    async with db.sessions() as s:
        assert (await s.execute(select(Job).where(Job.kind == "sms.receipt"))).first() is None


async def test_receipt_before_its_message_is_retried(app: Any, db: Database, account: NewAccount,
                                                     runner: Runner, clock: Any, smsc: FakeSmsc) -> None:
    provider = app.state.providers.get("sms")
    assert isinstance(provider, SmppProvider)
    provider.receipts.put_nowait(Receipt("sms", "early-1", "DELIVRD", "delivered"))
    await runner.run_until_idle()
    async with db.sessions() as s:
        job = (await s.execute(select(Job).where(Job.kind == "sms.receipt"))).scalar_one()
        assert job.status == "queued"
    mid = await _queue(db, account, "34666555444", "hi")
    async with db.transaction() as s:
        message = await s.get(Message, mid)
        assert message is not None
        message.status, message.external_id, message.due_at = "sent", "early-1", None
    clock.advance(40)
    await runner.run_until_idle()
    assert [k for k, _ in await _events(db, mid)] == ["delivered"]


async def _receipts_waiting(app: Any, runner: Runner, db: Database, account: NewAccount, n: int) -> list[int]:
    """n messages sent (the dispatcher alone), their receipts waiting in the provider's queue, not yet recorded."""
    ids = [await _queue(db, account, f"3466655544{i}", "hello") for i in range(n)]
    assert await dispatch(runner.ctx) == n
    provider = app.state.providers.get("sms")
    for _ in range(200):
        if provider.receipts.qsize() >= n:
            return ids
        await asyncio.sleep(0.01)
    raise AssertionError("receipts did not arrive")


async def _statuses(db: Database, ids: list[int]) -> list[str]:
    async with db.sessions() as s:
        return list((await s.execute(select(Message.status).where(Message.id.in_(ids)).order_by(Message.id))).scalars())


async def test_receipts_wait_while_the_dispatcher_sends(app: Any, db: Database, account: NewAccount, runner: Runner,
                                                       smsc: FakeSmsc, clock: ManualClock) -> None:
    ids = await _receipts_waiting(app, runner, db, account, 3)
    runner.ctx.sending = 1  # a batch is being sent: its sends go first
    assert await drain_receipts(runner.ctx) == 0
    clock.advance(receipts.HOLD - timedelta(milliseconds=1))
    assert await drain_receipts(runner.ctx) == 0
    assert await _statuses(db, ids) == ["sent"] * 3
    clock.advance(timedelta(milliseconds=1))  # the first has waited HOLD: all of them now, though sends go on
    assert await drain_receipts(runner.ctx) == 3
    assert await _statuses(db, ids) == ["delivered"] * 3


async def test_receipts_go_at_once_when_many_wait_or_nothing_is_sent(
        app: Any, db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc, clock: ManualClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(receipts, "HOLD_COUNT", 3)
    ids = await _receipts_waiting(app, runner, db, account, 3)
    runner.ctx.sending = 1
    assert await drain_receipts(runner.ctx) == 3  # a full round is worth a transaction even while sending
    assert await _statuses(db, ids) == ["delivered"] * 3
    more = await _receipts_waiting(app, runner, db, account, 2)
    runner.ctx.sending = 0  # idle dispatcher: no wait
    assert await drain_receipts(runner.ctx) == 2
    assert await _statuses(db, more) == ["delivered"] * 2


async def test_a_round_records_every_waiting_receipt_a_batch_a_transaction(
        app: Any, db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(receipts, "BATCH", 2)
    transactions = 0
    opened = runner.ctx.db.transaction

    def counted() -> Any:
        nonlocal transactions
        transactions += 1
        return opened()

    ids = await _receipts_waiting(app, runner, db, account, 5)
    monkeypatch.setattr(runner.ctx.db, "transaction", counted)
    assert await drain_receipts(runner.ctx) == 5  # the held burst is recorded in one round, not one batch a poll
    assert transactions == 3
    assert await _statuses(db, ids) == ["delivered"] * 5


async def test_the_dispatcher_wakes_the_loops_when_nothing_is_left_to_send_and_receipts_are_held(
        app: Any, db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc, clock: ManualClock) -> None:
    woken: list[bool] = []
    runner.ctx.wake_loops = lambda: woken.append(True)
    ids = await _receipts_waiting(app, runner, db, account, 2)
    assert woken == []  # nothing was held
    runner.ctx.sending = 1
    assert await drain_receipts(runner.ctx) == 0  # held for the sends
    runner.ctx.sending = 0
    assert await dispatch(runner.ctx) == 0  # nothing due: the held receipts need not wait out HOLD or a poll
    assert woken == [True]
    assert await drain_receipts(runner.ctx) == 2
    assert await _statuses(db, ids) == ["delivered"] * 2
    assert await dispatch(runner.ctx) == 0
    assert woken == [True]


async def test_receipts_taken_when_the_database_fails_wait_for_it_in_order(
        app: Any, db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc,
        monkeypatch: pytest.MonkeyPatch) -> None:
    ids = await _receipts_waiting(app, runner, db, account, 3)
    provider = app.state.providers.get("sms")
    taken_first = list(provider.receipts._queue)
    late = Receipt("sms", "late-part", "DELIVRD", "delivered")

    async def database_down(session: Any, taken: list[Receipt]) -> list[Receipt]:
        provider.receipts.put_nowait(late)  # arrives while the transaction is under way
        raise OperationalError("INSERT INTO events", {}, ConnectionRefusedError("connection refused"))

    monkeypatch.setattr(receipts, "apply_receipts", database_down)
    with pytest.raises(OperationalError):
        await drain_receipts(runner.ctx)
    # Nothing lost (the SMSC already has its answers), and the later one still after them.
    assert list(provider.receipts._queue) == [*taken_first, late]
    assert await _statuses(db, ids) == ["sent"] * 3
    monkeypatch.undo()
    assert await drain_receipts(runner.ctx) == 4  # the database is back
    assert await _statuses(db, ids) == ["delivered"] * 3


async def test_a_burst_recorded_side_by_side_keeps_each_messages_receipts_in_order(
        app: Any, db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL records a held burst in two transactions at a time, each a share of the messages."""
    monkeypatch.setattr(receipts, "BATCH", 2)  # several transactions a share
    ids = await _receipts_waiting(app, runner, db, account, 6)
    provider = app.state.providers.get("sms")
    came = [provider.receipts.get_nowait() for _ in range(provider.receipts.qsize())]
    first = next(r for r in came if r.reference == str(ids[0]))
    failed = Receipt("sms", first.provider_id, "UNDELIV", "undelivered", "001", None, first.reference)
    for receipt in [failed, *came]:  # the message's failure before its delivery: the delivery changes nothing
        provider.receipts.put_nowait(receipt)
    assert await receipts._record_side_by_side(runner.ctx, provider, 7) == 7
    assert await _statuses(db, ids) == ["undelivered"] + ["delivered"] * 5
    assert [k for k, _ in await _events(db, ids[0])] == ["sent", "undelivered"]
    assert provider.receipts.empty()


async def test_a_burst_recorded_side_by_side_gives_back_what_an_outage_kept_from_the_database(
        app: Any, db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(receipts, "BATCH", 2)
    ids = await _receipts_waiting(app, runner, db, account, 6)
    provider = app.state.providers.get("sms")
    came = list(provider.receipts._queue)
    recorded = receipts._in_transaction
    down = {str(i) for i in ids if i % 2}  # one share's messages: the database goes away under its transaction

    async def one_share_fails(ctx: Any, taken: list[Receipt]) -> None:
        if any(r.reference in down for r in taken):
            raise OperationalError("UPDATE messages", {}, ConnectionRefusedError("connection refused"))
        await recorded(ctx, taken)

    monkeypatch.setattr(receipts, "_in_transaction", one_share_fails)
    with pytest.raises(OperationalError):
        await receipts._record_side_by_side(runner.ctx, provider, 6)
    # The other share is recorded; the failed one waits in front, in the order it came.
    assert list(provider.receipts._queue) == [r for r in came if r.reference in down]
    assert await _statuses(db, ids) == ["sent" if str(i) in down else "delivered" for i in ids]
    monkeypatch.undo()
    assert await drain_receipts(runner.ctx) == 3
    assert await _statuses(db, ids) == ["delivered"] * 6


async def test_receipts_held_when_the_engine_stops_are_recorded_before_it_ends(
        app: Any, db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc) -> None:
    ids = await _receipts_waiting(app, runner, db, account, 3)
    runner.stop()  # a shutdown (SIGTERM) before the receipts' next round
    await asyncio.wait_for(runner.run_forever(), 30)
    assert await _statuses(db, ids) == ["delivered"] * 3
    assert app.state.providers.get("sms").receipts.empty()
