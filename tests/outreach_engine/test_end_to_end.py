"""End to end with real servers: aiosmtpd as the mailbox's SMTP, Dovecot as its IMAP, and the
inbound SMTP listener. Two steps, four contacts: one replies, one is out of office, one bounces.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import aiosmtplib
import httpx
import pytest

from tidings.api.outreach_v1.ids import encode
from tidings.core.clock import ManualClock
from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.engine import imap_poller, inbound_smtp
from tidings.engine.runner import Runner
from tidings.tenancy.service import NewAccount

from helpers import bearer
from smtp_sink import free_port, smtp_sink

Deliver = Callable[[bytes], Awaitable[None]]


@pytest.fixture(autouse=True)
def no_idle() -> Iterator[None]:
    """These tests drive polling with the clock; the IDLE test turns watchers on itself."""
    saved, imap_poller.IDLE_ENABLED = imap_poller.IDLE_ENABLED, False
    yield
    imap_poller.IDLE_ENABLED = saved


def reply(to_mailbox: str, original: EmailMessage, sender: str, text: str, **headers: str) -> bytes:
    """A reply the way a mail client writes it: threaded, with the original quoted below."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to_mailbox
    msg["Subject"] = "Re: " + str(original["Subject"])
    msg["Message-ID"] = f"<r{abs(hash((sender, text)))}@globex.test>"
    msg["In-Reply-To"] = str(original["Message-ID"])
    msg["References"] = str(original["Message-ID"])
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    quoted = "\n".join("> " + line for line in original.get_body(("plain",)).get_content().splitlines())
    msg.set_content(f"{text}\n\nOn Mon, Jan 5, 2026 at 9:00 AM Sam <{to_mailbox}> wrote:\n{quoted}\n")
    return msg.as_bytes()


def dsn(to_mailbox: str, original: EmailMessage, failed: str) -> bytes:
    """An RFC 3464 delivery status notification for a failed recipient."""
    headers = "".join(f"{k}: {original[k]}\r\n" for k in ("From", "To", "Subject", "Message-ID"))
    return (
        f"From: Mail Delivery System <MAILER-DAEMON@mx.globex.test>\r\nTo: {to_mailbox}\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nMessage-ID: <dsn1@mx.globex.test>\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nI'm sorry to have to inform you that your message could not\r\n"
        f"be delivered to one or more recipients.\r\n\r\n<{failed}>: host mx.globex.test said: 550 5.1.1 "
        "User unknown\r\n\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.globex.test\r\n\r\n"
        f"Final-Recipient: rfc822; {failed}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 User unknown\r\n\r\n"
        f"--B\r\nContent-Type: text/rfc822-headers\r\n\r\n{headers}\r\n--B--\r\n"
    ).encode()


