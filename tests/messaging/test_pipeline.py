"""The shared send pipeline: queue, dispatch, provider outcome, events, tracking links."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event, select

from tidings.channels.registry import build_provider
from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Event, Message, StatCounter
from tidings.engine import dispatcher
from tidings.engine.runner import Runner
from tidings.messaging import delivery, outbox
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

from smtp_sink import smtp_sink


def _subject(account: NewAccount) -> AuthSubject:
    return AuthSubject(account_id=account.account_id, user_id=1)


async def _queue(db: Database, account: NewAccount, channel: str, recipient: str, **fields: Any) -> int:
    async with db.transaction() as s:
        sending = await outbox.open_sending(s, _subject(account), channel=channel, source="test", campaign_name="Promo")
        message = await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel=channel,
                                                           sender=fields.pop("sender", "TIDINGS"), recipient=recipient,
                                                           sending=sending, **fields))
        return message.id


async def _events(db: Database, message_id: int) -> list[str]:
    async with db.sessions() as s:
        rows = (await s.execute(select(Event.kind).where(Event.message_id == message_id).order_by(Event.id))).all()
    return [r[0] for r in rows]


async def _message(db: Database, message_id: int) -> Message:
    async with db.sessions() as s:
        message = await s.get(Message, message_id)
        assert message is not None
        return message


async def test_sms_is_sent_then_delivered_by_the_sandbox(app: Any, db: Database, account: NewAccount,
                                                          runner: Runner, clock: ManualClock) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=5s"))
    mid = await _queue(db, account, "sms", "34666555444", body="Hola € " + "x" * 155)
    await runner.run_until_idle()
    assert await _events(db, mid) == ["sent"]
    message = await _message(db, mid)
    assert message.status == "sent" and message.encoding == "gsm" and message.parts == 2
    clock.advance(6)
    await runner.run_until_idle()
    assert await _events(db, mid) == ["sent", "delivered"]
    assert (await _message(db, mid)).status == "delivered"
    async with db.sessions() as s:
        counters = {(c.metric, c.value) for c in (await s.execute(select(StatCounter))).scalars()}
    assert counters == {("sent", 1), ("delivered", 1)}


async def test_a_batch_of_sandbox_deliveries_reads_its_messages_in_one_query(app: Any, db: Database,
                                                                              account: NewAccount, runner: Runner,
                                                                              clock: ManualClock) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=5s"))
    mids = [await _queue(db, account, "sms", f"3466655{i:04d}", body="hi") for i in range(12)]
    await runner.run_until_idle()
    clock.advance(6)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = app.state.db.engine.sync_engine  # the runner's
    event.listen(engine, "before_cursor_execute", count)
    try:
        await runner.run_until_idle()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    for mid in mids:
        assert await _events(db, mid) == ["sent", "delivered"]
    # The twelve delivery events ran as one batch: their messages (and sendings, accounts) loaded together,
    # their events written together.
    reads = [s for s in statements if s.lstrip().startswith("SELECT") and "FROM messages" in s]
    assert len(reads) == 1, statements
    assert len([s for s in statements if s.lstrip().startswith("INSERT INTO events")]) == 1, statements


async def test_outcomes_are_recorded_on_the_claims_rows_and_read_back_after_a_failed_record(
        app: Any, db: Database, account: NewAccount, runner: Runner) -> None:
    from sqlalchemy.exc import OperationalError

    from tidings.channels.base import SendResult

    app.state.providers.set("sms", build_provider("sms", "sandbox://?delay=1h"))  # delivered much later
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    failures = [OperationalError("UPDATE messages", {}, ConnectionError("the database went away"))]

    async def fail_once(session: Any, message: Message, result: SendResult) -> None:
        if failures:
            raise failures.pop()

    async def run(n: int, first: int) -> list[int]:
        mids = [await _queue(db, account, "sms", f"3466655{first + i:04d}", body="hi") for i in range(n)]
        statements.clear()
        event.listen(app.state.db.engine.sync_engine, "before_cursor_execute", count)
        try:
            await runner.run_until_idle()
        finally:
            event.remove(app.state.db.engine.sync_engine, "before_cursor_execute", count)
        for mid in mids:
            assert await _events(db, mid) == ["sent"]
            assert (await _message(db, mid)).status == "sent"
        return mids

    def read_back() -> list[str]:
        return [s for s in statements if "FROM messages LEFT OUTER JOIN sendings" in s]

    await run(5, 0)
    assert read_back() == [], "the claim's rows were recorded on, not read again"
    delivery.OUTCOMES.append(fail_once)
    try:
        await run(5, 10)
    finally:
        delivery.OUTCOMES.remove(fail_once)
    assert not failures and len(read_back()) == 1, "after the failed attempt the rows were read back"
    async with db.sessions() as s:
        counted = [(c.metric, c.value) for c in (await s.execute(select(StatCounter))).scalars()]
    assert sorted(counted) == [("sent", 1)] * 10, "each outcome counted once (one sending per message here)"


async def test_email_goes_through_a_real_relay_with_unsubscribe_and_tracking(
        app: Any, client: httpx.AsyncClient, db: Database, account: NewAccount, runner: Runner) -> None:
    with smtp_sink() as sink:
        app.state.providers.set("email", build_provider("email", sink.url()))
        mid = await _queue(db, account, "email", "bob@example.test", sender="news@acme.test", subject="Hello",
                           html='<p>Hi <a href="https://acme.test/offer">offer</a> [unsubscribe_link]</p>',
                           extra={"track_opens": True, "track_clicks": True})
        await runner.run_until_idle()
    assert len(sink.received) == 1
    mail = sink.received[0].message
    assert mail["Subject"] == "Hello" and mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsub = str(mail["List-Unsubscribe"]).strip().strip("<>")
    assert unsub.startswith("http://tidings.test/u/")
    html = mail.get_body(("html",)).get_content()
    assert unsub in html, "the placeholder became the message's own link"
    assert "https://acme.test/offer" not in re.findall(r'href="([^"]+)"', html)
    assert mail.get_body(("plain",)) is not None
    assert (await _message(db, mid)).rfc_message_id == mail["Message-ID"]

    pixel = re.search(r'src="http://tidings.test(/t/o/[^"]+)"', html)
    click = re.search(r'href="http://tidings.test(/t/c/[^"]+)"', html)
    assert pixel and click
    assert (await client.get(pixel.group(1).replace("&amp;", "&"))).headers["content-type"] == "image/gif"
    r = await client.get(click.group(1).replace("&amp;", "&"), follow_redirects=False)
    assert r.status_code == 302 and r.headers["location"] == "https://acme.test/offer"
    forged = click.group(1).replace("&amp;", "&").replace("acme.test%2Foffer", "evil.test%2F")
    assert (await client.get(forged, follow_redirects=False)).status_code == 404
    path = unsub.removeprefix("http://tidings.test")
    assert "Unsubscribe" in (await client.get(path)).text
    r = await client.post(path, content=b"List-Unsubscribe=One-Click",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200
    assert await _events(db, mid) == ["sent", "opened", "clicked", "unsubscribed"]
    assert (await client.post(path[:-3] + "xyz")).status_code == 404


async def test_a_batch_holds_a_bounded_amount_of_prepared_mail(app: Any, db: Database, account: NewAccount,
                                                               runner: Runner,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    # Each prepared email is well over 2 KB: with a 2 KB budget a batch prepares one at a time, and gives
    # the others back unprepared, their attempt not counted; every one is sent in the end, in order.
    monkeypatch.setattr(dispatcher, "PREPARED_BYTES_PER_BATCH", 2048)
    with smtp_sink() as sink:
        app.state.providers.set("email", build_provider("email", sink.url()))
        mids = [await _queue(db, account, "email", f"r{i}@example.test", sender="news@acme.test", subject=f"S{i}",
                             html="<p>" + "x" * 3000 + "</p>") for i in range(4)]
        await dispatcher.dispatch(runner.ctx)
        assert len(sink.received) == 1, "the first message filled the budget: the others wait for the next batch"
        waiting = [await _message(db, mid) for mid in mids[1:]]
        assert all(m.status == "queued" and m.attempts == 0 and m.locked_by is None for m in waiting)
        await runner.run_until_idle()
    assert [m.message["Subject"] for m in sink.received] == ["S0", "S1", "S2", "S3"]
    assert [(await _message(db, mid)).attempts for mid in mids] == [1, 1, 1, 1]


async def test_relay_refusals(app: Any, db: Database, account: NewAccount, runner: Runner,
                              clock: ManualClock) -> None:
    with smtp_sink() as sink:
        sink.handler.refuse = {"gone@example.test": "550 5.1.1 no such user",
                               "later@example.test": "451 4.3.0 try again"}
        app.state.providers.set("email", build_provider("email", sink.url()))
        gone = await _queue(db, account, "email", "gone@example.test", sender="a@acme.test", subject="x", body="x")
        later = await _queue(db, account, "email", "later@example.test", sender="a@acme.test", subject="x", body="x")
        await runner.run_until_idle()
        assert await _events(db, gone) == ["bounced"]
        assert (await _message(db, gone)).error_code == "550"
        assert await _events(db, later) == ["deferred"], "a 4xx is a soft bounce, retried, not an outcome"
        assert (await _message(db, later)).status == "queued"
        sink.handler.refuse = {}
        clock.advance(timedelta(minutes=2))
        await runner.run_until_idle()
    assert await _events(db, later) == ["deferred", "sent"]


async def test_expired_messages_are_not_sent(app: Any, db: Database, account: NewAccount, runner: Runner,
                                             clock: ManualClock) -> None:
    mid = await _queue(db, account, "sms", "34666555444", body="hi", expires_at=clock.now() - timedelta(seconds=1))
    await runner.run_until_idle()
    assert await _events(db, mid) == ["expired"]


@pytest.fixture
def gates() -> Any:
    saved = list(delivery.GATES)
    yield delivery.GATES
    delivery.GATES[:] = saved


async def test_gates_hold_and_refuse(app: Any, db: Database, account: NewAccount, runner: Runner,
                                     clock: ManualClock, gates: Any) -> None:
    opens = clock.now() + timedelta(hours=3)

    async def quiet_hours(session: Any, message: Message, settings: Any) -> Any:
        if message.recipient == "34600000001" and clock.now() < opens:
            return delivery.Hold(opens, "quiet hours")
        if message.recipient == "34600000002":
            return delivery.Refuse("rejected", "blacklist", "recipient is blacklisted")
        return None

    gates.append(quiet_hours)
    held = await _queue(db, account, "sms", "34600000001", body="hi")
    refused = await _queue(db, account, "sms", "34600000002", body="hi")
    await runner.run_until_idle()
    assert await _events(db, held) == [] and (await _message(db, held)).due_at == opens
    assert await _events(db, refused) == ["rejected"]
    clock.advance(timedelta(hours=3))
    await runner.run_until_idle()
    assert await _events(db, held) == ["sent", "delivered"]
