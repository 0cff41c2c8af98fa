"""POST /api/rest/whatsapp and the conversations endpoints with the sandbox provider: shapes, codes,
the 24-hour window, automatic answers, event notifications and tenant isolation."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tidings.channels.registry import build_provider
from tidings.channels.sandbox import SandboxProvider
from tidings.core import ids
from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Event, Message, Sending
from tidings.engine.runner import Runner
from tidings.tenancy.service import NewAccount

from helpers import Receiver, basic
from whatsapp_helpers import CODE, SENDER, STORE, WELCOME, register

URL = "/api/rest/whatsapp"
CONV = f"{URL}/conversations/{SENDER}/34666555444"


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


@pytest.fixture
async def ids_(db: Database, account: NewAccount) -> list[int]:
    return await register(db, account.account_id, WELCOME, STORE, CODE)


def welcome_to(to: str = "34666555444", **over: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"to": to, "headerFields": ["Ana"], "bodyFields": ["A-1", "lunes"],
                            "callToActionFields": ["A-1"]}
    item.update(over)
    return item


async def _count(db: Database, model: Any) -> int:
    async with db.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def _error(r: httpx.Response, status: int, code: int) -> str:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text
    description: str = r.json()["error"]["description"]
    return description


async def test_documented_examples_are_sent_with_uuid_ids(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], ids_: list[int], db: Database,
        runner: Runner) -> None:
    welcome, store, code = ids_
    r = await client.post(URL, headers=auth, json={
        "templateId": welcome, "from": SENDER, "campaignName": "Pedidos", "tags": ["wa"],
        "messages": [welcome_to(defaultAnswer="Example answer",
                                buttonAnswers=["first button answer", "second button answer"])]})
    assert r.status_code == 202, r.text
    body = r.json()
    assert list(body) == ["campaignId", "sendingId", "result"]
    [item] = body["result"]
    assert set(item) == {"accepted", "to", "id"} and item["accepted"] and item["to"] == "34666555444"
    assert uuid.UUID(item["id"])
    async with db.sessions() as s:
        sending = (await s.execute(select(Sending))).scalar_one()
    assert body["sendingId"] == ids.to_int(ids.Kind.SENDING, sending.id) != sending.id
    assert body["campaignId"] == ids.to_int(ids.Kind.CAMPAIGN, sending.campaign_id)

    location = {"lat": "39.92516922986921", "long": "-0.10572674363232447", "name": "NRS-Group",
                "address": "Carrer, Av. Arcadi Garcia Sanz, 19, 12540 Vila-real, Castelló"}
    r = await client.post(URL, headers=auth, json={"templateId": store, "from": SENDER,
                                                   "messages": [{"to": "34666555443", "location": location}]})
    assert r.status_code == 202 and r.json()["campaignId"] is None, r.text
    r = await client.post(URL, headers=auth, json={"templateId": code, "from": SENDER,
                                                   "messages": [{"to": "34666555442", "bodyFields": ["auth_code"]}]})
    assert r.status_code == 202, r.text
    r = await client.post(URL, headers=auth, json={"templateId": code, "from": SENDER,
                                                   "messages": [{"to": 34666555441, "bodyFields": [123456]}]})
    assert r.status_code == 202 and r.json()["result"][0]["to"] == "34666555441", r.text

    await runner.run_until_idle()
    provider = app.state.providers.get("whatsapp")
    assert isinstance(provider, SandboxProvider)
    sent = {m.recipient: m.options for m in provider.outbox}
    components = sent["34666555444"]["wa"]["template"]["components"]
    assert sent["34666555444"]["phone_number_id"] == "1234567890"
    assert components[0] == {"type": "header", "parameters": [{"type": "text", "text": "Ana"}]}
    assert components[1]["parameters"] == [{"type": "text", "text": "A-1"}, {"type": "text", "text": "lunes"}]
    assert {"type": "button", "sub_type": "url", "index": "2",
            "parameters": [{"type": "text", "text": "A-1"}]} in components
    assert [c["sub_type"] for c in components if c["type"] == "button"] == ["quick_reply", "quick_reply", "url"]
    header = sent["34666555443"]["wa"]["template"]["components"][0]["parameters"][0]
    assert header["location"] == {"latitude": location["lat"], "longitude": location["long"],
                                  "name": "NRS-Group", "address": location["address"]}
    assert sent["34666555442"]["wa"]["template"]["components"][-1] == {
        "type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "auth_code"}]}

    r = await client.get(f"{CONV}/messages", headers=auth)
    assert r.status_code == 200, r.text
    [message] = r.json()["data"]
    assert message["id"] == item["id"] and message["type"] == "template" and message["msisdn"] == SENDER
    assert message["content"] == "Hola Ana\nTu pedido A-1 llega el lunes.\nTienda"
    assert message["sentAt"] and message["deliveredAt"] and message["readAt"] is None
    assert message["failedAt"] is None and message["reactions"] == []


async def test_refusals_use_the_documented_codes_and_write_nothing(
        client: httpx.AsyncClient, auth: dict[str, str], ids_: list[int], db: Database, account: NewAccount,
        make_account: Any) -> None:
    welcome, store, _ = ids_
    [pending] = await register(db, account.account_id, {"name": "draft", "language": "es", "body": "x"},
                               status="PENDING")
    other = await make_account("Other", "o@other.test")
    [foreign] = await register(db, other.account_id, {"name": "theirs", "language": "es", "body": "x"},
                               number="34666777556", phone_number_id="999")
    one = [welcome_to()]
    assert await _error(await client.post(URL, headers=auth, json={"from": SENDER, "messages": one}), 400, 140)
    for template_id in (123, pending, foreign, welcome + 1):
        r = await client.post(URL, headers=auth, json={"templateId": template_id, "from": SENDER, "messages": one})
        assert await _error(r, 400, 140) == "Invalid template"
    r = await client.post(URL, headers=auth, json={"templateId": welcome, "messages": one})
    await _error(r, 400, 106)
    for sender in ("34666777556", "34611111111"):
        r = await client.post(URL, headers=auth, json={"templateId": welcome, "from": sender, "messages": one})
        await _error(r, 400, 115)
    for messages in (None, []):
        r = await client.post(URL, headers=auth, json={"templateId": welcome, "from": SENDER, "messages": messages})
        await _error(r, 400, 102)
    r = await client.post(URL, headers=auth, json={"templateId": welcome, "from": SENDER,
                                                   "messages": [welcome_to("34")]})
    assert await _error(r, 400, 102) == "The messages.0.to field does not contain a valid phone number"
    r = await client.post(URL, headers=auth, json={"templateId": welcome, "from": SENDER,
                                                   "messages": [welcome_to(bodyFields=["A-1"])]})
    assert "bodyFields" in await _error(r, 422, 422)
    r = await client.post(URL, headers=auth, json={"templateId": store, "from": SENDER,
                                                   "messages": [{"to": "34666555444"}]})
    assert "location" in await _error(r, 422, 422)
    [image] = await register(db, account.account_id, {"name": "promo", "language": "es", "body": "Mira",
                                                      "header": {"format": "IMAGE"}})
    for header in ([], ["http://cdn.example/a.png"], ["not a url"]):
        r = await client.post(URL, headers=auth, json={"templateId": image, "from": SENDER,
                                                       "messages": [{"to": "34666555444", "headerFields": header}]})
        assert "headerFields" in await _error(r, 422, 422)
    r = await client.post(URL, headers=auth, json={"templateId": welcome, "from": SENDER, "messages": one,
                                                   "tags": ["x"]})
    await _error(r, 400, 126)
    r = await client.post(URL, headers=auth, json={"templateId": "abc", "from": SENDER, "messages": one})
    await _error(r, 422, 422)
    r = await client.post(URL, headers={**auth, "Content-Type": "application/json"}, content=b"{")
    await _error(r, 400, 125)
    r = await client.post(URL, headers=auth, json={"templateId": welcome, "from": SENDER,
                                                   "messages": [welcome_to(buttonAnswers=["a", "b", "c"])]})
    await _error(r, 422, 422)
    assert await _count(db, Message) == 0 and await _count(db, Sending) == 0

    r = await client.post(URL, headers=auth, json={"templateId": welcome, "from": SENDER, "messages": [
        welcome_to(), {"to": "34"}, welcome_to("34666555443", headerFields=[])]})
    assert r.status_code == 207, r.text
    result = r.json()["result"]
    assert [x["accepted"] for x in result] == [True, False, False]
    assert result[1] == {"accepted": False, "to": "34", "error": {
        "code": 102, "description": "The messages.1.to field does not contain a valid phone number"}}
    assert result[2]["error"]["code"] == 422 and "messages.2.headerFields" in result[2]["error"]["description"]
    async with db.sessions() as s:
        sending = (await s.execute(select(Sending))).scalar_one()
    assert (sending.total, sending.accepted, sending.rejected) == (3, 1, 2)


async def _reply(client: httpx.AsyncClient, auth: dict[str, str], **body: Any) -> httpx.Response:
    r = await client.post("/inbound/whatsapp/sandbox", headers=auth, json={"from": "34666555444", "to": SENDER, **body})
    assert r.status_code == 200, r.text
    return r


async def _texts(db: Database) -> list[tuple[str, str, str]]:
    async with db.sessions() as s:
        rows = (await s.execute(select(Message).order_by(Message.id))).scalars().all()
    return [(m.direction, (m.extra or {}).get("type", ""), m.body or "") for m in rows]


async def test_window_and_automatic_answers(
        client: httpx.AsyncClient, auth: dict[str, str], ids_: list[int], db: Database, runner: Runner,
        clock: ManualClock) -> None:
    r = await client.post(URL, headers=auth, json={"templateId": ids_[0], "from": SENDER, "messages": [
        welcome_to(defaultAnswer="Gracias por escribir", buttonAnswers=["Perfecto", "Lo anulamos"])]})
    assert r.status_code == 202, r.text
    await runner.run_until_idle()

    r = await client.post(f"{CONV}/messages", headers=auth, json={"content": "¿Sigues ahí?"})
    assert r.status_code == 409, r.text
    assert "24 hours" in r.json()["error"]["description"]
    conv = (await client.get(CONV, headers=auth)).json()["data"]
    assert (conv["status"], conv["isSessionActive"], conv["sessionExpiresAt"]) == ("CLOSED", False, None)

    await _reply(client, auth, content="Hola, una pregunta")
    conv = (await client.get(CONV, headers=auth)).json()["data"]
    assert conv["isSessionActive"] is True and conv["status"] == "OPEN"
    opened_at = clock.now()
    assert conv["sessionExpiresAt"] == (opened_at + timedelta(hours=24)).replace(microsecond=0).isoformat()
    assert (await _texts(db))[-1] == ("out", "text", "Gracias por escribir")

    await _reply(client, auth, button="No")
    await _reply(client, auth, content="Otra cosa")  # not the first message: no default answer again
    r = await client.post(f"{CONV}/messages", headers=auth, json={"content": "Enseguida"})
    assert r.status_code == 202, r.text
    assert r.json()["data"]["type"] == "text" and r.json()["data"]["msisdn"] == SENDER
    assert await _texts(db) == [
        ("out", "template", "Hola Ana\nTu pedido A-1 llega el lunes.\nTienda"), ("in", "text", "Hola, una pregunta"),
        ("out", "text", "Gracias por escribir"), ("in", "button", "No"), ("out", "text", "Lo anulamos"),
        ("in", "text", "Otra cosa"), ("out", "text", "Enseguida")]
    await runner.run_until_idle()

    r = await client.get(f"{CONV}/messages", headers=auth, params={"limit": 3, "page": 2})
    assert r.status_code == 200, r.text
    page = r.json()
    assert [m["content"] for m in page["data"]] == ["No", "Gracias por escribir", "Hola, una pregunta"]
    assert page["data"][0]["msisdn"] == "34666555444" and page["data"][0]["type"] == "button"
    assert page["meta"]["status"] == "OPEN" and page["meta"]["isSessionActive"] is True
    pagination = page["meta"]["pagination"]
    assert {k: pagination[k] for k in ("total", "count", "per_page", "current_page", "total_pages")} == {
        "total": 7, "count": 3, "per_page": 3, "current_page": 2, "total_pages": 3}
    assert set(pagination["links"]) == {"previous", "next"}
    conv = (await client.get(CONV, headers=auth)).json()["data"]
    assert conv["totalMessages"] == 7
    assert conv["links"]["messages"] == f"http://tidings.test{CONV}/messages"
    assert conv["contact"]["data"]["msisdn"] == "34666555444"

    clock.advance(24 * 3600 + 1)
    r = await client.post(f"{CONV}/messages", headers=auth, json={"content": "¿Hola?"})
    assert r.status_code == 409, r.text
    assert (await client.get(CONV, headers=auth)).json()["data"]["isSessionActive"] is False
    for content in ("", None):
        await _reply(client, auth, content="vuelvo")
        r = await client.post(f"{CONV}/messages", headers=auth, json={"content": content})
        await _error(r, 400, 104)
    r = await client.post(f"{CONV}/messages", headers=auth, json={"content": "x" * 4097})
    await _error(r, 400, 105)


async def test_conversation_list_filters_and_pages(
        client: httpx.AsyncClient, auth: dict[str, str], ids_: list[int], clock: ManualClock) -> None:
    for n in range(3):
        r = await client.post(URL, headers=auth, json={"templateId": ids_[1], "from": SENDER, "messages": [
            {"to": f"3466655544{n}", "location": {"lat": "1", "long": "2"}}]})
        assert r.status_code == 202, r.text
        clock.advance(1)
    r = await client.get(f"{URL}/conversations", headers=auth, params={"limit": 2})
    body = r.json()
    assert [c["to"] for c in body["data"]] == ["34666555442", "34666555441"], "most recently active first"
    assert body["meta"]["pagination"]["total"] == 3 and "next" in body["meta"]["pagination"]["links"]
    assert set(body["data"][0]) == {"from", "to", "totalMessages", "status", "isSessionActive", "sessionExpiresAt",
                                    "createdAt", "updatedAt", "links", "contact"}
    r = await client.get(f"{URL}/conversations", headers=auth, params={"to": "+34 666 555 440", "from": SENDER})
    assert [c["to"] for c in r.json()["data"]] == ["34666555440"]
    r = await client.get(f"{URL}/conversations", headers=auth, params={"from": "34611111111"})
    assert r.json()["data"] == [] and r.json()["meta"]["pagination"]["links"] == []
    r = await client.get(f"{URL}/conversations", headers=auth, params={"limit": 1001})
    await _error(r, 422, 422)


async def test_another_accounts_objects_are_not_found(
        client: httpx.AsyncClient, auth: dict[str, str], ids_: list[int], make_account: Any, db: Database) -> None:
    r = await client.post(URL, headers=auth, json={"templateId": ids_[2], "from": SENDER,
                                                   "messages": [{"to": "34666555444", "bodyFields": ["1234"]}]})
    assert r.status_code == 202
    await _reply(client, auth, content="hola")
    other = await make_account("Other", "o@other.test")
    await register(db, other.account_id, number="34666777556", phone_number_id="999")
    theirs = basic(other.username, other.api_password)
    assert (await client.get(f"{URL}/conversations", headers=theirs)).json()["data"] == []
    await _error(await client.get(CONV, headers=theirs), 404, 404)
    await _error(await client.get(f"{CONV}/messages", headers=theirs), 404, 404)
    await _error(await client.post(f"{CONV}/messages", headers=theirs, json={"content": "x"}), 404, 404)
    r = await client.post(URL, headers=theirs, json={"templateId": ids_[2], "from": "34666777556",
                                                     "messages": [{"to": "34666555444", "bodyFields": ["1"]}]})
    await _error(r, 400, 140)
    r = await client.post("/inbound/whatsapp/sandbox", headers=theirs,
                          json={"from": "34666555444", "to": SENDER, "content": "x"})
    assert r.status_code == 404
    assert (await client.post("/inbound/whatsapp/sandbox", json={"from": "1", "to": SENDER})).status_code == 401


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


async def test_events_reach_the_accounts_notifications_as_channel_whatsapp(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], ids_: list[int], db: Database, runner: Runner,
        receiver: Receiver, clock: ManualClock) -> None:
    app.state.providers.set("whatsapp", build_provider("whatsapp", "sandbox://?delivery=delivered&delay=1s"))
    r = await client.put("/api/rest/account/notifications", headers=auth, json={"url": receiver.base + "/hook"})
    assert r.status_code == 200, r.text
    r = await client.post(URL, headers=auth, json={"templateId": ids_[2], "from": SENDER, "campaignName": "OTP",
                                                   "messages": [{"to": "34666555444", "bodyFields": ["1234"],
                                                                 "defaultAnswer": "De nada"}]})
    assert r.status_code == 202, r.text
    await runner.run_until_idle()
    clock.advance(2)
    await runner.run_until_idle()
    await _reply(client, auth, content="Gracias")
    await runner.run_until_idle()
    clock.advance(2)
    await runner.run_until_idle()
    forms = receiver.forms()
    assert [(f["channel"], f["event"]) for f in forms] == [("whatsapp", "sent"), ("whatsapp", "delivered")] * 2
    assert forms[0]["campaignName"] == forms[2]["campaignName"] == "OTP", "the automatic answer is the campaign's"
    assert forms[0]["id"] != forms[2]["id"]
    async with db.sessions() as s:
        kinds = (await s.execute(select(Event.kind).order_by(Event.id))).scalars().all()
    assert list(kinds) == ["sent", "delivered", "replied", "sent", "delivered"]


async def test_concurrent_first_messages_share_one_conversation(
        client: httpx.AsyncClient, auth: dict[str, str], ids_: list[int]) -> None:
    body = {"templateId": ids_[2], "from": SENDER, "messages": [{"to": "34666555444", "bodyFields": ["1234"]}]}
    answers = await asyncio.gather(*(client.post(URL, headers=auth, json=body) for _ in range(4)),
                                   *(client.post("/inbound/whatsapp/sandbox", headers=auth, json={
                                       "from": "34666555444", "to": SENDER, "content": f"hola {n}"})
                                     for n in range(2)))
    assert [r.status_code for r in answers] == [202] * 4 + [200] * 2, [r.text for r in answers]
    r = await client.get(f"{URL}/conversations", headers=auth)
    [conv] = r.json()["data"]
    assert conv["totalMessages"] == 6
