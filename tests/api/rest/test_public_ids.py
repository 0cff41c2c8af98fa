"""The messaging dialect's ids tell nothing of the platform's volume: not sequential, and a guess is a 404."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.messaging import senders
from tidings.messaging.certificates import facts, repository
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

from helpers import basic, row_id

NOT_FOUND = {"error": {"code": 404, "description": "Resource not found"}}


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


async def _sms(client: httpx.AsyncClient, auth: dict[str, str], **over: Any) -> dict[str, Any]:
    r = await client.post("/api/rest/sms", headers=auth,
                          json={"to": ["34666555444"], "from": "TIDINGS", "message": "Hi", **over})
    assert r.status_code == 202, r.text
    body: dict[str, Any] = r.json()
    return body


def _near(value: int) -> list[int]:
    """What a client would try next if ids were sequential."""
    return [v for v in (value - 1, value + 1, 1, 2) if v > 0]


async def test_consecutive_sends_have_unrelated_ids_and_neighbours_are_not_found(
        client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    first = await _sms(client, auth, campaignName="Spring")
    second = await _sms(client, auth, campaignName="Summer")
    one, two = int(first["result"][0]["id"]), int(second["result"][0]["id"])
    assert isinstance(first["result"][0]["id"], str), "SMS ids stay strings, as documented"
    assert isinstance(first["sendingId"], int) and isinstance(first["campaignId"], int), "integers, as documented"
    assert abs(two - one) > 1000 and abs(second["sendingId"] - first["sendingId"]) > 1000
    assert abs(second["campaignId"] - first["campaignId"]) > 1000
    assert max(one, two, first["sendingId"], first["campaignId"]) > 10**9, "not small row numbers"

    r = await client.get(f"/api/rest/sms/{one}", headers=auth)
    assert r.status_code == 200 and r.json()["data"][0]["id"] == str(one)
    assert r.json()["data"][0]["sendingId"] == first["sendingId"]
    for guess in _near(one):
        r = await client.get(f"/api/rest/sms/{guess}", headers=auth)
        assert r.status_code == 404 and r.json() == NOT_FOUND, guess
    for path, value in (("sendings", first["sendingId"]), ("campaigns", first["campaignId"])):
        assert (await client.get(f"/api/rest/{path}/{value}", headers=auth)).status_code == 200
        for guess in _near(value):
            r = await client.get(f"/api/rest/{path}/{guess}", headers=auth)
            assert r.status_code == 404 and r.json() == NOT_FOUND, (path, guess)
    # An id of one kind is not an id of another.
    assert (await client.get(f"/api/rest/sendings/{first['campaignId']}", headers=auth)).status_code == 404


async def test_scheduled_guids_and_sending_filters_take_only_public_ids(
        client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    sent = await _sms(client, auth, scheduleDate="20300101093000")
    guid = sent["result"][0]["id"]
    r = await client.get("/api/rest/scheduled", params={"guid": guid}, headers=auth)
    assert r.status_code == 200 and r.json()["result"]["guid"] == guid
    assert r.json()["result"]["content"]["sendingId"] == sent["sendingId"]
    r = await client.get("/api/rest/scheduled", params={"guid": str(row_id(Kind.MESSAGE, guid))}, headers=auth)
    assert r.status_code == 404, "the row's own key is not a guid"
    r = await client.get("/api/rest/scheduled", params={"sendingId": row_id(Kind.SENDING, sent["sendingId"])},
                         headers=auth)
    assert r.json() == {"result": [], "total": 0}
    r = await client.get("/api/rest/scheduled", params={"sendingId": sent["sendingId"]}, headers=auth)
    assert [x["guid"] for x in r.json()["result"]] == [guid]
    assert r.json()["result"][0]["sending_id"] == sent["sendingId"]


async def test_templates_and_senders_ids_are_not_sequential(client: httpx.AsyncClient, auth: dict[str, str],
                                                           db: Database, account: NewAccount) -> None:
    made = [(await client.post("/api/rest/v2/templates", json={"name": f"t{i}", "html": "<p>x</p>"},
                               headers=auth)).json()["data"] for i in range(2)]
    assert abs(made[1]["id"] - made[0]["id"]) > 1000
    assert made[0]["links"]["self"].endswith(f"/api/rest/v2/templates/{made[0]['id']}")
    for guess in _near(made[0]["id"]):
        assert (await client.get(f"/api/rest/v2/templates/{guess}", headers=auth)).status_code == 404
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "info@acme.test")
    r = await client.post("/api/rest/mailing", headers=auth, json={
        "to": ["bob@example.test"], "fromEmail": "info@acme.test", "replyTo": "info@acme.test", "subject": "S",
        "templateV2Id": made[0]["id"]})
    assert r.status_code == 202, r.text
    r = await client.post("/api/rest/mailing", headers=auth, json={
        "to": ["bob@example.test"], "fromEmail": "info@acme.test", "replyTo": "info@acme.test", "subject": "S",
        "templateV2Id": row_id(Kind.TEMPLATE, made[0]["id"])})
    assert r.status_code == 400 and r.json()["error"]["code"] == 140, "a row key is not a template id"

    [sender] = (await client.get("/api/rest/senders", headers=auth)).json()["data"]
    assert sender["id"] > 10**9
    assert (await client.get(f"/api/rest/senders/{sender['id']}", headers=auth)).status_code == 200
    for guess in _near(sender["id"]):
        assert (await client.get(f"/api/rest/senders/{guess}", headers=auth)).status_code == 404


async def test_a_version_1_certificate_code_still_verifies(client: httpx.AsyncClient, auth: dict[str, str],
                                                           db: Database, account: NewAccount, runner: Any) -> None:
    sent = await _sms(client, auth, certified=True)
    await runner.run_until_idle()
    pk = row_id(Kind.MESSAGE, sent["result"][0]["id"])
    owner = AuthSubject(account_id=account.account_id, user_id=0)
    async with db.sessions() as s:
        message = await repository.outbound_message(s, owner, pk, "sms")
        acc = await repository.account(s, owner)
        events = await repository.events(s, owner, pk)
        assert message is not None and acc is not None and events
        through = max(e.id for e in events)
        old = facts.code_for(facts.build(message, acc, events, through=through, public_url="http://tidings.test",
                                         version=1))
    r = await client.get(f"/certificates/verify/{old}")
    assert r.status_code == 200 and r.json()["certificate"]["message_id"] == pk, "issued before public ids"
    r = await client.get(f"/api/rest/sms/certificates/{sent['result'][0]['id']}", headers=auth)
    new = r.headers["x-certificate-code"]
    assert new.split("-")[0] == sent["result"][0]["id"] and new.split("-")[1] == str(len(events))
    verified = (await client.get(f"/certificates/verify/{new}")).json()["certificate"]
    assert verified["message_id"] == int(sent["result"][0]["id"]) and verified["version"] == 2
