"""Blacklist v2: /api/rest/v2/blacklist/{sms|mailing|voice}: list with filters and pages, put, delete, gate."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Event, Suppression
from tidings.engine.runner import Runner
from tidings.messaging import blacklist, outbox
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

from helpers import basic, public_id, row_id

URL = "/api/rest/v2/blacklist"


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


async def test_put_list_delete(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.put(f"{URL}/sms", json={"recipient": "99000000000"}, headers=auth)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert list(data) == ["type", "recipient", "isDefinitive", "campaignName", "createdAt"]
    assert data["type"] == "sms" and data["recipient"] == "99000000000" and data["isDefinitive"] is False
    assert data["campaignName"] is None and data["createdAt"].endswith("+00:00")
    again = await client.put(f"{URL}/sms", json={"recipient": "+99000000000"}, headers=auth)
    assert again.json()["data"] == data, "adding twice keeps one entry"

    r = await client.get(f"{URL}/sms", headers=auth)
    assert r.json()["data"] == [{**data, "sendingId": None}]
    assert list(r.json()["data"][0]) == ["type", "recipient", "isDefinitive", "sendingId", "campaignName", "createdAt"]
    assert r.json()["meta"]["pagination"]["total"] == 1
    assert (await client.get(f"{URL}/voice", headers=auth)).json()["data"] == [], "each type is its own list"

    r = await client.request("DELETE", f"{URL}/sms", json={"recipient": "99000000000"}, headers=auth)
    assert r.status_code == 204
    r = await client.request("DELETE", f"{URL}/sms", json={"recipient": "99000000000"}, headers=auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == 404


async def test_normalisation_and_bad_input(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.put(f"{URL}/mailing", json={"recipient": "Bob@Example.TEST"}, headers=auth)
    assert r.json()["data"]["recipient"] == "bob@example.test"
    r = await client.put(f"{URL}/sms", json={"recipient": "+34 666 55 54 44"}, headers=auth)
    assert r.json()["data"]["recipient"] == "34666555444"
    r = await client.get(f"{URL}/mailing", params={"recipient": "BOB@example.test"}, headers=auth)
    assert len(r.json()["data"]) == 1
    for type_, recipient in (("mailing", "not-an-email"), ("sms", "call me"), ("voice", "12"), ("sms", "")):
        r = await client.put(f"{URL}/{type_}", json={"recipient": recipient}, headers=auth)
        assert r.status_code == 400 and r.json()["error"] == {"code": 102, "description": "No valid recipients"}
    assert (await client.put(f"{URL}/sms", headers=auth)).json()["error"]["code"] == 102
    assert (await client.put(f"{URL}/fax", json={"recipient": "34666555444"}, headers=auth)).status_code == 404
    assert (await client.get(f"{URL}/fax", headers=auth)).status_code == 404
    assert (await client.request("DELETE", f"{URL}/fax", json={"recipient": "1"}, headers=auth)).status_code == 404
    for query in ("limit=0", "limit=1001", "page=0", "sendingId=abc"):
        r = await client.get(f"{URL}/sms?{query}", headers=auth)
        assert r.status_code == 422 and r.json()["error"]["code"] == 422, query
    assert (await client.get(f"{URL}/sms")).status_code == 401


async def test_filters_and_pagination(client: httpx.AsyncClient, auth: dict[str, str], account: NewAccount,
                                      db: Database) -> None:
    subject = AuthSubject(account_id=account.account_id, user_id=1)
    async with db.transaction() as s:
        sending = await outbox.open_sending(s, subject, channel="sms", source="rest", campaign_name="TEST_CAMPAIGN")
        for i in range(5):
            await blacklist.add(s, account.account_id, "sms", f"3466655544{i}",
                                sending_id=sending.id if i < 2 else None)
        sending_id = public_id(Kind.SENDING, sending.id)
    r = await client.get(f"{URL}/sms", params={"limit": 2}, headers=auth)
    body = r.json()
    assert [e["recipient"] for e in body["data"]] == ["34666555444", "34666555443"], "newest first"
    assert body["meta"]["pagination"] == {"total": 5, "count": 2, "per_page": 2, "current_page": 1, "total_pages": 3,
                                          "links": {"next": "http://tidings.test/api/rest/v2/blacklist/sms?limit=2&page=2"}}
    r = await client.get(f"{URL}/sms", params={"limit": 2, "page": 3}, headers=auth)
    assert [e["recipient"] for e in r.json()["data"]] == ["34666555440"]
    assert list(r.json()["meta"]["pagination"]["links"]) == ["previous"]
    r = await client.get(f"{URL}/sms", params={"sendingId": sending_id}, headers=auth)
    assert {e["recipient"] for e in r.json()["data"]} == {"34666555440", "34666555441"}
    assert {e["campaignName"] for e in r.json()["data"]} == {"TEST_CAMPAIGN"}
    assert {e["sendingId"] for e in r.json()["data"]} == {sending_id}
    r = await client.get(f"{URL}/sms", params={"recipient": "+34666555443"}, headers=auth)
    assert [e["recipient"] for e in r.json()["data"]] == ["34666555443"]
    r = await client.get(f"{URL}/sms", params={"recipient": "nothing"}, headers=auth)
    assert r.json()["data"] == []


async def test_accounts_and_outreach_suppressions_are_apart(client: httpx.AsyncClient, auth: dict[str, str],
                                                            account: NewAccount, make_account: Any,
                                                            db: Database) -> None:
    async with db.transaction() as s:
        s.add(Suppression(account_id=account.account_id, client_id=None, channel="email", kind="email",
                          value="outreach@example.test", reason="outreach"))
    other: NewAccount = await make_account("Other", "owner@other.test")
    await client.put(f"{URL}/mailing", json={"recipient": "x@example.test"}, headers=basic(other.username,
                                                                                           other.api_password))
    assert (await client.get(f"{URL}/mailing", headers=auth)).json()["data"] == []
    r = await client.request("DELETE", f"{URL}/mailing", json={"recipient": "outreach@example.test"}, headers=auth)
    assert r.status_code == 404, "the outreach suppression list is not this blacklist"


async def test_gate_refuses_sms_and_voice_of_this_dialect_only(account: NewAccount, db: Database,
                                                               runner: Runner) -> None:
    subject = AuthSubject(account_id=account.account_id, user_id=1)
    async with db.transaction() as s:
        await blacklist.add(s, account.account_id, "sms", "34666555444")
        ids = {}
        for source in ("rest", "omni"):
            sending = await outbox.open_sending(s, subject, channel="sms", source=source)
            message = await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel="sms",
                                                               sender="ACME", recipient="34666555444",
                                                               sending=sending, body="hi"))
            ids[source] = message.id
    await runner.run_until_idle()
    async with db.sessions() as s:
        kinds = {source: [k for (k,) in (await s.execute(select(Event.kind).where(Event.message_id == mid)
                                                         .order_by(Event.id))).all()]
                 for source, mid in ids.items()}
    assert kinds["rest"] == ["rejected"]
    assert kinds["omni"][0] == "sent", "other dialects keep their own lists"


async def test_gate_looks_up_a_whole_batch_per_account(client: httpx.AsyncClient, account: NewAccount,
                                                       make_account: Any, db: Database, runner: Runner) -> None:
    """The dispatcher looks the batch's recipients up at once: each account's own list decides for its messages."""
    other: NewAccount = await make_account("Other", "owner@other.test")
    numbers = [f"3466655{i:04d}" for i in range(12)]
    async with db.transaction() as s:
        for number in numbers[::3]:
            await blacklist.add(s, account.account_id, "sms", number)
        await blacklist.add(s, other.account_id, "sms", numbers[1])
    sent: dict[str, list[int]] = {}
    for who in (account, other):
        r = await client.post("/api/rest/sms", json={"to": numbers, "from": "ACME", "message": "hi"},
                              headers=basic(who.username, who.api_password))
        assert r.status_code == 202, r.text
        sent[who.username] = [row_id(Kind.MESSAGE, item["id"]) for item in r.json()["result"]]
    await runner.run_until_idle()
    async with db.sessions() as s:
        for who, listed in ((account, set(numbers[::3])), (other, {numbers[1]})):
            for number, message_id in zip(numbers, sent[who.username], strict=True):
                kinds = [k for (k,) in (await s.execute(select(Event.kind).where(Event.message_id == message_id)
                                                        .order_by(Event.id))).all()]
                assert kinds[:1] == (["rejected"] if number in listed else ["sent"]), (who.username, number)
