"""POST /api/rest/voice and /voiceAudio on the sandbox: documented shapes and codes, retries, expiry, charging."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tidings.channels.registry import build_provider
from tidings.config import Settings
from tidings.core import ids
from tidings.core.clock import ManualClock
from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Account, Campaign, Event, Job, Message, Sending, VoiceAudio
from tidings.engine.runner import Runner
from tidings.messaging import blacklist, event_webhooks
from tidings.messaging.voice import callers
from tidings.tenancy.service import NewAccount

from helpers import Receiver, basic

DOC_EXAMPLE = {"to": ["34666666666"], "message": "Esto es un test de mensaje de voz", "gender": "F",
               "language": "es_ES"}
RATE = Decimal("0.05")


@pytest.fixture(autouse=True)
def voice_rate(settings: Settings) -> None:
    settings.voice_price_per_minute = RATE


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


def sandbox(app: Any, query: str = "") -> Any:
    provider = build_provider("voice", "sandbox://" + query)
    app.state.providers.set("voice", provider)
    return provider


async def _messages(db: Database) -> list[Message]:
    async with db.sessions() as s:
        return list((await s.execute(select(Message).order_by(Message.id))).scalars())


async def _events(db: Database, message_id: int) -> list[tuple[str, dict[str, Any]]]:
    async with db.sessions() as s:
        rows = await s.execute(select(Event).where(Event.message_id == message_id).order_by(Event.id))
        return [(e.kind, e.details) for e in rows.scalars()]


async def _count(db: Database, model: Any) -> int:
    async with db.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def test_documented_example_is_called_answered_charged_and_reported(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner,
        clock: ManualClock, account: NewAccount) -> None:
    provider = sandbox(app, "?outcome=answered&duration=75&delay=20s")
    r = await client.post("/api/rest/voice", json={**DOC_EXAMPLE, "campaignName": "Calls", "tags": ["a"]},
                          headers=auth)
    assert r.status_code == 202, r.text
    body = r.json()
    [item] = body["result"]
    assert item == {"accepted": True, "to": "34666666666", "id": item["id"], "scheduledAt": None, "expiresAt": None}
    [message] = await _messages(db)
    assert ids.from_int(Kind.MESSAGE, item["id"]) == message.id, "a public id, not the primary key"
    assert ids.from_int(Kind.SENDING, body["sendingId"]) == message.sending_id
    assert ids.from_int(Kind.CAMPAIGN, body["campaignId"]) == message.campaign_id
    await runner.run_until_idle()
    [call] = provider.outbox
    assert call.body == DOC_EXAMPLE["message"] and call.recipient == "34666666666"
    assert call.options["language"] == "es_ES" and call.options["gender"] == "F"
    assert call.options["status_callback"] == "http://tidings.test/inbound/voice/twilio"
    assert (await _events(db, message.id))[0][0] == "sent"
    clock.advance(20)
    await runner.run_until_idle()
    events = await _events(db, message.id)
    assert [k for k, _ in events] == ["sent", "delivered"] and events[1][1]["duration"] == 75
    async with db.sessions() as s:
        stored = await s.get(Message, message.id)
        sending = await s.get(Sending, message.sending_id)
        owner = await s.get(Account, account.account_id)
        campaign = await s.get(Campaign, message.campaign_id)
    assert stored is not None and stored.cost == RATE * 2, "75 s are two started minutes"
    assert sending is not None and sending.cost == RATE * 2 and sending.channel == "voice"
    assert owner is not None and owner.balance == -RATE * 2
    assert campaign is not None and campaign.name == "Calls" and campaign.tags == ["a"]
    # The events report has the document's voice columns, with the call's duration.
    sending = ids.to_int(Kind.SENDING, message.sending_id)
    report = await client.get(f"/api/rest/sendings/{sending}/reports/events", headers=auth)
    lines = report.text.strip().splitlines()
    assert lines[0].split(",")[9] == "callDurationSeconds"
    assert [line.split(",")[4] for line in lines[1:]] == ["sent", "delivered"] and lines[2].split(",")[9] == "75"
    # The campaigns list names the channel as the document does.
    listed = (await client.get("/api/rest/campaigns", headers=auth)).json()["data"]
    assert listed[0]["sendings"]["data"][0]["channel"] == "text2speech"
    # The text spoken by espeak-ng is at an unguessable URL (a preview, or for providers that play audio).
    wav = await client.get(call.options["tts_url"].removeprefix("http://tidings.test"))
    assert wav.status_code == 200 and wav.headers["content-type"] == "audio/wav"
    assert wav.content[:4] == b"RIFF" and wav.content[8:12] == b"WAVE" and len(wav.content) > 10_000
    assert (await client.get("/audio/tts/guess.wav")).status_code == 404


async def test_refusals_use_the_documented_codes_and_write_nothing(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, make_account: Any) -> None:
    other = await make_account("Other", "other@other.test")
    async with db.transaction() as s:
        await callers.add(s, other.account_id, "ES", "34911000000")

    async def refused(code: int, status: int = 400, **over: Any) -> None:
        body = {k: v for k, v in {**DOC_EXAMPLE, **over}.items() if v is not None}
        r = await client.post("/api/rest/voice", json=body, headers=auth)
        assert r.status_code == status, r.text
        assert r.json()["error"]["code"] == code, r.text

    await refused(102, to=["34"])
    await refused(102, to=None)
    await refused(104, message=None)
    await refused(105, message="x" * 501)
    await refused(130, language="xx_XX")
    await refused(130, language=None)
    await refused(131, gender="X")
    await refused(131, gender=None)
    for female_only in ("cmn_CN", "arb", "hi_IN"):
        await refused(131, language=female_only, gender="M")
    await refused(132, callers={"ES": "34911000000"})  # another account's caller
    await refused(132, callers={"Spain": "34911000000"})
    await refused(132, callers=["34911000000"])
    await refused(108, scheduleDate="tomorrow")
    await refused(119, expirationDate="20000101000000")
    await refused(126, tags=["a"])
    await refused(422, 422, retries=6)
    await refused(422, 422, amd="perhaps")
    await refused(109, notificationUrl="ftp://x")
    r = await client.post("/api/rest/voice", content=b"{", headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == 125
    assert await _count(db, Message) == 0 and await _count(db, Sending) == 0
    # A male voice where the language has one.
    assert (await client.post("/api/rest/voice", json={**DOC_EXAMPLE, "gender": "M"}, headers=auth)).status_code == 202


async def test_a_notification_url_that_can_never_be_called_is_refused_with_109(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    app.state.settings.outbound_allow_private = False
    try:
        for url in ("http://127.0.0.1/n", "http://2130706433/n", "gopher://example.com/n"):
            body = {**DOC_EXAMPLE, "notificationUrl": url}
            r = await client.post("/api/rest/voice", json={k: v for k, v in body.items() if v is not None},
                                  headers=auth)
            assert r.status_code == 400 and r.json()["error"]["code"] == 109, (url, r.text)
    finally:
        app.state.settings.outbound_allow_private = True


async def test_callers_by_country_and_per_recipient_refusals(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner,
        account: NewAccount) -> None:
    provider = sandbox(app)
    async with db.transaction() as s:
        await callers.add(s, account.account_id, "es", "+34 911 000 000")
    r = await client.post("/api/rest/voice", headers=auth, json={
        **DOC_EXAMPLE, "to": ["34666666666", "34", "351912345678"], "callers": {"ES": "34911000000"},
        "message": "Hola {name}", "sub": [{"name": "Ana"}, {"name": "x"}, {"name": "Rui"}]})
    assert r.status_code == 207, r.text
    assert [(i["accepted"], i["to"], i.get("error")) for i in r.json()["result"]] == [
        (True, "34666666666", None), (False, "34", {"code": 102, "description": "No valid recipients"}),
        (True, "351912345678", None)]
    await runner.run_until_idle()
    assert [(c.recipient, c.sender, c.body) for c in provider.outbox] == [
        ("34666666666", "34911000000", "Hola Ana"), ("351912345678", "", "Hola Rui")], \
        "the Spanish number is called from the Spanish caller; others from the provider's default"


async def test_unanswered_calls_are_retried_ten_minutes_later_and_only_the_answer_is_charged(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner,
        clock: ManualClock) -> None:
    provider = sandbox(app, "?outcome=no-answer,busy,answered&duration=30")
    r = await client.post("/api/rest/voice", json={**DOC_EXAMPLE, "retries": 2}, headers=auth)
    assert r.status_code == 202
    await runner.run_until_idle()
    assert len(provider.outbox) == 1
    clock.advance(timedelta(minutes=9, seconds=59))
    await runner.run_until_idle()
    assert len(provider.outbox) == 1, "never sooner than 10 minutes after the unanswered call"
    clock.advance(1)
    await runner.run_until_idle()
    assert len(provider.outbox) == 2
    clock.advance(timedelta(minutes=10))
    await runner.run_until_idle()
    assert [c.options["attempt"] for c in provider.outbox] == [1, 2, 3]
    [message] = await _messages(db)
    assert message.status == "delivered" and message.cost == RATE
    assert [k for k, _ in await _events(db, message.id)] == ["sent", "sent", "sent", "delivered"]
    assert [u["status"] for u in message.extra["unanswered"]] == ["no-answer", "busy"]


async def test_retries_stop_when_spent_or_at_the_expiration_date(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner,
        clock: ManualClock) -> None:
    provider = sandbox(app, "?outcome=no-answer")
    await client.post("/api/rest/voice", json={**DOC_EXAMPLE, "retries": 1}, headers=auth)
    expiry = (clock.now() + timedelta(minutes=15)).strftime("%Y%m%d%H%M%S")
    r = await client.post("/api/rest/voice", json={**DOC_EXAMPLE, "retries": 5, "expirationDate": expiry},
                          headers=auth)
    assert r.json()["result"][0]["expiresAt"] is not None
    for _ in range(4):
        await runner.run_until_idle()
        clock.advance(timedelta(minutes=10))
    spent, expired = await _messages(db)
    assert [k for k, _ in await _events(db, spent.id)] == ["sent", "sent", "undelivered"]
    assert spent.error_code == "no-answer" and spent.cost == 0
    # Called at 0 and 10 minutes; a third call at 20 would be after the expiration date at 15.
    assert [k for k, _ in await _events(db, expired.id)] == ["sent", "sent", "expired"]
    assert len(provider.outbox) == 4 and expired.cost == 0


async def test_failures_machines_blacklist_and_notifications(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner,
        account: NewAccount) -> None:
    sandbox(app, "?outcome=machine")
    async with db.transaction() as s:
        await blacklist.add(s, account.account_id, "voice", "34666000111")
    r = await client.post("/api/rest/voice", headers=auth, json={
        **DOC_EXAMPLE, "to": ["34666666666", "34666000111"], "amd": True,
        "notificationUrl": "https://hooks.example.test/n?s=%s"})
    assert r.status_code == 202
    await runner.run_until_idle()
    machine, listed = await _messages(db)
    events = await _events(db, machine.id)
    assert [k for k, _ in events] == ["sent", "undelivered"] and events[1][1]["code"] == "machine"
    assert machine.cost == 0, "a machine answer with AMD is ended and not charged"
    assert [k for k, _ in await _events(db, listed.id)] == ["rejected"], "the voice blacklist applies"
    async with db.sessions() as s:
        jobs = (await s.execute(select(Job).where(Job.kind == "rest.notification"))).scalars().all()
    assert sorted(j.payload["status"] for j in jobs if j.payload["retry"] == 0) == ["REJECTD", "UNDELIV"]
    # Without AMD a machine is just an answer.
    sandbox(app, "?outcome=machine")
    await client.post("/api/rest/voice", json=DOC_EXAMPLE, headers=auth)
    await runner.run_until_idle()
    sandbox(app, "?outcome=failed")
    await client.post("/api/rest/voice", json=DOC_EXAMPLE, headers=auth)
    await runner.run_until_idle()
    *_, answered, failed = await _messages(db)
    assert answered.status == "delivered"
    assert failed.status == "undelivered" and failed.error_code == "failed"


async def test_event_notifications_name_the_channel_text2speech(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner) -> None:
    sandbox(app)
    with Receiver() as receiver:
        r = await client.put("/api/rest/account/notifications", headers=auth, json={"url": receiver.base + "/hook"})
        assert r.status_code == 200, r.text
        await client.post("/api/rest/voice", json=DOC_EXAMPLE, headers=auth)
        await runner.run_until_idle()
        forms = receiver.forms()
    assert [(f["channel"], f["event"]) for f in forms] == [("text2speech", "sent"), ("text2speech", "delivered")]
    assert event_webhooks.CHANNELS["voice"] == "text2speech"


@pytest.fixture
def audio_server() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + bytes(40)
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + bytes(100)


async def test_voice_audio_is_fetched_kept_and_played(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner,
        monkeypatch: pytest.MonkeyPatch) -> None:
    provider = sandbox(app)
    bodies = {"/a.mp3": MP3, "/sound.bin": WAV, "/page.mp3": b"<html>not audio</html>"}
    with Receiver() as server:
        original = server.server.RequestHandlerClass

        class Handler(original):  # type: ignore[misc, valid-type]
            def _answer(self) -> None:
                data = bodies.get(self.path.split("?")[0])
                self.send_response(200 if data is not None else 404)
                self.send_header("Content-Length", str(len(data or b"")))
                self.end_headers()
                self.wfile.write(data or b"")

            do_GET = _answer  # noqa: N815

        server.server.RequestHandlerClass = Handler

        async def send(url: str, **over: Any) -> httpx.Response:
            return await client.post("/api/rest/voiceAudio", json={"to": ["34666666666"], "audioUrl": url, **over},
                                     headers=auth)

        r = await send(server.base + "/sound.bin")  # a WAV by its bytes, whatever the name says
        assert r.status_code == 202, r.text
        assert (await send(server.base + "/page.mp3")).json()["error"]["code"] == 134
        assert (await send(server.base + "/missing.mp3")).json()["error"]["code"] == 133
        assert (await send("not a url")).json()["error"]["code"] == 133
        assert (await send(None)).json()["error"]["code"] == 133
        assert (await send("http://127.0.0.1:9/a.mp3")).json()["error"]["code"] == 133
        monkeypatch.setattr("tidings.messaging.voice.audio.MAX_BYTES", 50)
        big = await send(server.base + "/a.mp3")
        assert big.status_code == 400 and big.json()["error"]["code"] == 133
        assert "larger" in big.json()["error"]["description"]
    assert await _count(db, VoiceAudio) == 1 and await _count(db, Message) == 1
    await runner.run_until_idle()
    [call] = provider.outbox
    played = await client.get(call.options["audio_url"].removeprefix("http://tidings.test"))
    assert played.status_code == 200 and played.content == WAV and played.headers["content-type"] == "audio/wav"
    assert call.options["audio_url"].endswith(".wav")
    assert (await client.get("/audio/nothing.wav")).status_code == 404


async def test_openapi_describes_the_documented_request_response_and_errors(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for path, required in (("/api/rest/voice", ["to", "message", "language", "gender"]),
                           ("/api/rest/voiceAudio", ["to", "audioUrl"])):
        post = spec["paths"][path]["post"]
        assert set(post["responses"]) >= {"202", "207", "400", "401", "402", "422"}
        assert post["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/NrsError")
        body = post["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert spec["components"]["schemas"][body]["required"] == required
    schemas = spec["components"]["schemas"]
    assert schemas["VoiceBody"]["properties"]["language"]["enum"][:2] == ["en_GB", "en_US"]
    assert schemas["VoiceBody"]["properties"]["retries"]["maximum"] == 5
    assert set(schemas["VoiceRecipientResult"]["properties"]) == {"accepted", "to", "id", "scheduledAt", "expiresAt",
                                                             "error"}


async def test_balance_and_schedule(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner, clock: ManualClock,
        settings: Settings, account: NewAccount) -> None:
    provider = sandbox(app)
    settings.enforce_balance = True
    r = await client.post("/api/rest/voice", json=DOC_EXAMPLE, headers=auth)
    assert r.status_code == 402 and r.json()["error"]["code"] == 111
    assert await _count(db, Message) == 0
    async with db.transaction() as s:
        owner = await s.get(Account, account.account_id)
        assert owner is not None
        owner.balance = RATE
    when = clock.now() + timedelta(hours=2)
    r = await client.post("/api/rest/voice", json={**DOC_EXAMPLE, "scheduleDate": when.strftime("%Y%m%d%H%M%S")},
                          headers=auth)
    assert r.status_code == 202, r.text
    assert r.json()["result"][0]["scheduledAt"] == when.strftime("%Y-%m-%d %H:%M:%S")
    await runner.run_until_idle()
    assert provider.outbox == [], "not called before its schedule date"
    clock.advance(timedelta(hours=2))
    await runner.run_until_idle()
    assert len(provider.outbox) == 1
