"""Sending: scheduler, rotation and limits, personalisation, threading, SMTP outcomes (real aiosmtpd)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import dkim
import httpx
from sqlalchemy import select

from tidings.core.clock import ManualClock
from tidings.core.secrets import vault
from tidings.db.engine import Database
from tidings.db.models import Mailbox, Message, StatCounter, Thread
from tidings.engine.runner import Runner
from tidings.tenancy.service import NewAccount

from helpers import bearer
from smtp_sink import smtp_sink


async def _counters(db: Database, campaign_id: int) -> dict[tuple[int, str], int]:
    async with db.sessions() as s:
        rows = (await s.execute(select(StatCounter).where(StatCounter.scope == "campaign",
                                                          StatCounter.scope_id == campaign_id))).scalars()
        out: dict[tuple[int, str], int] = {}
        for c in rows:
            out[(c.step, c.metric)] = out.get((c.step, c.metric), 0) + c.value
        return out


async def _outbound(db: Database) -> list[Message]:
    async with db.sessions() as s:
        return list((await s.execute(select(Message).where(Message.direction == "out").order_by(Message.id)))
                    .scalars())


async def test_two_steps_rotate_mailboxes_and_thread_follow_ups(app: Any, db: Database, make_world: Any,
                                                                runner: Runner, clock: ManualClock) -> None:
    with smtp_sink() as sink:
        world = await make_world()
        a = await world.add_mailbox("sam@acme.test", smtp_port=sink.port)
        b = await world.add_mailbox("kim@acme-mail.test", smtp_port=sink.port)
        await world.add_step("Hi {{first_name|there}}, {quick|short} question",
                             "Hello {{first_name}},\nwe make {{custom product|things}} for {{company}}.")
        await world.add_step("", "<p>Just following up, {{first_name}}.</p>", delay_days=2)
        people = [await world.add_contact(f"p{i}@globex.test", first_name=f"P{i}", company="Globex",
                                          custom_fields={"Custom Product": "rockets"} if i == 0 else {})
                  for i in range(4)]
        await world.start()
        await runner.run_until_idle()
        assert len(sink.received) == 4
        senders = [r.sender for r in sink.received]
        assert senders.count("sam@acme.test") == 2 and senders.count("kim@acme-mail.test") == 2, "rotation"
        first = {r.recipients[0]: r.message for r in sink.received}
        mail = first["p0@globex.test"]
        assert re.fullmatch(r"Hi P0, (quick|short) question", str(mail["Subject"]))
        assert "we make rockets for Globex" in mail.get_body(("plain",)).get_content()
        assert "things for Globex" in first["p1@globex.test"].get_body(("plain",)).get_content(), "fallback"
        assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert str(mail["List-Unsubscribe"]).strip().startswith("<http://tidings.test/u/")
        domain = "acme.test" if sink.received[0].sender == "sam@acme.test" else "acme-mail.test"
        assert str(sink.received[0].message["Message-ID"]).endswith(f"@{domain}>")

        clock.advance(timedelta(days=1))
        await runner.run_until_idle()
        assert len(sink.received) == 4, "step 2 waits delay_days"
        clock.advance(timedelta(days=1, seconds=1))
        await runner.run_until_idle()
        assert len(sink.received) == 8
        for r in sink.received[4:]:
            follow = r.message
            original = first[r.recipients[0]]
            assert follow["In-Reply-To"] == original["Message-ID"]
            assert original["Message-ID"] in str(follow["References"])
            assert follow["Subject"] == "Re: " + str(original["Subject"])
            assert r.sender == sink.received[[x.recipients[0] for x in sink.received[:4]].index(r.recipients[0])
                                             ].sender, "a thread stays on its mailbox"
    enrollment = await world.enrollment(people[0])
    assert (enrollment.emails_sent, enrollment.completed_steps, enrollment.next_step) == (2, 2, 3)
    counters = await _counters(db, world.campaign_id)
    assert counters[(0, "messages_sent")] == 8 and counters[(0, "contacted")] == 4
    assert counters[(1, "sent")] == 4 and counters[(2, "sent")] == 4 and counters[(2, "contacted")] == 4
    async with db.sessions() as s:
        threads = (await s.execute(select(Thread))).scalars().all()
    assert len(threads) == 4 and {t.mailbox_id for t in threads} == {a, b}
    from tidings.db.models import Campaign
    async with db.sessions() as s:
        campaign = await s.get(Campaign, world.campaign_id)
        assert campaign is not None and campaign.status == "COMPLETED"


async def test_missing_data_variants_and_suppression(app: Any, db: Database, make_world: Any, runner: Runner,
                                                     clock: ManualClock) -> None:
    from tidings.db.models import Suppression

    with smtp_sink() as sink:
        world = await make_world()
        await world.add_mailbox("sam@acme.test", smtp_port=sink.port)
        await world.add_step("A {{first_name}}", "Body A", variants=[{"subject": "B {{first_name}}", "body": "Body B"}])
        ok = [await world.add_contact(f"ok{i}@globex.test", first_name="Ann") for i in range(4)]
        missing = await world.add_contact("nofirst@globex.test")
        blocked = await world.add_contact("blocked@globex.test", first_name="Bo")
        async with db.transaction() as s:
            s.add(Suppression(account_id=world.account_id, client_id=world.client_id, channel="email", kind="email",
                              value="blocked@globex.test"))
        await world.start()
        await runner.run_until_idle()
    assert sorted(r.recipients[0] for r in sink.received) == sorted(f"ok{i}@globex.test" for i in range(4))
    assert sorted(str(r.message["Subject"])[0] for r in sink.received) == ["A", "A", "B", "B"], "even split"
    assert (await world.enrollment(missing)).status == "MISSING-DATA"
    assert (await world.enrollment(blocked)).status == "UNSUBSCRIBED"
    assert [(await world.enrollment(e)).status for e in ok] == ["OK"] * 4
    counters = await _counters(db, world.campaign_id)
    assert counters[(1, "v0_sent")] == 2 and counters[(1, "v1_sent")] == 2


async def test_daily_limit_interval_and_window(app: Any, db: Database, make_world: Any, runner: Runner,
                                               clock: ManualClock) -> None:
    clock.set(datetime(2026, 1, 5, 7, 0, tzinfo=UTC))  # a Monday, 08:00 in Madrid
    with smtp_sink() as sink:
        world = await make_world(timezone="Europe/Madrid",
                                 schedule={"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:00"})
        await world.add_mailbox("sam@acme.test", smtp_port=sink.port, daily_limit=3, min_interval_seconds=600)
        await world.add_step("Hello", "Hi")
        for i in range(5):
            await world.add_contact(f"c{i}@globex.test")
        await world.start()
        await runner.run_until_idle()
        assert sink.received == [], "before the window opens"
        clock.set(datetime(2026, 1, 5, 8, 0, tzinfo=UTC))
        await runner.run_until_idle()
        assert len(sink.received) == 1
        clock.advance(300)
        await runner.run_until_idle()
        assert len(sink.received) == 1, "min interval"
        clock.advance(451)  # past 600 s plus the largest jitter
        await runner.run_until_idle()
        assert len(sink.received) == 2
        for _ in range(6):
            clock.advance(800)
            await runner.run_until_idle()
        assert len(sink.received) == 3, "daily limit"
        clock.set(datetime(2026, 1, 9, 16, 59, 59, tzinfo=UTC))  # Friday, after the window
        await runner.run_until_idle()
        assert len(sink.received) == 3
        clock.set(datetime(2026, 1, 12, 8, 0, tzinfo=UTC))  # Monday again
        await runner.run_until_idle()
        assert len(sink.received) == 4


async def test_smtp_refusals_login_failure_and_dkim(app: Any, client: httpx.AsyncClient, db: Database,
                                                    account: NewAccount, make_world: Any, runner: Runner,
                                                    clock: ManualClock) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    with smtp_sink(credentials={"sam": "right"}) as sink:
        sink.handler.refuse = {"gone@globex.test": "550 5.1.1 no such user",
                               "later@globex.test": "451 4.3.0 try again"}
        world = await make_world()
        good = await world.add_mailbox("sam@acme.test", smtp_port=sink.port, smtp_user="sam", smtp_password="right",
                                       dkim_selector="s1", dkim_private_key_enc=vault().encrypt(pem))
        await world.add_step("Hello", "Hi")
        await world.add_step("", "Again", delay_days=1)
        gone = await world.add_contact("gone@globex.test")
        later = await world.add_contact("later@globex.test")
        await world.start()
        await runner.run_until_idle()
        assert (await world.enrollment(gone)).status == "BOUNCED"
        e = await world.enrollment(later)
        assert (e.status, e.next_step, e.emails_sent) == ("OK", 1, 0), "a 4xx does not consume the step"
        sink.handler.refuse = {}
        clock.advance(timedelta(minutes=2))
        await runner.run_until_idle()
        assert [r.recipients[0] for r in sink.received] == ["later@globex.test"]
        raw = sink.received[0].data
        public = key.public_key().public_bytes(serialization.Encoding.DER,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)
        import base64
        record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
        assert dkim.verify(raw, dnsfunc=lambda name, timeout=5: record if name == b"s1._domainkey.acme.test." else b"")
        counters = await _counters(db, world.campaign_id)
        assert counters[(0, "bounced")] == 1 and counters[(1, "bounced")] == 1

        # A mailbox whose login fails is paused and says why.
        bad_world = await make_world(name="Q4")
        bad = await bad_world.add_mailbox("kim@acme.test", smtp_port=sink.port, smtp_user="kim", smtp_password="x")
        await bad_world.add_step("Hello", "Hi")
        waiting = await bad_world.add_contact("new@globex.test")
        await bad_world.start()
        await runner.run_until_idle()
        box = await bad_world.mailbox(bad)
        assert box.status == "paused" and "login failed" in (box.last_error or "")
        assert (await bad_world.enrollment(waiting)).emails_sent == 0
        r = await client.get("/api/v1/mailboxes", headers=bearer(account.api_token))
        assert r.status_code == 200, r.text
        shown = {m["email"]: m for m in r.json()["data"]}
        assert shown["kim@acme.test"]["status"] == "paused" and "login failed" in shown["kim@acme.test"]["last_error"]
    assert (await world.mailbox(good)).status == "active"


async def test_a_successful_send_clears_an_smtp_error_and_an_expired_pause(db: Database, make_world: Any,
                                                                            runner: Runner, clock: ManualClock) -> None:
    with smtp_sink() as sink:
        world = await make_world()
        paused = await world.add_mailbox("sam@acme.test", smtp_port=sink.port)
        erred = await world.add_mailbox("kim@acme.test", smtp_port=sink.port)
        other = await world.add_mailbox("lee@acme.test", smtp_port=sink.port)
        fine = await world.add_mailbox("ada@acme.test", smtp_port=sink.port)
        async with db.transaction() as s:
            for box_id, status, error, until in (
                    (paused, "paused", "SMTP 535 login failed (code 535)", clock.now() - timedelta(minutes=1)),
                    (erred, "active", "SMTP connection refused", None),
                    (other, "active", "IMAP login failed", None)):
                box = await s.get(Mailbox, box_id)
                assert box is not None
                box.status, box.last_error, box.paused_until = status, error, until
        await world.add_step("Hello", "Hi")
        for i in range(8):
            await world.add_contact(f"p{i}@globex.test")
        await world.start()
        await runner.run_until_idle()
        assert {r.sender for r in sink.received} == {"sam@acme.test", "kim@acme.test", "lee@acme.test",
                                                     "ada@acme.test"}
    states = {box_id: ((b := await world.mailbox(box_id)).status, b.last_error, b.paused_until)
              for box_id in (paused, erred, other, fine)}
    assert states == {paused: ("active", None, None), erred: ("active", None, None),
                      other: ("active", "IMAP login failed", None), fine: ("active", None, None)}
