"""Account event notifications: a signed form POST per event to a real local receiver, retries, filter, endpoints.

The receiver is a real HTTP server on 127.0.0.1 (tests.helpers.Receiver); the settings fixture allows
private targets, as an operator running everything on one host would.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from urllib.parse import quote, unquote, urlencode

import httpx
import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from structlog.testing import capture_logs

from tidings.channels.registry import build_provider
from tidings.core.clock import ManualClock
from tidings.core.errors import Forbidden
from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Account, Contact, Job, Message, Sending
from tidings.engine.runner import Runner
from tidings.logging import HOST_ONLY_URLS, configure
from tidings.messaging import event_webhooks, events, outbox, senders, tracking
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

from helpers import Receiver, basic, public_id, row_id
from smtp_sink import smtp_sink

URL = "/api/rest/account/notifications"
FIELDS = {"id", "channel", "contactId", "campaignId", "campaignName", "event", "extra", "eventDate"}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


async def _hook(client: httpx.AsyncClient, auth: dict[str, str], url: str, events_: list[str] | None = None) -> str:
    """Set the account's URL (and filter); returns the signing secret."""
    body: dict[str, Any] = {"url": url} if events_ is None else {"url": url, "events": events_}
    r = await client.put(URL, json=body, headers=auth)
    assert r.status_code == 200, r.text
    secret: str = r.json()["data"]["secret"]
    return secret


async def _sms(client: httpx.AsyncClient, auth: dict[str, str], **over: Any) -> dict[str, Any]:
    r = await client.post("/api/rest/sms", json={"to": ["34666555444"], "from": "SAMPLE", "message": "hi", **over},
                          headers=auth)
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


