"""GET, PUT and DELETE /api/rest/scheduled: guid (one, many, none), type and sendingId."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tidings.core.clock import ManualClock
from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Event, Message
from tidings.engine.runner import Runner
from tidings.messaging import outbox
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

from helpers import basic, public_id, row_id

URL = "/api/rest/scheduled"
LATER = "20260110100000"


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


async def _schedule(client: httpx.AsyncClient, auth: dict[str, str], to: list[str], when: str = LATER,
                    **over: Any) -> dict[str, Any]:
    r = await client.post("/api/rest/sms", json={"to": to, "from": "SAMPLE", "message": "This is a test",
                                                 "scheduleDate": when, **over}, headers=auth)
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


async def _mailing(db: Database, account: NewAccount, when: datetime) -> int:
    """A scheduled mailing as 5b queues it: channel email, a sending whose source is rest."""
    async with db.transaction() as s:
        subject = AuthSubject(account_id=account.account_id, user_id=1)
        sending = await outbox.open_sending(s, subject, channel="email", source="rest", scheduled_at=when)
        message = await outbox.queue(s, outbox.new_message(
            account_id=account.account_id, channel="email", sender="info@acme.test", recipient="bob@example.test",
            sending=sending, due_at=when, subject="Hello", html="<p>Hi</p>"))
        return public_id(Kind.MESSAGE, message.id)


async def test_list_single_update_and_delete(client: httpx.AsyncClient, auth: dict[str, str], db: Database,
                                             account: NewAccount, clock: ManualClock) -> None:
    first = await _schedule(client, auth, ["34666555444", "34666555443"], campaignName="Promo")
    await _schedule(client, auth, ["34666555442"], when="20260109080000")
    await client.post("/api/rest/sms", json={"to": ["34666555441"], "from": "X", "message": "now"}, headers=auth)
    mail_id = await _mailing(db, account, datetime(2026, 1, 11, tzinfo=UTC))
    ids = [x["id"] for x in first["result"]]

    r = await client.get(URL, headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 4 and len(body["result"]) == 4, "immediate messages are not scheduled"
    soonest = body["result"][0]
    assert soonest["scheduled_at"] == "2026-01-09 08:00:00"
    item = next(x for x in body["result"] if x["guid"] == ids[0])
    assert item == {"guid": ids[0], "type": "SMS", "sending_id": first["sendingId"],
                    "created_at": "2026-01-05 09:00:00", "updated_at": "2026-01-05 09:00:00",
                    "scheduled_at": "2026-01-10 10:00:00"}
    assert {x["type"] for x in body["result"]} == {"SMS", "MAILING"}

    r = await client.get(URL, params={"guid": ids[0]}, headers=auth)
    single = r.json()
    assert single["total"] == 1 and single["result"]["guid"] == ids[0]
    assert single["result"]["content"] == {"to": "34666555444", "from": "SAMPLE", "encoding": "gsm",
                                           "message": "This is a test", "campaignId": first["campaignId"],
                                           "sendingId": first["sendingId"]}
    r = await client.get(URL, params={"guid": str(mail_id)}, headers=auth)
    assert r.json()["result"]["type"] == "MAILING" and r.json()["result"]["content"]["subject"] == "Hello"

    r = await client.get(URL, params={"type": "MAILING"}, headers=auth)
    assert [x["guid"] for x in r.json()["result"]] == [str(mail_id)]
    r = await client.get(URL, params={"sendingId": first["sendingId"]}, headers=auth)
    assert sorted(x["guid"] for x in r.json()["result"]) == sorted(ids)
    r = await client.get(f"{URL}?guid={ids[0]},{ids[1]}", headers=auth)
    assert r.json()["total"] == 2 and isinstance(r.json()["result"], list)
    r = await client.get(f"{URL}?guid[]={ids[1]}", headers=auth)
    assert isinstance(r.json()["result"], list) and r.json()["total"] == 1

    r = await client.put(URL, json={"guid": [int(i) for i in ids], "scheduleDate": "20260112093000"}, headers=auth)
    assert r.status_code == 200 and r.json() == {"result": True, "updated": 2}
    async with db.sessions() as s:
        moved = (await s.execute(select(Message).where(Message.id == row_id(Kind.MESSAGE, ids[0])))).scalar_one()
    assert moved.due_at == moved.scheduled_at == datetime(2026, 1, 12, 9, 30, tzinfo=UTC)
    r = await client.get(URL, params={"guid": ids[0]}, headers=auth)
    assert r.json()["result"]["scheduled_at"] == "2026-01-12 09:30:00"

    r = await client.request("DELETE", URL, json={"guid": int(ids[0])}, headers=auth)
    assert r.status_code == 200 and r.json() == {"result": True, "deleted": 1}
    r = await client.get(URL, params={"guid": ids[0]}, headers=auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == 404
    r = await client.request("DELETE", URL, json={"type": "MAILING"}, headers=auth)
    assert r.json() == {"result": True, "deleted": 1}
    assert (await client.get(URL, headers=auth)).json()["total"] == 2


async def test_no_guid_means_every_scheduled_message(client: httpx.AsyncClient, auth: dict[str, str],
                                                     db: Database, runner: Runner, clock: ManualClock,
                                                     make_account: Any) -> None:
    await _schedule(client, auth, ["34666555444", "34666555443"])
    await _schedule(client, auth, ["34666555442"])
    other = await make_account("Other", "owner@other.test")
    other_auth = basic(other.username, other.api_password)
    await _schedule(client, other_auth, ["34666555444"])
    r = await client.put(URL, json={"scheduleDate": "20260105093000"}, headers=auth)
    assert r.json() == {"result": True, "updated": 3}, "all of this account's, none of the other's"
    clock.advance(31 * 60)
    await runner.run_until_idle()
    async with db.sessions() as s:
        kinds = (await s.execute(select(Event.kind))).scalars().all()
    assert kinds.count("sent") == 3
    assert (await client.get(URL, headers=auth)).json() == {"result": [], "total": 0}
    r = await client.request("DELETE", URL, headers=other_auth)
    assert r.json() == {"result": True, "deleted": 1}
    assert (await client.get(URL, headers=other_auth)).json()["total"] == 0


async def test_a_cancelled_message_is_never_sent(client: httpx.AsyncClient, auth: dict[str, str], db: Database,
                                                 runner: Runner, clock: ManualClock) -> None:
    sent = await _schedule(client, auth, ["34666555444"], when="20260105100000")
    r = await client.request("DELETE", URL, json={"guid": [sent["result"][0]["id"]]}, headers=auth)
    assert r.json()["deleted"] == 1
    clock.advance(3 * 3600)
    await runner.run_until_idle()
    async with db.sessions() as s:
        assert (await s.execute(select(Event))).first() is None
        message = (await s.execute(select(Message))).scalar_one()
    assert message.status == "deleted"


async def test_errors(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for guid in ("abc", [1, "x"], -1, True, "99999999999999999999999"):
        r = await client.request("DELETE", URL, json={"guid": guid}, headers=auth)
        assert r.status_code == 400 and r.json()["error"] == {"code": 120, "description": "Invalid GUID"}, guid
    r = await client.get(URL, params={"guid": "x"}, headers=auth)
    assert r.json()["error"]["code"] == 120
    for date in (None, "tomorrow", "20261340000000"):
        r = await client.put(URL, json={"guid": [1], "scheduleDate": date}, headers=auth)
        assert r.status_code == 400 and r.json()["error"]["code"] == 121, date
    r = await client.get(URL, params={"type": "VOICE"}, headers=auth)
    assert r.status_code == 422 and r.json()["error"]["code"] == 422
    r = await client.get(URL, params={"sendingId": "x"}, headers=auth)
    assert r.status_code == 422
    r = await client.get(URL, params={"guid": "12345"}, headers=auth)
    assert r.status_code == 404
    r = await client.put(URL, content=b"{bad", headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == 125
    assert (await client.get(URL)).status_code == 401
