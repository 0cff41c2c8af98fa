"""GET /api/rest/campaigns: sendings with their event counters, filters and meta.pagination."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from tidings.channels.registry import build_provider
from tidings.core.clock import ManualClock
from tidings.engine.runner import Runner
from tidings.tenancy.service import NewAccount

from helpers import basic

URL = "/api/rest/campaigns"


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


async def _send(client: httpx.AsyncClient, auth: dict[str, str], **over: Any) -> dict[str, Any]:
    body = {"to": ["34666555444", "34666555443"], "from": "SAMPLE", "message": "x" * 200, "parts": 2, **over}
    r = await client.post("/api/rest/sms", json=body, headers=auth)
    assert r.status_code == 202, r.text
    out: dict[str, Any] = r.json()
    return out


async def test_campaign_with_sendings_and_counters(app: Any, client: httpx.AsyncClient, auth: dict[str, str],
                                                   runner: Runner, clock: ManualClock) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=1s"))
    sent = await _send(client, auth, campaignName="My campaign", tags=["spring"])
    await runner.run_until_idle()
    clock.advance(2)
    await runner.run_until_idle()
    r = await client.get(URL, headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    [campaign] = body["data"]
    assert campaign["id"] == sent["campaignId"] and campaign["name"] == "My campaign"
    assert campaign["type"] == "basic" and campaign["createdAt"] == "2026-01-05T09:00:00+00:00"
    assert campaign["links"] == {"self": f"http://tidings.test/api/rest/campaigns/{sent['campaignId']}",
                                 "sendings": f"http://tidings.test/api/rest/campaigns/{sent['campaignId']}/sendings"}
    [sending] = campaign["sendings"]["data"]
    assert list(sending) == ["id", "campaignName", "status", "channel", "total", "processed", "totalSmsParts", "cost",
                             "currency", "tags", "scheduledAt", "expiresAt", "startedAt", "finishedAt", "createdAt",
                             "updatedAt", "events", "links"]
    assert sending["id"] == sent["sendingId"] and sending["campaignName"] == "My campaign"
    assert (sending["status"], sending["channel"], sending["total"], sending["processed"]) == ("OPENED", "sms", 2, 2)
    assert sending["totalSmsParts"] == 4 and sending["tags"] == ["spring"] and sending["currency"] == "EUR"
    assert sending["startedAt"] == sending["finishedAt"] == "2026-01-05T09:00:00+00:00"
    assert sending["events"] == {"delivered": 2, "opened": 0, "opened_unique": 0, "clicked": 0, "clicked_unique": 0,
                                 "unsubscribed": 0, "hard_bounced": 0, "complaint": 0, "sent": 2, "soft_bounced": 0,
                                 "undelivered": 0, "rejected": 0, "expired": 0, "unsubscribed_landing": 0}
    assert sending["links"]["eventsReport"].endswith(f"/api/rest/sendings/{sent['sendingId']}/reports/events")
    assert body["meta"]["pagination"] == {"total": 1, "count": 1, "per_page": 100, "current_page": 1,
                                          "total_pages": 1, "links": []}

    # A second request with the same name adds a sending to the same campaign.
    again = await _send(client, auth, campaignName="My campaign", scheduleDate="20260106100000")
    [campaign] = (await client.get(URL, headers=auth)).json()["data"]
    assert [s["id"] for s in campaign["sendings"]["data"]] == [sent["sendingId"], again["sendingId"]]
    pending = campaign["sendings"]["data"][1]
    assert pending["processed"] == 0 and pending["scheduledAt"] == "2026-01-06T10:00:00+00:00"
    assert pending["startedAt"] is None and pending["finishedAt"] is None

    r = await client.get(f"{URL}/{sent['campaignId']}", headers=auth)
    assert r.json()["data"]["id"] == sent["campaignId"]
    r = await client.get(f"{URL}/{sent['campaignId']}/sendings", headers=auth)
    assert len(r.json()["data"]) == 2
    r = await client.get(f"/api/rest/sendings/{sent['sendingId']}", headers=auth)
    assert r.json()["data"]["events"]["delivered"] == 2


async def test_filters_and_pages(client: httpx.AsyncClient, auth: dict[str, str], clock: ManualClock,
                                 make_account: Any) -> None:
    await _send(client, auth, campaignName="CAMPAIGN_2020_A")
    clock.advance(timedelta(days=1))
    await _send(client, auth, campaignName="CAMPAIGN_2020_B")
    clock.advance(timedelta(days=1))
    await _send(client, auth, campaignName="Other")
    await _send(client, auth)  # no campaign
    other = await make_account("Other", "owner@other.test")
    await _send(client, basic(other.username, other.api_password), campaignName="CAMPAIGN_2020_Z")

    async def names(**params: Any) -> list[str]:
        r = await client.get(URL, params=params, headers=auth)
        assert r.status_code == 200, r.text
        return [c["name"] for c in r.json()["data"]]

    assert await names() == ["Other", "CAMPAIGN_2020_B", "CAMPAIGN_2020_A"], "newest first, this account's"
    assert await names(name="CAMPAIGN_2020_*") == ["CAMPAIGN_2020_B", "CAMPAIGN_2020_A"]
    assert await names(name="CAMPAIGN_2020_A") == ["CAMPAIGN_2020_A"]
    assert await names(name="CAMPAIGN%") == [], "only * is a wildcard"
    assert await names(channel="sms") == ["Other", "CAMPAIGN_2020_B", "CAMPAIGN_2020_A"]
    assert await names(channel="mailing") == []
    assert await names(afterDate="2026-01-05T12:00:00+00:00") == ["Other", "CAMPAIGN_2020_B"]
    assert await names(beforeDate="2026-01-06T12:00:00+00:00", afterDate="2026-01-05T12:00:00Z") == \
        ["CAMPAIGN_2020_B"]
    r = await client.get(URL, params={"limit": 2, "page": 2}, headers=auth)
    meta = r.json()["meta"]["pagination"]
    assert [c["name"] for c in r.json()["data"]] == ["CAMPAIGN_2020_A"]
    assert (meta["total"], meta["count"], meta["total_pages"], meta["current_page"]) == (3, 1, 2, 2)
    assert "previous" in meta["links"]
    for params in ({"channel": "fax"}, {"beforeDate": "yesterday"}, {"afterDate": "2026-13-01"}):
        r = await client.get(URL, params=params, headers=auth)
        assert r.status_code == 422 and r.json()["error"]["code"] == 422, params
    assert (await client.get(f"{URL}/999999", headers=auth)).status_code == 404
    assert (await client.get("/api/rest/sendings/abc", headers=auth)).status_code == 404
