"""The Cloud API end to end against the fake: template sync, sends, the signed webhook (verification,
statuses, inbound messages, button presses, reactions) and the automatic answers it triggers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tidings.channels.registry import build_provider
from tidings.channels.whatsapp.meta import MetaProvider
from tidings.core import ids
from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Event, Job, Message, WhatsappTemplate
from tidings.engine.runner import Runner
from tidings.messaging.whatsapp import service
from tidings.tenancy.service import NewAccount

from fakes.whatsapp import FakeCloudApi, template
from helpers import basic
from whatsapp_helpers import PHONE_NUMBER_ID, SENDER, WABA_ID, register

HOOK = "/inbound/whatsapp/meta"
CONV = f"/api/rest/whatsapp/conversations/{SENDER}/34666555444"
USER = "34666555444"


@pytest.fixture
async def cloud() -> AsyncIterator[FakeCloudApi]:
    templates = [
        template("welcome", "Tu pedido {{1}} está listo.", header={"format": "TEXT", "text": "Hola {{1}}"},
                 buttons=[{"type": "QUICK_REPLY", "text": "Sí"}, {"type": "QUICK_REPLY", "text": "No"}]),
        template("code", "*{{1}}* es tu código.", category="AUTHENTICATION",
                 buttons=[{"type": "URL", "text": "Copiar", "url": "https://www.whatsapp.com/otp/code/?code=otp{{1}}"}]),
        template("draft", "Borrador", status="PENDING"),
    ]
    async with FakeCloudApi(templates=templates) as server:
        yield server


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


@pytest.fixture
async def meta(app: Any, cloud: FakeCloudApi) -> MetaProvider:
    provider = build_provider("whatsapp", cloud.url())
    assert isinstance(provider, MetaProvider)
    app.state.providers.set("whatsapp", provider)
    return provider


async def _synced(db: Database, account: NewAccount, meta: MetaProvider) -> dict[str, int]:
    await register(db, account.account_id)
    listed = await meta.list_templates(WABA_ID)
    async with db.transaction() as s:
        done = await service.sync_templates(s, account.account_id, WABA_ID, listed)
    assert (done.created, done.updated, done.removed) == (3, 0, 0)
    async with db.sessions() as s:
        rows = (await s.execute(select(WhatsappTemplate))).scalars().all()
    return {r.name: ids.to_int(ids.Kind.WHATSAPP_TEMPLATE, r.id) for r in rows}


async def _post_hook(client: httpx.AsyncClient, cloud: FakeCloudApi, **kwargs: Any) -> httpx.Response:
    body, headers = cloud.webhook(PHONE_NUMBER_ID, **kwargs)
    r = await client.post(HOOK, content=body, headers=headers)
    assert r.status_code == 200, r.text
    return r


async def test_verification_and_signatures(client: httpx.AsyncClient, cloud: FakeCloudApi, meta: MetaProvider,
                                           db: Database, account: NewAccount) -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": cloud.verify_token, "hub.challenge": "1158201444"}
    r = await client.get(HOOK, params=params)
    assert r.status_code == 200 and r.text == "1158201444"
    assert (await client.get(HOOK, params={**params, "hub.verify_token": "guess"})).status_code == 403
    assert (await client.get(HOOK, params={**params, "hub.mode": "unsubscribe"})).status_code == 403

    await register(db, account.account_id)
    body, headers = cloud.webhook(PHONE_NUMBER_ID, messages=[cloud.text_message(USER, "hola", "wamid.in1")])
    assert (await client.post(HOOK, content=body)).status_code == 401
    forged = {**headers, "X-Hub-Signature-256": "sha256=" + "0" * 64}
    assert (await client.post(HOOK, content=body, headers=forged)).status_code == 401
    assert (await client.post(HOOK, content=body + b" ", headers=headers)).status_code == 401
    async with db.sessions() as s:
        assert (await s.execute(select(Message))).first() is None
    bad = b"not json"
    r = await client.post(HOOK, content=bad, headers={"X-Hub-Signature-256": cloud.sign(bad)})
    assert r.status_code == 422


async def test_webhook_routes_are_absent_with_the_sandbox(client: httpx.AsyncClient) -> None:
    r = await client.get(HOOK, params={"hub.mode": "subscribe", "hub.verify_token": "x", "hub.challenge": "1"})
    assert r.status_code == 404
    assert (await client.post(HOOK, content=b"{}")).status_code == 404


async def test_sync_makes_the_providers_templates_sendable(
        db: Database, account: NewAccount, meta: MetaProvider, cloud: FakeCloudApi, client: httpx.AsyncClient,
        auth: dict[str, str]) -> None:
    ids_ = await _synced(db, account, meta)
    r = await client.post("/api/rest/whatsapp", headers=auth, json={
        "templateId": ids_["draft"], "from": SENDER, "messages": [{"to": USER}]})
    assert r.json()["error"]["code"] == 140, "a template pending approval is not sendable"
    cloud.templates = [template("welcome", "Nuevo {{1}} {{2}}"), template("draft", "Borrador")]
    async with db.transaction() as s:
        done = await service.sync_templates(s, account.account_id, WABA_ID, await meta.list_templates(WABA_ID))
    assert (done.created, done.updated, done.removed) == (0, 2, 1)
    async with db.sessions() as s:
        rows = {r.name: r for r in (await s.execute(select(WhatsappTemplate))).scalars()}
    assert rows["code"].status == "DELETED" and rows["draft"].status == "APPROVED"
    assert rows["welcome"].body == "Nuevo {{1}} {{2}}" and rows["welcome"].header == {}


async def test_conversation_over_the_cloud_api(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, account: NewAccount,
        meta: MetaProvider, cloud: FakeCloudApi, runner: Runner, clock: ManualClock) -> None:
    ids_ = await _synced(db, account, meta)
    r = await client.post("/api/rest/whatsapp", headers=auth, json={
        "templateId": ids_["welcome"], "from": SENDER,
        "messages": [{"to": USER, "headerFields": ["Ana"], "bodyFields": ["A-1"], "defaultAnswer": "¡Gracias!",
                      "buttonAnswers": ["Genial", "Lo anulamos"]},
                     {"to": "34666555443", "headerFields": ["Luis"], "bodyFields": ["A-2"]}]})
    assert r.status_code == 202, r.text
    message_id = r.json()["result"][0]["id"]
    await runner.run_until_idle()
    assert [m["to"] for m in cloud.received] == [USER, "34666555443"]
    sent = cloud.received[0]
    assert sent["template"]["name"] == "welcome" and sent["template"]["language"] == {"code": "es"}
    assert sent["template"]["components"][2] == {"type": "button", "sub_type": "quick_reply", "index": "0",
                                                 "parameters": [{"type": "payload", "payload": "tidings-button-0"}]}
    wamid = sent["id"]

    # A status can overtake nothing here; an unknown id is retried by a job, then dropped after a while.
    await _post_hook(client, cloud, statuses=[cloud.status(wamid, "sent", USER), cloud.status(wamid, "read", USER),
                                              cloud.status("wamid.unknown", "delivered", USER)])
    await _post_hook(client, cloud, statuses=[cloud.status(cloud.received[1]["id"], "failed", "34666555443",
                                                           [{"code": 131026, "title": "Message undeliverable"}])])
    async with db.sessions() as s:
        kinds = (await s.execute(select(Event.kind).order_by(Event.id))).scalars().all()
        jobs = (await s.execute(select(Job).where(Job.kind == "whatsapp.status"))).scalars().all()
    assert list(kinds) == ["sent", "sent", "delivered", "opened", "failed"]
    assert len(jobs) == 1
    r = await client.get(f"{CONV}/messages", headers=auth)
    [shown] = r.json()["data"]
    assert shown["id"] == message_id and shown["readAt"] and shown["deliveredAt"] and shown["failedAt"] is None
    r = await client.get(f"/api/rest/whatsapp/conversations/{SENDER}/34666555443/messages", headers=auth)
    assert r.json()["data"][0]["failedAt"] is not None

    # The user answers: the window opens and the default answer goes out as free text.
    await _post_hook(client, cloud, messages=[cloud.text_message(USER, "Hola, ¿cuándo llega?", "wamid.in1")])
    await _post_hook(client, cloud, messages=[cloud.text_message(USER, "Hola, ¿cuándo llega?", "wamid.in1")])
    await _post_hook(client, cloud, messages=[cloud.button_message(USER, "No", "tidings-button-1", "wamid.in2",
                                                                   wamid)])
    await _post_hook(client, cloud, messages=[{"from": USER, "id": "wamid.in3", "type": "reaction",
                                               "reaction": {"message_id": wamid, "emoji": "👍"}}])
    await runner.run_until_idle()
    texts = [m for m in cloud.received if m["type"] == "text"]
    assert [(m["to"], m["text"]["body"]) for m in texts] == [(USER, "¡Gracias!"), (USER, "Lo anulamos")]
    assert all(m["phone_number_id"] == PHONE_NUMBER_ID for m in texts)
    r = await client.get(f"{CONV}/messages", headers=auth)
    data = r.json()["data"]
    assert [(m["type"], m["content"]) for m in data] == [
        ("text", "Lo anulamos"), ("button", "No"), ("text", "¡Gracias!"), ("text", "Hola, ¿cuándo llega?"),
        ("template", "Hola Ana\nTu pedido A-1 está listo.")]
    assert data[-1]["reactions"] == ["👍"]
    assert r.json()["meta"]["isSessionActive"] is True

    r = await client.post(f"{CONV}/messages", headers=auth, json={"content": "Llega mañana"})
    assert r.status_code == 202, r.text
    await runner.run_until_idle()
    assert cloud.received[-1]["text"]["body"] == "Llega mañana"
    async with db.sessions() as s:
        replied = (await s.execute(select(Event).where(Event.kind == "replied"))).scalars().all()
    assert len(replied) == 2, "each user message is a reply to the template"

    clock.advance(11 * 60)
    await runner.run_until_idle()
    async with db.sessions() as s:
        pending = select(Job).where(Job.kind == "whatsapp.status", Job.status == "queued")
        assert (await s.execute(pending)).first() is None, "a status nobody claims is dropped after ten minutes"


async def test_the_engine_syncs_templates_every_hour(
        db: Database, account: NewAccount, meta: MetaProvider, cloud: FakeCloudApi, runner: Runner,
        clock: ManualClock) -> None:
    await register(db, account.account_id)

    async def names() -> dict[str, str]:
        async with db.sessions() as s:
            return {r.name: r.status for r in (await s.execute(select(WhatsappTemplate))).scalars()}

    await runner.run_until_idle()
    assert await names() == {"welcome": "APPROVED", "code": "APPROVED", "draft": "PENDING"}
    cloud.templates[2]["status"] = "APPROVED"
    await runner.run_until_idle()
    assert (await names())["draft"] == "PENDING", "not again within the hour"
    clock.advance(3601)
    await runner.run_until_idle()
    assert (await names())["draft"] == "APPROVED"
    assert len(cloud.template_requests) == 2
