"""GET /api/rest/sendings/{id}/reports/events (text/csv) and /reports/keys."""

from __future__ import annotations

import csv
import io
from typing import Any

import httpx
import pytest

from tidings.channels.registry import build_provider
from tidings.core.clock import ManualClock
from tidings.engine.runner import Runner
from tidings.tenancy.service import NewAccount

from helpers import basic


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


def _rows(r: httpx.Response) -> list[dict[str, str]]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.text)))


async def test_events_report(app: Any, client: httpx.AsyncClient, auth: dict[str, str], runner: Runner,
                             clock: ManualClock, make_account: Any) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=60s"))
    r = await client.post("/api/rest/sms", headers=auth, json={
        "to": ["34666555444", "351912345678"], "from": "SAMPLE", "message": "Hi {name}", "campaignName": "Promo",
        "sub": [{"name": "Ann"}, {"name": "Bob"}]})
    assert r.status_code == 202, r.text
    sent = r.json()
    await runner.run_until_idle()
    clock.advance(120)
    await runner.run_until_idle()
    url = f"/api/rest/sendings/{sent['sendingId']}/reports/events"
    r = await client.get(url, headers=auth)
    assert r.text.splitlines()[0] == ("campaignName,campaignId,sendingId,contactId,event,phone,email,landline,"
                                      "countryIso,browser,os,url,createdAt")
    rows = _rows(r)
    assert [(x["event"], x["phone"], x["countryIso"]) for x in rows] == [
        ("sent", "34666555444", "ES"), ("sent", "351912345678", "PT"),
        ("delivered", "34666555444", "ES"), ("delivered", "351912345678", "PT")]
    assert rows[0]["campaignName"] == "Promo" and rows[0]["campaignId"] == str(sent["campaignId"])
    assert rows[0]["sendingId"] == str(sent["sendingId"]) and rows[0]["createdAt"] == "2026-01-05T09:00:00+00:00"

    after = _rows(await client.get(url, params={"afterDate": "2026-01-05T09:01:00+00:00"}, headers=auth))
    assert [x["event"] for x in after] == ["delivered", "delivered"]
    before = _rows(await client.get(url, params={"beforeDate": "2026-01-05T09:01:00Z"}, headers=auth))
    assert [x["event"] for x in before] == ["sent", "sent"]
    custom = _rows(await client.get(url, params={"showCustomFields": "1"}, headers=auth))
    assert [x["name"] for x in custom] == ["Ann", "Bob", "Ann", "Bob"]

    r = await client.get(url, params={"afterDate": "not-a-date"}, headers=auth)
    assert r.status_code == 422 and r.json()["error"]["code"] == 422
    other = await make_account("Other", "owner@other.test")
    r = await client.get(url, headers=basic(other.username, other.api_password))
    assert r.status_code == 404 and r.json()["error"]["code"] == 404
    assert (await client.get("/api/rest/sendings/999999/reports/events", headers=auth)).status_code == 404


async def test_keys_report_is_for_voice_interactive_sendings_only(client: httpx.AsyncClient,
                                                                  auth: dict[str, str]) -> None:
    r = await client.post("/api/rest/sms", headers=auth, json={"to": ["34666555444"], "from": "S", "message": "m"})
    r = await client.get(f"/api/rest/sendings/{r.json()['sendingId']}/reports/keys", headers=auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == 404
