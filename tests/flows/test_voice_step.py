"""The omnichannel Voice step is a call on the voice channel: the same provider, callbacks and outcomes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tidings.channels.registry import build_provider
from tidings.engine.runner import Runner
from tidings.tenancy.service import NewAccount

from fakes.twilio import FakeTwilio
from helpers import wavy

MT = {"type": "MT", "messageText": "Order {{order}} shipped"}
VOICE = {"type": "Voice", "ttsMessage": "Your order {{order}} has shipped"}


@pytest.fixture
async def twilio(app: Any) -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as server:
        app.state.providers.set("voice", build_provider("voice", server.url(**{"from": "%2B34911222333"})))
        app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=undelivered"))
        yield server


async def _run(client: httpx.AsyncClient, account: NewAccount, runner: Runner, twilio: FakeTwilio,
               outcome: str) -> dict[str, Any]:
    auth = wavy(account.username, account.api_token)
    twilio.call_outcomes = {"+34666555444": [outcome]}
    r = await client.post("/v1/omni/send", headers=auth, json={
        "contacts": [{"phone": "34666555444", "contactInfo": {"order": "A-17"}}],
        "template": {"steps": [MT, VOICE]}})
    assert r.status_code == 200, r.text
    await runner.run_until_idle()
    await twilio.play(client)
    await runner.run_until_idle()
    view = await client.get(f"/v1/omni/{r.json()['id']}", headers=auth)
    [contact] = view.json()["contacts"]
    return contact  # type: ignore[no-any-return]


async def test_voice_step_calls_through_twilio_and_an_answer_delivers_it(
        client: httpx.AsyncClient, account: NewAccount, runner: Runner, twilio: FakeTwilio) -> None:
    contact = await _run(client, account, runner, twilio, "answered")
    [call] = twilio.calls
    assert call["From"] == "+34911222333", "the step's default sender name leaves the provider's caller"
    assert call["Twiml"] == ('<Response><Say language="pt-BR" voice="Polly.Camila">Your order A-17 has shipped'
                             "</Say></Response>")
    assert call["StatusCallback"] == "http://tidings.test/inbound/voice/twilio"
    assert contact["status"] == "DELIVERED"
    assert [s["status"] for s in contact["steps"]] == ["FAILED", "DELIVERED"]


async def test_an_unanswered_voice_step_fails_the_contact(
        client: httpx.AsyncClient, account: NewAccount, runner: Runner, twilio: FakeTwilio) -> None:
    contact = await _run(client, account, runner, twilio, "busy")
    assert contact["status"] == "FAILED"
    assert contact["steps"][1]["reason"] == "undelivered (busy): not answered (busy)"
