"""Inbound details: unsubscribe (link, one-click, reply), tracking counters, matching fallbacks,
duplicates and junk, auto-replies that stop a sequence, IMAP IDLE push and IMAP login errors.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Message, StatCounter, Suppression
from tidings.engine import imap_poller
from tidings.engine.runner import Runner
from tidings.outreach.inbound.service import ingest

from smtp_sink import free_port, smtp_sink


@pytest.fixture(autouse=True)
def no_idle() -> Iterator[None]:
    saved, imap_poller.IDLE_ENABLED = imap_poller.IDLE_ENABLED, False
    yield
    imap_poller.IDLE_ENABLED = saved


async def _one_step(make_world: Any, sink: Any, *contacts: str, steps: int = 1, imap: Any = None,
                    **settings: Any) -> Any:
    world = await make_world()
    await world.add_mailbox("sam@acme.test", smtp_port=sink.port, imap=imap)
    for n in range(steps):
        await world.add_step("Hello {{first_name|there}}" if n == 0 else "",
                             '<p>Hi, see <a href="https://acme.test/deck">our deck</a>.</p>', delay_days=n)
    for email in contacts:
        await world.add_contact(email)
    await world.start(**settings)
    return world


async def _metric(db: Database, campaign_id: int, metric: str, step: int = 0) -> int:
    async with db.sessions() as s:
        rows = (await s.execute(select(StatCounter.value).where(
            StatCounter.scope == "campaign", StatCounter.scope_id == campaign_id, StatCounter.metric == metric,
            StatCounter.step == step))).scalars().all()
    return sum(rows)


def _answer(original: Any, body: str, *, threaded: bool = True, message_id: str = "<a1@globex.test>",
            **headers: str) -> bytes:
    lines = [f"From: {original['To']}", "To: sam@acme.test", f"Subject: RE: {original['Subject']}",
             f"Message-ID: {message_id}"]
    if threaded:
        lines.append(f"In-Reply-To: {original['Message-ID']}")
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


async def test_one_click_unsubscribe_suppresses_the_contact(app: Any, client: httpx.AsyncClient, db: Database,
                                                            make_world: Any, runner: Runner,
                                                            clock: ManualClock) -> None:
    with smtp_sink() as sink:
        world = await _one_step(make_world, sink, "ann@globex.test", steps=2, track_opens=True, track_clicks=True)
        await runner.run_until_idle()
        mail = sink.received[0].message
        html = mail.get_body(("html",)).get_content()
        pixel = re.search(r'src="http://tidings.test(/t/o/[^"]+)"', html)
        click = re.search(r'href="http://tidings.test(/t/c/[^"]+)"', html)
        assert pixel and click
        await client.get(pixel.group(1))
        await client.get(pixel.group(1))
        await client.get(click.group(1).replace("&amp;", "&"), follow_redirects=False)
        assert await _metric(db, world.campaign_id, "messages_opened") == 1, "first open only"
        assert await _metric(db, world.campaign_id, "messages_clicked", step=1) == 1

        path = str(mail["List-Unsubscribe"]).strip().strip("<>").removeprefix("http://tidings.test")
        assert "Unsubscribe" in (await client.get(path)).text
        r = await client.post(path, content=b"List-Unsubscribe=One-Click",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status_code == 200
        enrollment = await world.enrollment(world.enrollment_ids[0])
        assert (enrollment.status, enrollment.is_suppressed) == ("UNSUBSCRIBED", True)
        async with db.sessions() as s:
            assert (await s.execute(select(Suppression.value))).scalars().all() == ["ann@globex.test"]
        clock.advance(timedelta(days=2))
        await runner.run_until_idle()
    assert len(sink.received) == 1, "nothing more after unsubscribing"


async def test_reply_matching_fallbacks_duplicates_and_junk(app: Any, db: Database, make_world: Any, runner: Runner,
                                                            clock: ManualClock) -> None:
    with smtp_sink() as sink:
        world = await _one_step(make_world, sink, "ann@globex.test", "bob@globex.test", steps=2)
        await runner.run_until_idle()
    by_rcpt = {r.recipients[0]: r.message for r in sink.received}
    async with db.transaction() as s:
        # No In-Reply-To: matched by sender and subject.
        got = await ingest(s, _answer(by_rcpt["ann@globex.test"], "Sounds good", threaded=False))
        assert got.outcome == "stored" and got.message is not None and got.message.classification == "reply"
        assert (await ingest(s, _answer(by_rcpt["ann@globex.test"], "Sounds good"))).outcome == "duplicate"
        # The same sender in other letter cases, still without references, is matched too.
        shouted = _answer(by_rcpt["ann@globex.test"], "Yes!", threaded=False, message_id="<a2@globex.test>")
        got = await ingest(s, shouted.replace(b"From: ann@globex.test", b"From: ANN@Globex.TEST"))
        assert got.outcome == "stored" and got.message is not None and got.message.thread_id is not None
        unsub = _answer(by_rcpt["bob@globex.test"], "Please remove me from your list.", message_id="<u1@globex.test>")
        assert (await ingest(s, unsub)).kind == "unsubscribe"
        junks = (b"", b"\x00\xff garbage", b"Subject: =?bad?=\r\n\r\n", b"From: x\r\nIn-Reply-To: <nope@x>\r\n\r\n")
        for junk in junks:
            assert (await ingest(s, junk)).outcome in ("unmatched", "unparseable")
    assert (await world.enrollment(world.enrollment_ids[0])).status == "REPLIED"
    assert (await world.enrollment(world.enrollment_ids[1])).status == "UNSUBSCRIBED"
    assert await _metric(db, world.campaign_id, "replied") == 1


async def test_stop_on_autoreply(app: Any, db: Database, make_world: Any, runner: Runner, clock: ManualClock) -> None:
    with smtp_sink() as sink:
        world = await _one_step(make_world, sink, "ann@globex.test", steps=2, stop_on_autoreply=True)
        await runner.run_until_idle()
        async with db.transaction() as s:
            got = await ingest(s, _answer(sink.received[0].message, "Thank you for your email. I am on vacation.",
                                          X_Autoreply="yes"))
        assert got.kind == "auto_reply"
        clock.advance(timedelta(days=2))
        await runner.run_until_idle()
    assert len(sink.received) == 1
    assert (await world.enrollment(world.enrollment_ids[0])).status == "AUTOREPLIED"
    assert await _metric(db, world.campaign_id, "autoreplied") == 1


async def test_idle_push_and_imap_login_errors(app: Any, db: Database, make_world: Any, runner: Runner,
                                               clock: ManualClock, dovecot: Any, backend: str) -> None:
    user = f"idle-{backend}-{free_port()}@acme.test"
    dovecot.add_user(user, "pw")
    imap_poller.IDLE_ENABLED = True
    with smtp_sink() as sink:
        world = await _one_step(make_world, sink, "ann@globex.test", imap=(dovecot.port, user, "pw"))
        await runner.run_until_idle()  # sends, polls an empty inbox and starts the IDLE watcher
        await asyncio.sleep(0.5)  # let the watcher enter IDLE
        dovecot.deliver(user, _answer(sink.received[0].message, "Interested, call me."))
        for _ in range(50):  # a real network wait for the server's push
            if (await world.enrollment(world.enrollment_ids[0])).status == "REPLIED":
                break
            await asyncio.sleep(0.1)
        assert (await world.enrollment(world.enrollment_ids[0])).status == "REPLIED", "IDLE push ingested the reply"
        async with db.sessions() as s:
            assert len((await s.execute(select(Message).where(Message.direction == "in"))).scalars().all()) == 1

        other = await make_world(name="Wrong password")
        box = await other.add_mailbox("kim@acme.test", smtp_port=sink.port, imap=(dovecot.port, user, "wrong"))
        clock.advance(imap_poller.POLL_SECONDS + 1)
        await runner.run_until_idle()
    assert (await other.mailbox(box)).last_error == "IMAP login failed"
