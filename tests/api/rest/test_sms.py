"""POST /api/rest/sms and GET /api/rest/sms/{id}: the documented shapes, codes and parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tidings.channels.registry import build_provider
from tidings.core.clock import ManualClock
from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Campaign, Contact, Event, Message, Sending
from tidings.engine.runner import Runner
from tidings.tenancy.service import NewAccount

from helpers import basic, public_id, row_id

URL = "/api/rest/sms"


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


def sms(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"to": ["34666555444"], "from": "TEST", "message": "SMS text message"}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


async def _messages(db: Database) -> list[Message]:
    async with db.sessions() as s:
        return list((await s.execute(select(Message).order_by(Message.id))).scalars())


async def _events(db: Database, message_id: int) -> list[str]:
    async with db.sessions() as s:
        rows = (await s.execute(select(Event.kind).where(Event.message_id == message_id).order_by(Event.id))).all()
    return [r[0] for r in rows]


async def post(client: httpx.AsyncClient, auth: dict[str, str], **over: Any) -> httpx.Response:
    return await client.post(URL, json=sms(**over), headers=auth)


async def expect_error(client: httpx.AsyncClient, auth: dict[str, str], code: int, status: int = 400,
                       **over: Any) -> None:
    r = await post(client, auth, **over)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text
    assert set(r.json()["error"]) >= {"code", "description"}


async def test_documented_example_is_accepted_sent_and_delivered(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner,
        clock: ManualClock) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=1s"))
    r = await post(client, auth)
    assert r.status_code == 202, r.text
    body = r.json()
    assert list(body) == ["campaignId", "sendingId", "result"] and body["campaignId"] is None
    [item] = body["result"]
    assert item == {"accepted": True, "to": "34666555444", "id": item["id"], "parts": 1, "scheduledAt": None,
                    "expiresAt": None}
    assert isinstance(item["id"], str)
    await runner.run_until_idle()
    clock.advance(2)
    await runner.run_until_idle()
    assert await _events(db, row_id(Kind.MESSAGE, item["id"])) == ["sent", "delivered"]

    r = await client.get(f"{URL}/{item['id']}", headers=auth)
    assert r.status_code == 200, r.text
    [shown] = r.json()["data"]
    assert shown["id"] == item["id"] and shown["from"] == "TEST" and shown["to"] == "34666555444"
    assert shown["message"] == "SMS text message" and shown["sendingId"] == body["sendingId"]
    assert shown["isDelivered"] is True and shown["isClicked"] is False
    assert [e["type"] for e in shown["events"]] == ["sent", "delivered"]
    assert set(shown["events"][0]) == {"type", "date", "isMobile", "browser", "os"}
    assert shown["events"][0]["date"].endswith("+00:00")
    assert shown["customFields"] == {}
    assert shown["links"]["self"] == f"http://tidings.test/api/rest/sms/{item['id']}"


async def test_invalid_recipients_are_refused_one_by_one(client: httpx.AsyncClient, auth: dict[str, str],
                                                         db: Database) -> None:
    r = await post(client, auth, to=["34666555444", "34", "+34 666 55 54 43", "not a number", 34666555442])
    assert r.status_code == 207, r.text
    result = r.json()["result"]
    assert [x["accepted"] for x in result] == [True, False, True, False, True]
    assert result[1] == {"accepted": False, "to": "34", "error": {"code": 102, "description": "No valid recipients"}}
    assert result[2]["to"] == "34666555443", "recipients are normalised to international digits"
    assert [m.recipient for m in await _messages(db)] == ["34666555444", "34666555443", "34666555442"]
    async with db.sessions() as s:
        sending = (await s.execute(select(Sending))).scalar_one()
    assert (sending.total, sending.accepted, sending.rejected) == (5, 3, 2)


async def test_a_requests_messages_share_their_acceptance_and_each_keep_its_own_values(
        client: httpx.AsyncClient, auth: dict[str, str], db: Database) -> None:
    # The messages of one request are accepted at one moment (due then, unless scheduled); columns the rows have
    # alike are bound once by the bulk insert, the others (recipient, text) stay each message's own.
    r = await post(client, auth, to=["34666555444", "34666555443", "34666555442"], message="Hi {NAME}",
                   sub=[{"NAME": "Ana"}, {"NAME": "Bo"}, {"NAME": "Ana"}])
    assert r.status_code == 202, r.text
    messages = await _messages(db)
    assert [(m.recipient, m.body) for m in messages] == [
        ("34666555444", "Hi Ana"), ("34666555443", "Hi Bo"), ("34666555442", "Hi Ana")]
    assert len({m.created_at for m in messages}) == 1 and all(m.due_at == m.created_at for m in messages)
    assert all(m.scheduled_at is None and m.status == "queued" and m.sender == "TEST" for m in messages)


async def test_no_valid_recipient_is_400_and_writes_nothing(client: httpx.AsyncClient, auth: dict[str, str],
                                                            db: Database) -> None:
    await expect_error(client, auth, 102, to=["34", "abc"])
    await expect_error(client, auth, 102, to=[])
    await expect_error(client, auth, 102, to=None)
    assert await _messages(db) == []
    async with db.sessions() as s:
        assert (await s.execute(select(Sending))).first() is None


async def test_documented_error_codes(client: httpx.AsyncClient, auth: dict[str, str], db: Database) -> None:
    await expect_error(client, auth, 104, message="")
    await expect_error(client, auth, 104, message=None)
    await expect_error(client, auth, 106, **{"from": ""})
    await expect_error(client, auth, 107, **{"from": "ABCDEFGHIJKL"})
    await expect_error(client, auth, 107, **{"from": "1234567890123456"})
    await expect_error(client, auth, 113, encoding="latin1")
    await expect_error(client, auth, 110, parts=0)
    await expect_error(client, auth, 110, parts=16)
    await expect_error(client, auth, 110, parts="two")
    await expect_error(client, auth, 108, scheduleDate="2026-01-10 10:00")
    await expect_error(client, auth, 108, scheduleDate="20261310100000")
    await expect_error(client, auth, 119, expirationDate="tomorrow")
    await expect_error(client, auth, 119, expirationDate="20200101000000")
    await expect_error(client, auth, 119, scheduleDate="20300101100000", expirationDate="20300101090000")
    await expect_error(client, auth, 109, notificationUrl="ftp://example.com/x")
    await expect_error(client, auth, 109, notificationUrl=["https://example.com/a", "https://example.com/b"])
    await expect_error(client, auth, 126, tags=["promo"])
    await expect_error(client, auth, 126, campaignName="  ")
    await expect_error(client, auth, 183, availableTimes="{}")
    await expect_error(client, auth, 185, availableTimes=[{"day": 8, "from": "09:00", "to": "10:00"}])
    await expect_error(client, auth, 188, availableTimes=[{"from": "11:00", "to": "10:00"}])
    await expect_error(client, auth, 422, status=422, sub=[{"name": "a"}, {"name": "b"}])
    await expect_error(client, auth, 422, status=422, trans=2)
    await expect_error(client, auth, 422, status=422, flash="maybe")
    r = await client.post(URL, content=b'{"to": ["34666555444"', headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == 125
    r = await client.post(URL, json=sms())
    assert r.status_code == 401 and r.json()["error"]["code"] == 103
    assert await _messages(db) == []


async def test_parts_are_the_minimum_needed_and_limited(client: httpx.AsyncClient, auth: dict[str, str],
                                                        db: Database) -> None:
    await expect_error(client, auth, 105, message="x" * 161)
    r = await post(client, auth, message="x" * 161, parts=3)
    assert r.status_code == 202 and r.json()["result"][0]["parts"] == 2, "only the parts needed are used"
    await expect_error(client, auth, 105, message="x" * 307, parts=2)
    r = await post(client, auth, message="x" * 306, parts=2)
    assert r.json()["result"][0]["parts"] == 2
    # Extension characters count twice: 80 euro signs are 160 septets, one more needs a second part.
    assert (await post(client, auth, message="€" * 80)).json()["result"][0]["parts"] == 1
    await expect_error(client, auth, 105, message="€" * 81)
    # UCS-2: 70 characters in one part, 67 a part after that.
    r = await post(client, auth, message="ж" * 70, encoding="utf-16")
    assert r.json()["result"][0]["parts"] == 1
    r = await post(client, auth, message="ж" * 135, encoding="utf-16", parts=3)
    assert r.json()["result"][0]["parts"] == 3
    await expect_error(client, auth, 105, message="ж" * 71, encoding="utf-16")
    await expect_error(client, auth, 105, message="x" * (153 * 15 + 1), parts=15)
    r = await post(client, auth, message="x" * (153 * 15), parts=15)
    assert r.json()["result"][0]["parts"] == 15


async def test_encodings(client: httpx.AsyncClient, auth: dict[str, str], db: Database) -> None:
    r = await post(client, auth, message="Olá, está tudo bem? ã õ", encoding="gsm-pt")
    assert r.status_code == 202, r.text
    await expect_error(client, auth, 113, message="Olá ж", encoding="gsm")
    r = await post(client, auth, message="Привет")
    assert r.status_code == 202, "without encoding a text that is not GSM goes as utf-16"
    encodings = [m.encoding for m in await _messages(db)]
    assert encodings == ["gsm-pt", "utf-16"]


async def test_trans_translates_with_the_documented_table(client: httpx.AsyncClient, auth: dict[str, str],
                                                          db: Database) -> None:
    r = await post(client, auth, message="Olá, ação nº1 ª", trans=1, encoding="gsm")
    assert r.status_code == 202, r.text
    [message] = await _messages(db)
    assert message.body == "Ola, aÇao n1 " and message.encoding == "gsm"


async def test_sub_filters_contacts_and_unsubscribe(app: Any, client: httpx.AsyncClient, auth: dict[str, str],
                                                    db: Database, account: NewAccount, runner: Runner) -> None:
    async with db.transaction() as s:
        s.add(Contact(account_id=account.account_id, phone="34666555443", first_name="ana", email="ana@test.test",
                      custom_fields={"city": "madrid"}, in_database=True))
    r = await post(client, auth, to=["34666555444", "34666555443"],
                   message="Hi {name|capitalize} {CITY|upper} {amount|formatDotComma} {url|shorten} {UNSUB_URL}",
                   sub=[{"name": "BOB SMITH", "amount": "1234.5", "url": "https://acme.test/x"}, {}])
    assert r.status_code == 202, r.text
    first, second = await _messages(db)
    head, short, tail = first.body.rsplit(" ", 2)
    assert head == "Hi Bob smith {CITY|upper} 1.234,5" and tail == "{UNSUB_URL}"
    assert short.startswith("http://tidings.test/s/"), "{url|shorten} gives a short link"
    hop = await client.get(short.removeprefix("http://tidings.test"), follow_redirects=False)
    assert hop.status_code == 302 and hop.headers["location"] == "https://acme.test/x"
    assert second.body.startswith("Hi Ana MADRID {amount|formatDotComma}")
    assert second.contact_id is not None
    await runner.run_until_idle()
    shown = [str(public_id(Kind.MESSAGE, first.id)), str(public_id(Kind.MESSAGE, second.id))]
    r = await client.get(f"{URL}/{','.join(shown)}", headers=auth)
    data = r.json()["data"]
    assert [d["id"] for d in data] == shown
    assert data[0]["message"].startswith("Hi Bob smith") and "/u/" in data[0]["message"]
    assert "{UNSUB_URL}" not in data[0]["message"]
    assert data[0]["customFields"] == {"name": "BOB SMITH", "amount": "1234.5", "url": "https://acme.test/x"}
    assert data[1]["customFields"]["email"] == "ana@test.test" and data[1]["customFields"]["city"] == "madrid"


async def test_a_recipient_whose_text_grows_too_long_is_refused_alone(client: httpx.AsyncClient,
                                                                      auth: dict[str, str]) -> None:
    r = await post(client, auth, to=["34666555444", "34666555443"], message="Hi {name}" + "x" * 150,
                   sub=[{"name": "Al"}, {"name": "Bartholomew"}])
    assert r.status_code == 207, r.text
    assert [x.get("error", {}).get("code") for x in r.json()["result"]] == [None, 105]


async def test_schedule_expiry_flash_certified_and_options(app: Any, client: httpx.AsyncClient,
                                                           auth: dict[str, str], db: Database, runner: Runner,
                                                           clock: ManualClock) -> None:
    r = await post(client, auth, scheduleDate="20260105100000", expirationDate="20260105120000", flash=True,
                   certified=True, splitParts=True, notificationUrl="https://example.com/n?s=%s")
    assert r.status_code == 202, r.text
    item = r.json()["result"][0]
    assert item["scheduledAt"] == "2026-01-05 10:00:00" and item["expiresAt"] == "2026-01-05 12:00:00"
    [message] = await _messages(db)
    assert message.due_at == datetime(2026, 1, 5, 10, tzinfo=UTC)
    assert message.extra["flash"] and message.extra["certified"] and message.extra["split_parts"]
    assert message.extra["notification_url"] == "https://example.com/n?s=%s"
    await runner.run_until_idle()
    assert await _events(db, message.id) == []
    clock.advance(timedelta(hours=1))
    await runner.run_until_idle()
    assert (await _events(db, message.id))[0] == "sent"
    # A schedule date already past means now.
    r = await post(client, auth, scheduleDate="20200101000000")
    assert r.status_code == 202 and r.json()["result"][0]["scheduledAt"] is None


async def test_expired_before_sending(client: httpx.AsyncClient, auth: dict[str, str], db: Database,
                                      runner: Runner, clock: ManualClock) -> None:
    r = await post(client, auth, scheduleDate="20260105100000", expirationDate="20260105100500")
    assert r.status_code == 202
    clock.advance(timedelta(hours=2))
    await runner.run_until_idle()
    [message] = await _messages(db)
    assert await _events(db, message.id) == ["expired"]


async def test_available_times_hold_messages_until_a_window_opens(client: httpx.AsyncClient, auth: dict[str, str],
                                                                  db: Database, runner: Runner,
                                                                  clock: ManualClock) -> None:
    # The clock starts on Monday 2026-01-05 09:00 UTC; the window opens at 18:00 on Mondays.
    r = await post(client, auth, availableTimes=[{"day": 1, "from": "18:00", "to": "21:00"}])
    assert r.status_code == 202, r.text
    await runner.run_until_idle()
    [message] = await _messages(db)
    assert await _events(db, message.id) == []
    assert message.due_at == datetime(2026, 1, 5, 18, tzinfo=UTC)
    clock.set(datetime(2026, 1, 5, 18, 0, 1, tzinfo=UTC))
    await runner.run_until_idle()
    assert (await _events(db, message.id))[0] == "sent"


async def test_campaign_is_created_then_reused_with_a_sending_per_request(
        client: httpx.AsyncClient, auth: dict[str, str], db: Database) -> None:
    one = (await post(client, auth, campaignName="Promo", tags=["a", "b"])).json()
    two = (await post(client, auth, campaignName="Promo", tags=["c"])).json()
    assert one["campaignId"] == two["campaignId"] and one["sendingId"] != two["sendingId"]
    async with db.sessions() as s:
        campaign = (await s.execute(select(Campaign))).scalar_one()
    assert campaign.name == "Promo" and campaign.tags == ["a", "b", "c"]


async def test_show_unknown_and_other_accounts_messages_are_404(
        client: httpx.AsyncClient, auth: dict[str, str], make_account: Any) -> None:
    other = await make_account("Other", "owner@other.test")
    r = await client.post(URL, json=sms(), headers=basic(other.username, other.api_password))
    theirs = r.json()["result"][0]["id"]
    for path in (theirs, "999999", "abc", "99999999999999999999999"):
        r = await client.get(f"{URL}/{path}", headers=auth)
        assert r.status_code == 404 and r.json() == {"error": {"code": 404, "description": "Resource not found"}}
    # The coverage routes are not read as message ids.
    assert (await client.get(f"{URL}/coverage", headers=auth)).status_code == 200


async def test_balance_enforcement_refuses_with_111(app: Any, client: httpx.AsyncClient,
                                                    auth: dict[str, str], db: Database) -> None:
    app.state.settings.enforce_balance = True
    try:
        await expect_error(client, auth, 111, status=402)
    finally:
        app.state.settings.enforce_balance = False
    assert await _messages(db) == []