def _verify(secret: str, header: str, body: bytes) -> bool:
    """What a receiver does: recompute the HMAC of "<t>.<body>" and compare in constant time."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    expected = hmac.new(secret.encode(), parts["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


async def test_sms_sent_and_delivered_are_posted_with_the_documented_fields(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver, runner: Runner,
        clock: ManualClock, db: Database, account: NewAccount) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=60s"))
    async with db.transaction() as s:
        s.add(Contact(account_id=account.account_id, phone="34666555444", first_name="Ana", in_database=True))
    secret = await _hook(client, auth, f"{receiver.base}/hook")
    sent = await _sms(client, auth, message="Hi {name}", campaignName="Promo")
    await runner.run_until_idle()
    clock.advance(61)
    await runner.run_until_idle()

    first, second = receiver.requests
    assert [first.method, first.path] == ["POST", "/hook"]
    assert first.headers["Content-Type"] == "application/x-www-form-urlencoded"
    form = second.form()
    assert set(form) == FIELDS, "no smtpResponse for SMS"
    async with db.sessions() as s:
        contact_id = public_id(Kind.CONTACT, (await s.execute(select(Contact.id))).scalar_one())
    assert form == {"id": sent["result"][0]["id"], "channel": "sms", "contactId": str(contact_id),
                    "campaignId": str(sent["campaignId"]), "campaignName": "Promo", "event": "delivered",
                    "extra": "{}", "eventDate": "2026-01-05T09:01:01+00:00"}
    assert first.form()["event"] == "sent" and first.form()["eventDate"] == "2026-01-05T09:00:00+00:00"
    for request in receiver.requests:
        header = request.headers["X-Tidings-Signature"]
        assert _verify(secret, header, request.body), "the signature verifies with the secret shown once"
        assert not _verify(secret, header, request.body + b"&x=1"), "and not for another body"
    assert second.headers["X-Tidings-Signature"].startswith(f"t={int(clock.now().timestamp())},v1=")


async def test_mailing_opened_and_clicked(app: Any, client: httpx.AsyncClient, auth: dict[str, str],
                                          receiver: Receiver, runner: Runner, db: Database,
                                          account: NewAccount) -> None:
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "info@acme.test")
    await _hook(client, auth, f"{receiver.base}/mail", ["opened", "clicked"])
    r = await client.post("/api/rest/mailing", headers=auth, json={
        "to": ["bob@example.test"], "fromEmail": "info@acme.test", "replyTo": "info@acme.test", "subject": "Hi",
        "body": '<a href="https://example.com/a?b=1&c=%C3%BC">x</a>'})
    assert r.status_code == 202, r.text
    shown = r.json()["result"][0]["id"]
    message_id = row_id(Kind.MESSAGE, shown)
    await runner.run_until_idle()
    assert receiver.requests == [], "sent and delivered are filtered out"

    public = app.state.settings.public_url
    target = "https://example.com/a?b=1&c=%C3%BC"
    assert (await client.get(tracking.open_url(public, message_id).removeprefix(public))).status_code == 200
    click = await client.get(tracking.click_url(public, message_id, target).removeprefix(public))
    assert click.status_code == 302
    await runner.run_until_idle()

    opened, clicked = receiver.forms()
    assert opened["event"] == "opened" and clicked["event"] == "clicked"
    for form in (opened, clicked):
        assert form["id"] == shown and form["channel"] == "mailing"
        assert form["campaignId"] == "0" and form["campaignName"] == "" and form["contactId"] == ""
        assert "smtpResponse" not in form
    assert json.loads(opened["extra"]) == {}
    extra = json.loads(clicked["extra"])
    assert extra == {"url": quote(target, safe="")} and unquote(extra["url"]) == target


async def test_a_hard_bounce_carries_the_smtp_response(app: Any, client: httpx.AsyncClient, auth: dict[str, str],
                                                       receiver: Receiver, runner: Runner, db: Database,
                                                       account: NewAccount) -> None:
    app.state.providers.set("email", build_provider("email", "sandbox://?refuse=1"))
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "info@acme.test")
    await _hook(client, auth, f"{receiver.base}/mail")
    r = await client.post("/api/rest/mailing", headers=auth, json={
        "to": ["bob@example.test"], "fromEmail": "info@acme.test", "replyTo": "info@acme.test", "subject": "Hi",
        "body": "<p>x</p>", "campaignName": "Spring"})
    await runner.run_until_idle()
    [form] = receiver.forms()
    assert form["event"] == "hard_bounced" and form["smtpResponse"] == "550 sandbox refused the message"
    assert form["campaignName"] == "Spring" and form["campaignId"] == str(r.json()["campaignId"])


async def test_a_relays_temporary_refusal_is_a_soft_bounce_then_delivered(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver, runner: Runner, db: Database,
        account: NewAccount, clock: ManualClock) -> None:
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "info@acme.test")
    await _hook(client, auth, f"{receiver.base}/mail", ["soft_bounced", "sent"])
    with smtp_sink() as sink:
        sink.handler.refuse = {"bob@example.test": "451 4.3.0 mailbox busy, try later"}
        app.state.providers.set("email", build_provider("email", sink.url()))
        r = await client.post("/api/rest/mailing", headers=auth, json={
            "to": ["bob@example.test"], "fromEmail": "info@acme.test", "replyTo": "info@acme.test",
            "subject": "Hi", "body": "<p>x</p>", "campaignName": "Spring"})
        await runner.run_until_idle()
        sink.handler.refuse = {}
        clock.advance(timedelta(minutes=2))
        await runner.run_until_idle()
        assert len(sink.received) == 1
    soft, sent = receiver.forms()
    assert soft["event"] == "soft_bounced" and soft["smtpResponse"] == "451 4.3.0 mailbox busy, try later"
    assert sent["event"] == "sent" and soft["id"] == sent["id"] == r.json()["result"][0]["id"]
    campaigns = (await client.get("/api/rest/campaigns", headers=auth)).json()["data"]
    [sending] = campaigns[0]["sendings"]["data"]
    assert sending["events"]["soft_bounced"] == 1 and sending["events"]["sent"] == 1


@pytest.mark.parametrize(("details", "answer"), [
    ({"code": "550", "detail": "5.1.1 <bob@x.test>: Recipient address rejected"},
     "550 5.1.1 <bob@x.test>: Recipient address rejected"),
    ({"code": "5.1.1", "detail": "smtp; 550 5.1.1 user unknown"}, "550 5.1.1 user unknown"),
    ({"code": "550", "detail": "550 no such user"}, "550 no such user"),
    ({"code": None, "detail": ""}, ""),
    ({}, ""),
])
def test_smtp_response(details: dict[str, Any], answer: str) -> None:
    assert event_webhooks.smtp_response(details) == answer


async def test_retried_until_the_receiver_answers_200(app: Any, client: httpx.AsyncClient, auth: dict[str, str],
                                                      receiver: Receiver, runner: Runner, clock: ManualClock,
                                                      db: Database) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=0s"))
    secret = await _hook(client, auth, f"{receiver.base}/hook", ["delivered"])
    receiver.statuses = [500, 500]
    await _sms(client, auth)
    await runner.run_until_idle()
    assert len(receiver.requests) == 1
    clock.advance(timedelta(seconds=59))
    await runner.run_until_idle()
    assert len(receiver.requests) == 1, "the first retry waits a minute"
    clock.advance(1)
    await runner.run_until_idle()
    assert len(receiver.requests) == 2
    clock.advance(timedelta(minutes=2))
    await runner.run_until_idle()
    assert len(receiver.requests) == 3, "the second retry two minutes after the first"
    clock.advance(timedelta(hours=1))
    await runner.run_until_idle()
    assert len(receiver.requests) == 3, "answered 200: no more calls"
    assert len({r.body for r in receiver.requests}) == 1, "the same notification each time"
    assert all(_verify(secret, r.headers["X-Tidings-Signature"], r.body) for r in receiver.requests)
    assert [r.headers["X-Tidings-Signature"].split(",")[0] for r in receiver.requests] == [
        f"t={int((clock.now() - timedelta(hours=1, minutes=d)).timestamp())}" for d in (3, 2, 0)], \
        "each attempt is signed when it is made"
    async with db.sessions() as s:
        jobs = (await s.execute(select(Job).where(Job.kind == event_webhooks.JOB_KIND).order_by(Job.id))).scalars()
        assert [j.payload["retry"] for j in jobs] == [0, 1, 2]


async def test_a_slow_receiver_holds_neither_the_database_nor_the_other_notifications(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver, runner: Runner,
        db: Database, account: NewAccount) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=3600s"))
    await _hook(client, auth, f"{receiver.base}/hook", ["sent"])
    for _ in range(3):
        await _sms(client, auth)
    receiver.hold()
    running = asyncio.create_task(runner.run_until_idle())
    for _ in range(500):  # real network I/O, not time: wait until every call has reached the receiver
        if len(receiver.requests) == 3 or running.done():
            break
        await asyncio.sleep(0.01)
    assert len(receiver.requests) == 3, "the three calls wait on the receiver together, not one after another"
    assert not running.done()

    async def write() -> None:
        async with db.transaction() as s:
            (await s.get(Account, account.account_id)).name = "Renamed while the receiver is slow"

    await asyncio.wait_for(write(), timeout=5)  # on SQLite this needs the write lock
    receiver.release()
    await asyncio.wait_for(running, timeout=30)
    async with db.sessions() as s:
        jobs = (await s.execute(select(Job).where(Job.kind == event_webhooks.JOB_KIND))).scalars().all()
    assert [j.status for j in jobs] == ["done"] * 3


async def test_the_engine_keeps_sending_while_a_receiver_hangs(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver, runner: Runner,
        db: Database) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=3600s"))
    await _hook(client, auth, f"{receiver.base}/hook", ["sent"])
    receiver.hold()
    first = row_id(Kind.MESSAGE, (await _sms(client, auth))["result"][0]["id"])
    await asyncio.wait_for(runner.tick(), timeout=5)  # sends, and starts the webhook call without waiting for it
    second = row_id(Kind.MESSAGE, (await _sms(client, auth))["result"][0]["id"])
    await asyncio.wait_for(runner.tick(), timeout=5)
    async with db.sessions() as s:
        statuses = {m.id: m.status for m in (await s.execute(select(Message))).scalars()}
    assert statuses == {first: "sent", second: "sent"}, "the hung receiver did not hold up the next send"
    receiver.release()
    await asyncio.wait_for(runner.settle(), timeout=30)
    assert sorted(f["id"] for f in receiver.forms()) == sorted(str(public_id(Kind.MESSAGE, m)) for m in (first, second))


async def test_five_retries_one_to_five_minutes_apart_then_given_up(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver, runner: Runner,
        clock: ManualClock) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=0s"))
    await _hook(client, auth, f"{receiver.base}/hook", ["delivered"])
    receiver.statuses = [500, 404, 302, 503, 500, 500, 500]
    await _sms(client, auth)
    await runner.run_until_idle()
    for retry in range(1, 6):
        clock.advance(timedelta(minutes=retry) - timedelta(seconds=1))
        await runner.run_until_idle()
        assert len(receiver.requests) == retry, f"retry {retry} waits {retry} minutes"
        clock.advance(1)
        await runner.run_until_idle()
        assert len(receiver.requests) == retry + 1
    clock.advance(timedelta(hours=1))
    await runner.run_until_idle()
    assert len(receiver.requests) == 6


async def test_filter_and_removal(app: Any, client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver,
                                  runner: Runner, clock: ManualClock) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=undelivered&delay=10s"))
    await _hook(client, auth, f"{receiver.base}/hook", ["undelivered", "expired"])
    await _sms(client, auth)
    await runner.run_until_idle()
    assert receiver.requests == [], "sent is not wanted"
    clock.advance(11)
    await runner.run_until_idle()
    assert [f["event"] for f in receiver.forms()] == ["undelivered"]

    receiver.statuses = [500]
    await _sms(client, auth)
    await runner.run_until_idle()
    clock.advance(11)
    await runner.run_until_idle()
    assert len(receiver.requests) == 2
    assert (await client.delete(URL, headers=auth)).status_code == 204
    clock.advance(timedelta(hours=1))
    await _sms(client, auth)
    await runner.run_until_idle()
    clock.advance(11)
    await runner.run_until_idle()
    assert len(receiver.requests) == 2, "after DELETE: no retry of the pending one, no new notifications"


async def test_endpoints_validate_and_never_show_the_secret(app: Any, client: httpx.AsyncClient,
                                                            auth: dict[str, str], clock: ManualClock) -> None:
    r = await client.get(URL, headers=auth)
    assert r.status_code == 200
    assert r.json() == {"data": {"url": None, "events": None, "hasSecret": False, "updatedAt": None}}

    async def refused(body: Any, code: int, status: int) -> dict[str, Any]:
        r = await client.put(URL, json=body, headers=auth)
        assert r.status_code == status, r.text
        error: dict[str, Any] = r.json()["error"]
        assert error["code"] == code
        return error

    for bad in [{}, {"url": ""}, {"url": 5}, {"url": "ftp://hooks.example.com/x"}, {"url": "hooks.example.com/x"},
                {"url": "http:///x"}, {"url": "https://hooks.example.com/a b"}, {"url": "https://hooks.example.com:99999/"},
                {"url": "https://hooks.example.com/" + "x" * 2100}]:
        error = await refused(bad, 109, 400)
        assert error["description"].startswith("Notification URL incorrect")
    await refused({"url": "https://hooks.example.com/x", "events": ["delivered", "teleported"]}, 422, 422)
    await refused({"url": "https://hooks.example.com/x", "events": "delivered"}, 422, 422)
    await refused({"url": "https://hooks.example.com/x", "events": [1]}, 422, 422)
    r = await client.put(URL, content=b"{nope", headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == 125
    r = await client.put(URL, json={"url": "https://hooks.example.com/x"}, headers=basic("nobody", "wrong"))
    assert r.status_code == 401 and r.json()["error"]["code"] == 103

    app.state.settings.outbound_allow_private = False
    try:
        for private in ["http://127.0.0.1:9/x", "http://10.0.0.8/", "http://[::1]/", "http://localhost/",
                        "http://169.254.169.254/latest", "http://2130706433/", "http://0x7f000001/",
                        "http://0177.0.0.1/", "http://127.1/", "http://[64:ff9b::7f00:1]/", "http://[2002:7f00:1::]/"]:
            await refused({"url": private}, 109, 400)
    finally:
        app.state.settings.outbound_allow_private = True

    r = await client.put(URL, json={"url": "https://hook-user:pa55word@hooks.example.com/in?x=1",
                                    "events": ["clicked", "delivered", "delivered"]}, headers=auth)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    first_secret = data.pop("secret")
    assert first_secret.startswith("whsec_") and len(first_secret) > 40
    assert data == {"url": "https://***@hooks.example.com/in?x=1", "events": ["delivered", "clicked"],
                    "hasSecret": True, "updatedAt": "2026-01-05T09:00:00+00:00"}
    r = await client.get(URL, headers=auth)
    assert r.json()["data"] == data
    assert first_secret not in r.text and "pa55word" not in r.text and "hook-user" not in r.text

    again = await _hook(client, auth, "https://hooks.example.com/other")
    assert again != first_secret, "every PUT issues a new secret"
    assert (await client.get(URL, headers=auth)).json()["data"]["events"] is None
    assert (await client.delete(URL, headers=auth)).status_code == 204
    assert (await client.get(URL, headers=auth)).json()["data"]["url"] is None
    assert (await client.delete(URL, headers=auth)).status_code == 204, "idempotent"


async def test_stored_encrypted_and_kept_beside_other_settings(client: httpx.AsyncClient, auth: dict[str, str],
                                                               db: Database, account: NewAccount) -> None:
    async with db.transaction() as s:
        row = await s.get(Account, account.account_id)
        assert row is not None
        row.settings = {"other": 1}
    secret = await _hook(client, auth, "https://u:pa55word@hooks.example.com/in")
    async with db.sessions() as s:
        row = await s.get(Account, account.account_id)
        assert row is not None
        stored = json.dumps(row.settings)
    assert row.settings["other"] == 1 and row.settings[event_webhooks.SETTINGS_KEY]["host"] == "hooks.example.com"
    assert "pa55word" not in stored and secret not in stored


async def test_another_account_sees_and_gets_nothing(app: Any, client: httpx.AsyncClient, auth: dict[str, str],
                                                     receiver: Receiver, runner: Runner, make_account: Any) -> None:
    other: NewAccount = await make_account("Other", "owner@other.test")
    other_auth = basic(other.username, other.api_password)
    await _hook(client, auth, f"{receiver.base}/mine")
    r = await client.get(URL, headers=other_auth)
    assert r.json()["data"]["url"] is None, "another account's settings are not visible"
    await _sms(client, other_auth, to=["34666555000"])
    await runner.run_until_idle()
    assert receiver.requests == [], "another account's events are not sent to this URL"
    assert (await client.delete(URL, headers=other_auth)).status_code == 204
    assert (await client.get(URL, headers=auth)).json()["data"]["url"] == f"{receiver.base}/mine"
    await _sms(client, auth)
    await runner.run_until_idle()
    assert receiver.requests and {r.path for r in receiver.requests} == {"/mine"}


async def test_voice_is_text2speech_and_other_dialects_are_left_out(client: httpx.AsyncClient, auth: dict[str, str],
                                                                    receiver: Receiver, runner: Runner, db: Database,
                                                                    account: NewAccount) -> None:
    await _hook(client, auth, f"{receiver.base}/hook")
    async with db.transaction() as s:
        ids = []
        for source, channel in (("rest", "voice"), ("email_v1", "email"), ("omni_v1", "sms")):
            sending = Sending(account_id=account.account_id, channel=channel, source=source)
            s.add(sending)
            await s.flush()
            message = await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel=channel,
                                                               sender="x", recipient="34666555444", sending=sending))
            message.due_at = None
            await events.record(s, message, "delivered")
            ids.append(message.id)
    await runner.run_until_idle()
    [form] = receiver.forms()
    assert form["channel"] == "text2speech" and form["event"] == "delivered"
    assert form["id"] == str(public_id(Kind.MESSAGE, ids[0]))


async def test_private_target_refused_at_delivery_time_and_nothing_secret_is_logged(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver, runner: Runner,
        clock: ManualClock, db: Database) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=0s"))
    host_url = f"http://user:pa55word@localhost:{receiver.port}/hook"
    secret = await _hook(client, auth, host_url, ["delivered"])
    app.state.settings.outbound_allow_private = False
    try:
        with capture_logs() as logs:
            await _sms(client, auth)
            await runner.run_until_idle()
            clock.advance(timedelta(hours=1))
            await runner.run_until_idle()
    finally:
        app.state.settings.outbound_allow_private = True
    assert receiver.requests == [], "localhost resolves to 127.0.0.1: refused when connecting"
    [refusal] = [e for e in logs if e["event"] == "event notification refused"]
    assert refusal["host"] == "localhost"
    text = repr(logs)
    assert "pa55word" not in text and secret not in text and host_url not in text
    async with db.sessions() as s:
        jobs = (await s.execute(select(Job).where(Job.kind == event_webhooks.JOB_KIND))).scalars().all()
    assert [j.payload["retry"] for j in jobs] == [0], "a refused URL is not retried"
    assert "pa55word" not in json.dumps([j.payload for j in jobs]), "the job carries no URL"

    receiver.statuses = [500] * 6
    with capture_logs() as logs:
        await _sms(client, auth)
        await runner.run_until_idle()
        for minutes in range(1, 6):
            clock.advance(timedelta(minutes=minutes))
            await runner.run_until_idle()
    assert len(receiver.requests) == 6 and receiver.requests[0].headers["Authorization"].startswith("Basic ")
    [gave_up] = [e for e in logs if e["event"] == "notification given up"]
    assert gave_up["host"] == "localhost" and "pa55word" not in repr(logs) and secret not in repr(logs)


async def test_jobs_are_queued_with_the_event(db: Database, account: NewAccount, client: httpx.AsyncClient,
                                              auth: dict[str, str], receiver: Receiver) -> None:
    await _hook(client, auth, f"{receiver.base}/hook")
    async with db.sessions() as s:
        sending = Sending(account_id=account.account_id, channel="sms", source="rest")
        s.add(sending)
        await s.flush()
        message = await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel="sms",
                                                           sender="x", recipient="34666555444", sending=sending))
        await events.record(s, message, "sent")
        await s.rollback()
    async with db.sessions() as s:
        assert (await s.execute(select(Job).where(Job.kind == event_webhooks.JOB_KIND))).first() is None
        assert (await s.execute(select(Message))).first() is None, "no event, no notification"


async def test_a_clients_user_cannot_see_or_change_the_account_setting(db: Database, account: NewAccount) -> None:
    client_user = AuthSubject(account_id=account.account_id, user_id=1, client_id=1)
    async with db.transaction() as s:
        with pytest.raises(Forbidden):
            await event_webhooks.show(s, client_user)
        with pytest.raises(Forbidden):
            await event_webhooks.configure(s, client_user, "https://hooks.example.com/", None, allow_private=False)
        with pytest.raises(Forbidden):
            await event_webhooks.clear(s, client_user)


async def test_calls_leave_no_secret_of_the_url_in_the_logs(app: Any, client: httpx.AsyncClient, auth: dict[str, str],
                                                             receiver: Receiver, runner: Runner,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    configure("info")  # what `tidings serve` and `tidings worker` do
    structlog.reset_defaults()
    try:
        secret = await _hook(client, auth, f"http://user:pa55word@127.0.0.1:{receiver.port}/hook?token=t0ken")
        with caplog.at_level(logging.DEBUG):
            await _sms(client, auth)
            await runner.run_until_idle()
    finally:
        logging.getLogger("httpx").removeFilter(HOST_ONLY_URLS)
    assert [r.path for r in receiver.requests] == ["/hook?token=t0ken"] * 2, "sent, delivered"
    assert "pa55word" not in caplog.text and "t0ken" not in caplog.text and secret not in caplog.text


async def test_a_repeated_delivery_is_notified_once_but_every_open_is(client: httpx.AsyncClient,
                                                                      auth: dict[str, str], receiver: Receiver,
                                                                      runner: Runner, db: Database,
                                                                      account: NewAccount) -> None:
    await _hook(client, auth, f"{receiver.base}/hook")
    async with db.transaction() as s:
        sending = Sending(account_id=account.account_id, channel="email", source="rest")
        s.add(sending)
        await s.flush()
        message = await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel="email",
                                                           sender="a@acme.test", recipient="b@x.test",
                                                           sending=sending))
        message.due_at = None
        for kind in ("delivered", "delivered", "opened", "opened"):
            await events.record(s, message, kind)
    await runner.run_until_idle()
    # Other messages' POSTs run concurrently; one message's arrive in the order its events happened.
    assert [f["event"] for f in receiver.forms()] == ["delivered", "opened", "opened"]


@given(st.dictionaries(st.text(), st.text(), max_size=10))
def test_the_form_body_is_what_urlencode_writes(fields: dict[str, str]) -> None:
    assert event_webhooks.form_body(fields) == urlencode(fields).encode()
