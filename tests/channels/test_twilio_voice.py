"""Twilio's Calls API adapter against the fake, and signed call status callbacks through the app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tidings.channels import twilio_signature
from tidings.channels.base import OutboundMessage
from tidings.channels.registry import build_provider
from tidings.channels.voice.twilio import TwilioVoiceProvider
from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Event, Job, Message
from tidings.engine.runner import Runner
from tidings.tenancy.service import NewAccount

from fakes.twilio import FakeTwilio
from helpers import basic

CALLBACK = "http://tidings.test/inbound/voice/twilio"
EXAMPLE = {"to": ["34666666666"], "message": "Esto es un test de mensaje de voz", "gender": "F", "language": "es_ES"}


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as server:
        yield server


def test_signature_is_twilios_documented_example() -> None:
    fields = [("CallSid", "CA1234567890ABCDE"), ("Caller", "+12349013030"), ("Digits", "1234"),
              ("From", "+12349013030"), ("To", "+18005551212")]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature.compute("12345", url, fields) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert twilio_signature.valid("12345", url, list(reversed(fields)), "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not twilio_signature.valid("12345", url, fields[:-1], "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not twilio_signature.valid("12345", url, fields, None)


async def test_calls_api_wire_format(twilio: FakeTwilio) -> None:
    provider = build_provider("voice", twilio.url(**{"from": "%2B34911222333"}))
    assert isinstance(provider, TwilioVoiceProvider)
    try:
        said = await provider.send(OutboundMessage("voice", "", "34666555444", body="Hola <b> & adiós", options={
            "language": "es_ES", "gender": "M", "amd": True, "status_callback": CALLBACK}))
        played = await provider.send(OutboundMessage("voice", "34911000000", "34666555444", options={
            "audio_url": "http://tidings.test/audio/x.mp3", "language": "arb", "gender": "M"}))
        female_only = await provider.send(OutboundMessage("voice", "", "34666555444", body="x",
                                                          options={"language": "arb", "gender": "M"}))
    finally:
        await provider.close()
    assert said.accepted and played.accepted and female_only.accepted and said.provider_id == twilio.calls[0]["sid"]
    first, second, third = twilio.calls
    assert {k: first[k] for k in ("To", "From", "Twiml", "StatusCallback", "StatusCallbackEvent",
                                  "MachineDetection")} == {
        "To": "+34666555444", "From": "+34911222333",
        "Twiml": '<Response><Say language="es-ES" voice="Polly.Enrique">Hola &lt;b&gt; &amp; adiós</Say></Response>',
        "StatusCallback": CALLBACK, "StatusCallbackEvent": ["initiated", "ringing", "answered", "completed"],
        "MachineDetection": "Enable"}
    assert second["Twiml"] == "<Response><Play>http://tidings.test/audio/x.mp3</Play></Response>"
    assert second["From"] == "+34911000000" and "MachineDetection" not in second
    assert 'voice="Polly.Zeina"' in third["Twiml"], "a female-only language keeps its female voice"


async def test_refusals_and_missing_caller(twilio: FakeTwilio) -> None:
    twilio.refuse = {"+34600000001": (400, 21215, "Geo Permission")}
    provider = build_provider("voice", twilio.url())
    try:
        no_caller = await provider.send(OutboundMessage("voice", "", "34666555444", body="x"))
        refused = await provider.send(OutboundMessage("voice", "34911000000", "34600000001", body="x"))
    finally:
        await provider.close()
    assert not no_caller.accepted and no_caller.permanent and no_caller.code == "caller"
    assert not refused.accepted and refused.permanent and refused.code == "21215"


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


async def _events(db: Database) -> list[tuple[int, str, dict[str, Any]]]:
    async with db.sessions() as s:
        return [(e.message_id, e.kind, e.details) for e in
                (await s.execute(select(Event).order_by(Event.id))).scalars()]


async def test_signed_callbacks_drive_delivery_retries_and_amd(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner,
        clock: ManualClock, twilio: FakeTwilio) -> None:
    app.state.providers.set("voice", build_provider("voice", twilio.url(**{"from": "%2B34911222333"})))
    twilio.call_outcomes = {"+34666666666": ["answered"], "+34666000222": ["no-answer", "answered"],
                            "+34666000333": ["machine"]}
    r = await client.post("/api/rest/voice", headers=auth,
                          json={**EXAMPLE, "to": ["34666666666", "34666000222"], "retries": 1})
    assert r.status_code == 202
    r = await client.post("/api/rest/voice", headers=auth, json={**EXAMPLE, "to": ["34666000333"], "amd": True})
    assert r.status_code == 202
    await runner.run_until_idle()
    assert [c["To"] for c in twilio.calls] == ["+34666666666", "+34666000222", "+34666000333"]
    assert twilio.calls[0]["StatusCallback"] == CALLBACK
    assert set(await twilio.play(client, duration=61)) == {204}
    await runner.run_until_idle()
    assert twilio.hangups == [twilio.calls[2]["sid"]], "an answering machine with AMD is hung up"
    async with db.sessions() as s:
        answered, retried, machine = (await s.execute(select(Message).order_by(Message.id))).scalars().all()
    assert answered.status == "delivered" and answered.cost == 0
    assert retried.status == "queued" and machine.status == "undelivered" and machine.error_code == "machine"
    delivered = [d for mid, k, d in await _events(db) if k == "delivered"]
    assert delivered == [{"duration": 61}]
    clock.advance(timedelta(minutes=10))
    await runner.run_until_idle()
    assert len(twilio.calls) == 4 and twilio.calls[3]["To"] == "+34666000222"
    assert set(await twilio.play(client)) == {204}
    async with db.sessions() as s:
        retried_now = await s.get(Message, retried.id)
    assert retried_now is not None and retried_now.status == "delivered"
    assert retried_now.external_id == twilio.calls[3]["sid"]


async def test_unsigned_or_forged_callbacks_are_refused(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner,
        twilio: FakeTwilio) -> None:
    assert (await client.post("/inbound/voice/twilio", data={"CallSid": "CA1", "CallStatus": "completed"})
            ).status_code == 404, "no Twilio voice provider configured: nobody was given this URL"
    app.state.providers.set("voice", build_provider("voice", twilio.url(**{"from": "%2B34911222333"})))
    await client.post("/api/rest/voice", headers=auth, json=EXAMPLE)
    await runner.run_until_idle()
    sid = twilio.calls[0]["sid"]
    fields = {"CallSid": sid, "CallStatus": "completed", "CallDuration": "30"}
    assert (await client.post(CALLBACK, data=fields)).status_code == 403
    other = twilio.sign(CALLBACK, {**fields, "CallDuration": "31"})
    assert (await client.post(CALLBACK, data=fields, headers={"X-Twilio-Signature": other})).status_code == 403
    wrong_key = FakeTwilio(token="another-token").sign(CALLBACK, fields)
    assert (await client.post(CALLBACK, data=fields, headers={"X-Twilio-Signature": wrong_key})).status_code == 403
    assert [k for _, k, _ in await _events(db)] == ["sent"], "nothing recorded from a refused callback"
    assert (await twilio.post_signed(client, CALLBACK, {"CallSid": sid, "CallStatus": "exploded"})).status_code == 422
    # A signed status of a call not recorded yet waits as a job.
    assert (await twilio.post_signed(client, CALLBACK, {"CallSid": "CAlater", "CallStatus": "busy"})
            ).status_code == 204
    async with db.sessions() as s:
        job = (await s.execute(select(Job).where(Job.kind == "voice.call_status"))).scalar_one()
    assert job.payload["updates"][0]["provider_id"] == "CAlater"
    assert (await twilio.post_signed(client, CALLBACK, fields)).status_code == 204
    assert [k for _, k, _ in await _events(db)] == ["sent", "delivered"]


async def test_own_text_to_speech_plays_the_rendered_wav(twilio: FakeTwilio) -> None:
    provider = build_provider("voice", twilio.url(**{"from": "%2B34911222333", "tts": "espeak"}))
    try:
        result = await provider.send(OutboundMessage("voice", "", "34666555444", body="Hola", options={
            "language": "es_ES", "gender": "F", "tts_url": "http://tidings.test/audio/tts/t.wav"}))
    finally:
        await provider.close()
    assert result.accepted
    assert twilio.calls[0]["Twiml"] == "<Response><Play>http://tidings.test/audio/tts/t.wav</Play></Response>"
