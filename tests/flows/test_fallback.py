"""Fallback flows on the shared pipeline: a real SMTP relay for email, sandbox SMS and voice providers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tidings.channels.registry import build_provider
from tidings.channels.sandbox import SandboxProvider
from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Event, Message
from tidings.engine.runner import Runner
from tidings.messaging import senders
from tidings.tenancy.service import NewAccount

from helpers import wavy
from smtp_sink import smtp_sink

EMAIL = {"type": "Email", "subject": "Your order, {{emailName}}", "fromEmail": "orders@acme.test",
         "emailHTML": "<p>Hello {{emailName}}, your order {{order}} shipped.</p>"}
MT = {"type": "MT", "messageText": "Order {{order}} shipped", "destinationField": "phone"}
VOICE = {"type": "Voice", "ttsMessage": "Your order {{order}} has shipped"}
CONTACT = {"phone": 34666555444, "email": "bob@example.test", "emailName": "Bob", "correlationId": "c-1",
           "contactInfo": {"order": "A-17"}}


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return wavy(account.username, account.api_token)


@pytest.fixture
async def verified(db: Database, account: NewAccount) -> None:
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "orders@acme.test", "Orders")


@pytest.fixture
def providers(app: Any) -> dict[str, SandboxProvider]:
    made = {"sms": build_provider("sms", "sandbox://?delivery=delivered&delay=5s"),
            "voice": build_provider("voice", "sandbox://?delivery=delivered&delay=30s")}
    for channel, provider in made.items():
        app.state.providers.set(channel, provider)
    return made  # type: ignore[return-value]


async def _start(client: httpx.AsyncClient, auth: dict[str, str], *steps: dict[str, Any],
                 contact: dict[str, Any] | None = None) -> dict[str, Any]:
    r = await client.post("/v1/omni/send", headers=auth, json={
        "contacts": [contact or CONTACT], "template": {"campaignAlias": "Shipping", "steps": list(steps)}})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _view(client: httpx.AsyncClient, auth: dict[str, str], public_id: str) -> dict[str, Any]:
    r = await client.get(f"/v1/omni/{public_id}", headers=auth)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _messages(db: Database) -> list[tuple[str, str, list[str]]]:
    """(channel, recipient, event kinds) of every message, in order."""
    async with db.sessions() as s:
        rows = list((await s.execute(select(Message).order_by(Message.id))).scalars())
        out = []
        for m in rows:
            kinds = (await s.execute(select(Event.kind).where(Event.message_id == m.id).order_by(Event.id))).scalars()
            out.append((m.channel, m.recipient, list(kinds)))
    return out


async def test_email_refused_by_the_relay_falls_back_to_sms_and_stops_when_it_is_delivered(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], verified: None, db: Database, runner: Runner,
        clock: ManualClock, providers: dict[str, SandboxProvider]) -> None:
    with smtp_sink() as sink:
        sink.handler.refuse = {"bob@example.test": "550 5.1.1 no such user"}
        app.state.providers.set("email", build_provider("email", sink.url()))
        started = await _start(client, auth, EMAIL, MT, VOICE)
        await runner.run_until_idle()
        clock.advance(6)
        await runner.run_until_idle()
        clock.advance(timedelta(hours=1))  # long past every timeout: nothing more may happen
        await runner.run_until_idle()
    assert sink.received == []
    assert await _messages(db) == [("email", "bob@example.test", ["bounced"]),
                                   ("sms", "34666555444", ["sent", "delivered"])]
    [sms] = providers["sms"].outbox
    assert sms.body == "Order A-17 shipped" and providers["voice"].outbox == []

    view = await _view(client, auth, started["id"])
    assert view["status"] == "FINISHED" and view["campaignAlias"] == "Shipping"
    [contact] = view["contacts"]
    assert contact["id"] == started["messages"][0]["id"] and contact["correlationId"] == "c-1"
    assert contact["status"] == "DELIVERED"
    email, mt, voice = contact["steps"]
    assert (email["type"], email["channel"], email["status"]) == ("Email", "email", "FAILED")
    assert email["reason"] == "bounced (550): 5.1.1 no such user" and email["endedAt"] is not None
    assert (mt["channel"], mt["status"], mt["destination"], mt["reason"]) == ("sms", "DELIVERED", "34666555444", None)
    assert mt["endedAt"] - mt["startedAt"] == 6
    assert voice["status"] == "SKIPPED" and voice["startedAt"] is None
    assert voice["reason"] == "not needed: step 2 (MT) was delivered"


async def test_delivered_email_never_runs_sms_or_voice(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], verified: None, db: Database, runner: Runner,
        clock: ManualClock, providers: dict[str, SandboxProvider]) -> None:
    with smtp_sink() as sink:
        app.state.providers.set("email", build_provider("email", sink.url()))
        started = await _start(client, auth, EMAIL, MT, VOICE)
        await runner.run_until_idle()
        clock.advance(timedelta(hours=1))
        await runner.run_until_idle()
    [mail] = sink.received
    assert mail.message["Subject"] == "Your order, Bob" and mail.message["From"] == "orders@acme.test"
    assert "your order A-17 shipped" in mail.message.get_body(("html",)).get_content()
    assert await _messages(db) == [("email", "bob@example.test", ["sent"])]
    assert providers["sms"].outbox == [] and providers["voice"].outbox == []
    [contact] = (await _view(client, auth, started["messages"][0]["id"]))["contacts"]
    assert contact["status"] == "DELIVERED"
    assert [s["status"] for s in contact["steps"]] == ["DELIVERED", "SKIPPED", "SKIPPED"]


async def test_voice_step_runs_through_the_voice_channel(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner, clock: ManualClock,
        providers: dict[str, SandboxProvider]) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=undelivered&delay=5s"))
    started = await _start(client, auth, MT, {**VOICE, "from": "34910000000"},
                           contact={"phone": "+34 666 55 54 44", "correlationId": 42})
    await runner.run_until_idle()
    clock.advance(6)
    await runner.run_until_idle()
    clock.advance(30)
    await runner.run_until_idle()
    assert await _messages(db) == [("sms", "34666555444", ["sent", "undelivered"]),
                                   ("voice", "34666555444", ["sent", "delivered"])]
    [call] = providers["voice"].outbox
    assert call.channel == "voice" and call.body == "Your order  has shipped" and call.sender == "34910000000"
    [contact] = (await _view(client, auth, started["id"]))["contacts"]
    assert contact["correlationId"] == "42" and contact["status"] == "DELIVERED"
    assert [(s["status"], s["reason"]) for s in contact["steps"]] == [("FAILED", "undelivered"), ("DELIVERED", None)]


async def test_a_step_not_delivered_in_time_is_left_and_a_late_outcome_changes_nothing(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner, clock: ManualClock,
        providers: dict[str, SandboxProvider]) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=20m"))
    started = await _start(client, auth, MT, VOICE)
    await runner.run_until_idle()
    clock.advance(timedelta(minutes=10, seconds=1))  # the default TIDINGS_OMNI_STEP_TIMEOUT is 600 s
    await runner.run_until_idle()
    assert len(providers["voice"].outbox) == 1
    clock.advance(timedelta(minutes=10))  # the SMS report arrives late; the flow already moved on
    await runner.run_until_idle()
    assert [kinds for _, _, kinds in await _messages(db)] == [["sent", "delivered"], ["sent", "delivered"]]
    [contact] = (await _view(client, auth, started["id"]))["contacts"]
    assert [(s["status"], s["reason"]) for s in contact["steps"]] == [
        ("FAILED", "timeout: not delivered within 600 s"), ("DELIVERED", None)]


async def test_a_timed_out_step_that_was_never_sent_is_stopped(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], verified: None, db: Database, runner: Runner,
        clock: ManualClock, providers: dict[str, SandboxProvider]) -> None:
    with smtp_sink() as sink:
        sink.handler.refuse = {"bob@example.test": "451 4.3.0 try again later"}
        app.state.providers.set("email", build_provider("email", sink.url()))
        await _start(client, auth, {**EMAIL, "timeoutSeconds": 90}, MT)
        await runner.run_until_idle()
        clock.advance(91)
        await runner.run_until_idle()
        clock.advance(6)
        await runner.run_until_idle()
        sink.handler.refuse = {}
        clock.advance(timedelta(hours=2))
        await runner.run_until_idle()
    assert sink.received == [], "the email retry was cancelled when its step timed out"
    assert await _messages(db) == [("email", "bob@example.test", ["deferred", "deferred", "expired"]),
                                   ("sms", "34666555444", ["sent", "delivered"])]


async def test_every_step_failing_fails_the_contact(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner,
        providers: dict[str, SandboxProvider]) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?refuse=1"))
    app.state.providers.set("voice", build_provider("voice", "sandbox://?refuse=1"))
    started = await _start(client, auth, MT, VOICE,
                           contact={"phone": "34666555444"})
    await runner.run_until_idle()
    view = await _view(client, auth, started["id"])
    assert view["status"] == "FINISHED" and view["finishedAt"] is not None
    [contact] = view["contacts"]
    assert contact["status"] == "FAILED" and len(started["messages"][0]["correlationId"]) == 32
    assert [s["reason"] for s in contact["steps"]] == ["rejected (550): sandbox refused the message"] * 2