async def scenario(app: Any, client: httpx.AsyncClient, db: Database, account: NewAccount, make_world: Any,
                   runner: Runner, clock: ManualClock, *, imap: tuple[int, str, str] | None,
                   deliver: Deliver, receive: Callable[[], Awaitable[None]]) -> None:
    headers = bearer(account.api_token)
    with smtp_sink() as sink:
        world = await make_world()
        await world.add_mailbox("sam@acme.test", smtp_port=sink.port, imap=imap)
        await world.add_step("Question for {{company}}", "Hi {{first_name}},\nare you the right person?")
        await world.add_step("", "Hi {{first_name}}, any thoughts?", delay_days=3)
        names = ["ann", "bob", "cat", "dan"]
        people = {n: await world.add_contact(f"{n}@globex.test", first_name=n.title(), company="Globex")
                  for n in names}
        await world.start()
        await runner.run_until_idle()
        assert sorted(r.recipients[0] for r in sink.received) == [f"{n}@globex.test" for n in names]
        first = {r.recipients[0].split("@")[0]: r.message for r in sink.received}

        await deliver(reply("sam@acme.test", first["ann"], "Ann <ann@globex.test>",
                            "Yes, I am. Let's talk on Thursday."))
        await deliver(reply("sam@acme.test", first["bob"], "Bob <bob@globex.test>",
                            "I am out of the office until Monday with limited access to email.",
                            Auto_Submitted="auto-replied"))
        await deliver(dsn("sam@acme.test", first["cat"], "cat@globex.test"))
        await deliver(b"From: news@elsewhere.test\r\nTo: sam@acme.test\r\nSubject: Newsletter\r\n"
                      b"Message-ID: <n1@elsewhere.test>\r\n\r\nUnrelated.\r\n")
        await receive()
        status = {n: (await world.enrollment(e)).status for n, e in people.items()}
        assert status == {"ann": "REPLIED", "bob": "AUTOREPLIED", "cat": "BOUNCED", "dan": "OK"}

        clock.advance(timedelta(days=3, seconds=1))
        await runner.run_until_idle()
        second = sink.received[4:]
        assert sorted(r.recipients[0] for r in second) == ["bob@globex.test", "dan@globex.test"]
        for r in second:
            original = first[r.recipients[0].split("@")[0]]
            assert r.message["In-Reply-To"] == original["Message-ID"]
            assert r.message["Subject"] == "Re: Question for Globex"

    campaign = encode(Kind.CAMPAIGN, world.campaign_id)
    r = await client.get(f"/api/v1/campaigns/{campaign}/stats", headers=headers)
    assert r.status_code == 200, r.text
    stats = r.json()["data"]
    assert {k: stats[k] for k in ("contacted", "replied", "autoreplied", "bounced", "messages_sent")} == {
        "contacted": 4, "replied": 1, "autoreplied": 1, "bounced": 1, "messages_sent": 6}
    step1, step2 = stats["campaign_steps"]
    assert (step1["sent"], step1["replied"], step1["bounced"], step2["sent"], step2["replied"]) == (4, 1, 1, 2, 0)
    r = await client.get(f"/api/v1/campaigns/{campaign}/daily-stats", headers=headers)
    assert sum(d["messages_sent"] for d in r.json()["data"]) == 6

    r = await client.get(f"/api/v1/campaigns/{campaign}/replies", headers=headers)
    assert r.status_code == 200, r.text
    replies = {m["from_email"]: m for m in r.json()["data"]}
    assert set(replies) == {"ann@globex.test", "bob@globex.test"}, "bounces are not replies"
    assert replies["ann@globex.test"]["message_body"] == "Yes, I am. Let's talk on Thursday.", "quote cut"
    thread = replies["ann@globex.test"]["thread_id"]
    r = await client.get(f"/api/v1/email-threads/{thread}", headers=headers)
    assert r.status_code == 200, r.text
    messages = r.json()["data"]["email_messages"]
    assert [m["from_email"] for m in messages] == ["sam@acme.test", "ann@globex.test"]
    r = await client.get(f"/api/v1/contacts/{encode(Kind.ENROLLMENT, people['ann'])}/replies", headers=headers)
    assert [m["from_email"] for m in r.json()["data"]] == ["ann@globex.test"]


async def test_campaign_against_smtp_and_dovecot(app: Any, client: httpx.AsyncClient, db: Database,
                                                 account: NewAccount, make_world: Any, runner: Runner,
                                                 clock: ManualClock, dovecot: Any, backend: str) -> None:
    user = f"sam-{backend}-{free_port()}@acme.test"
    dovecot.add_user(user, "imap-pass")

    async def deliver(raw: bytes) -> None:
        dovecot.deliver(user, raw)

    async def receive() -> None:
        clock.advance(imap_poller.POLL_SECONDS + 1)
        await runner.run_until_idle()

    await scenario(app, client, db, account, make_world, runner, clock, imap=(dovecot.port, user, "imap-pass"),
                   deliver=deliver, receive=receive)


async def test_campaign_through_the_inbound_smtp_listener(app: Any, client: httpx.AsyncClient, db: Database,
                                                          account: NewAccount, make_world: Any, runner: Runner,
                                                          clock: ManualClock) -> None:
    port = free_port()
    server = await inbound_smtp.start(app.state.db, port, host="127.0.0.1")
    try:
        async def deliver(raw: bytes) -> None:
            await aiosmtplib.send(raw, sender="someone@globex.test", recipients=["sam@acme.test"],
                                  hostname="127.0.0.1", port=port)

        async def receive() -> None:
            await runner.run_until_idle()

        await scenario(app, client, db, account, make_world, runner, clock, imap=None, deliver=deliver,
                       receive=receive)
    finally:
        await inbound_smtp.stop(server)
