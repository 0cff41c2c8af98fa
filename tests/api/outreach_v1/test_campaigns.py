"""Clients, campaigns, stats, steps, schedule, mailboxes and the status machine."""

from __future__ import annotations

import re
from typing import Any

import httpx
from sqlalchemy import select

from tidings.api.outreach_v1.ids import decode
from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Enrollment, Mailbox
from tidings.outreach import counters
from tidings.outreach.campaigns.service import complete_if_finished

ID20 = re.compile(r"^[a-z0-9]{20}$")


async def test_clients_list_and_create(client: httpx.AsyncClient, agency: Any) -> None:
    r = await client.get("/api/v1/clients", headers=agency.headers)
    assert r.status_code == 200
    [c] = r.json()["data"]
    assert set(c) == {"id", "name", "max_emails", "created_at"} and ID20.match(c["id"])
    assert c["name"] == "Cremin LLC" and c["max_emails"] == 3 and isinstance(c["created_at"], int)
    r = await client.post("/api/v1/clients", json={"name": ""}, headers=agency.headers)
    assert r.status_code == 422 and "name" in r.json()["errors"]


async def test_campaign_create_and_list(client: httpx.AsyncClient, agency: Any, api: Any) -> None:
    r = await client.get("/api/v1/campaigns", headers=agency.headers)
    assert r.status_code == 200
    [c] = r.json()["data"]
    assert list(c) == ["id", "name", "timezone", "status", "created_at", "client"]
    assert ID20.match(c["id"]) and c["status"] == "DRAFT" and c["timezone"] == "US/Mountain"
    assert list(c["client"]) == ["id", "name", "max_emails", "created_at"]
    assert c["client"]["id"] == agency.client_id
    # A second client with its own campaign; the client_id filter returns only its campaigns.
    r = await client.post("/api/v1/clients", json={"name": "Brekke LLC", "max_emails": 3}, headers=agency.headers)
    other_client = r.json()["data"]["id"]
    r = await client.post("/api/v1/campaigns", json={"name": "Brekke LLC 4", "client_id": other_client,
                                                     "timezone": "US/Mountain"}, headers=agency.headers)
    assert r.status_code == 200
    r = await client.get(f"/api/v1/campaigns?client_id={other_client}", headers=agency.headers)
    assert [c["name"] for c in r.json()["data"]] == ["Brekke LLC 4"]
    r = await client.get("/api/v1/campaigns?client_id=nonsense", headers=agency.headers)
    assert r.json()["data"] == []


async def test_campaign_validation(client: httpx.AsyncClient, agency: Any) -> None:
    r = await client.post("/api/v1/campaigns", json={"name": "x", "client_id": agency.client_id,
                                                     "timezone": "Mars/Base"}, headers=agency.headers)
    assert r.status_code == 422 and r.json()["errors"]["timezone"]
    r = await client.post("/api/v1/campaigns", json={"client_id": agency.client_id}, headers=agency.headers)
    assert r.status_code == 422 and {"name", "timezone"} <= set(r.json()["errors"])
    r = await client.post("/api/v1/campaigns", json={"name": "x", "client_id": "a" * 20, "timezone": "UTC"},
                          headers=agency.headers)
    assert r.status_code == 404
    r = await client.post("/api/v1/campaigns", content=b"{not json", headers={**agency.headers,
                                                                             "Content-Type": "application/json"})
    assert r.status_code in (400, 422)
    r = await client.post("/api/v1/campaigns", json={"name": "x", "client_id": agency.client_id,
                                                     "timezone": "UTC", "settings": {"track_opens": "yes"}},
                          headers=agency.headers)
    assert r.status_code == 422


async def test_update_campaign_settings(client: httpx.AsyncClient, agency: Any) -> None:
    r = await client.put(f"/api/v1/campaigns/{agency.campaign_id}", headers=agency.headers,
                         json={"name": "Renamed", "settings": {"track_opens": True}})
    assert r.status_code == 200
    data = r.json()["data"]
    assert data["name"] == "Renamed"
    assert data["settings"] == {"track_opens": True, "track_clicks": False, "stop_on_autoreply": False}
    r = await client.get(f"/api/v1/campaigns/{agency.campaign_id}", headers=agency.headers)
    assert r.json()["data"]["settings"]["track_opens"] is True


async def test_stats_zero_with_documented_shape(client: httpx.AsyncClient, agency: Any, api: Any) -> None:
    await api.ready(agency)
    r = await client.get(f"/api/v1/campaigns/{agency.campaign_id}/stats", headers=agency.headers)
    assert r.status_code == 200
    data = r.json()["data"]
    assert list(data) == [*counters.CAMPAIGN_METRICS, "campaign_steps"]
    assert all(data[m] == 0 for m in counters.CAMPAIGN_METRICS)
    assert data["campaign_steps"] == [{"number": 1, "sent": 0, "queued": 0, "contacted": 0, "replied": 0,
                                       "positive": 0, "bounced": 0, "messages_clicked": 0, "messages_opened": 0}]
    r = await client.get(f"/api/v1/campaigns/{agency.campaign_id}/daily-stats", headers=agency.headers)
    assert r.status_code == 200 and r.json() == {"data": []}


async def test_stats_from_counters(client: httpx.AsyncClient, agency: Any, api: Any, db: Database,
                                   clock: Any) -> None:
    await api.ready(agency)
    await client.post(f"/api/v1/campaigns/{agency.campaign_id}/steps", headers=agency.headers,
                      json={"subject": "Follow up", "body": "Again", "delay_days": 0.5})
    for n in range(3):
        await api.contact(agency, f"p{n}@example.org")
    r = await client.post(f"/api/v1/campaigns/{agency.campaign_id}/start", headers=agency.headers)
    assert r.status_code == 200
    pk = decode(Kind.CAMPAIGN, agency.campaign_id)
    assert pk is not None
    async with db.transaction() as s:
        account_id = agency.account.account_id
        for metric in ("messages_sent", "contacted"):
            await counters.count(s, account_id=account_id, campaign_id=pk, metric=metric, step=1, by=2)
        clock.advance(86400)
        await counters.count(s, account_id=account_id, campaign_id=pk, metric="replied", step=1)
        one = (await s.execute(select(Enrollment).where(Enrollment.campaign_id == pk).limit(1))).scalar_one()
        one.next_step = 2
    r = await client.get(f"/api/v1/campaigns/{agency.campaign_id}/stats", headers=agency.headers)
    data = r.json()["data"]
    assert data["messages_sent"] == 2 and data["contacted"] == 2 and data["replied"] == 1
    step1, step2 = data["campaign_steps"]
    assert step1["sent"] == 2 and step1["contacted"] == 2 and step1["replied"] == 1 and step1["queued"] == 2
    assert step2["number"] == 2 and step2["queued"] == 1 and step2["sent"] == 0
    r = await client.get(f"/api/v1/campaigns/{agency.campaign_id}/daily-stats", headers=agency.headers)
    days = r.json()["data"]
    assert [d["day"] for d in days] == ["2026-01-05T00:00:00.000000Z", "2026-01-06T00:00:00.000000Z"]
    assert list(days[0]) == ["day", *counters.CAMPAIGN_METRICS]
    assert days[0]["messages_sent"] == 2 and days[1]["replied"] == 1
    r = await client.get(f"/api/v1/campaigns/{agency.campaign_id}/daily-stats?start=1767657600",
                         headers=agency.headers)
    assert [d["day"] for d in r.json()["data"]] == ["2026-01-06T00:00:00.000000Z"]
    r = await client.get(f"/api/v1/campaigns/{agency.campaign_id}/daily-stats?start=abc", headers=agency.headers)
    assert r.status_code == 422


async def test_steps_crud(client: httpx.AsyncClient, agency: Any) -> None:
    base = f"/api/v1/campaigns/{agency.campaign_id}/steps"
    r = await client.post(base, headers=agency.headers, json={
        "subject": "{Hi|Hello} {{first_name|there}}", "body": "<p>{{company}}</p>",
        "variants": [{"subject": "B", "body": "<p>b</p>"}]})
    assert r.status_code == 201
    assert r.json()["data"]["number"] == 1 and r.json()["data"]["variants"] == [{"subject": "B", "body": "<p>b</p>"}]
    r = await client.post(base, headers=agency.headers, json={"subject": "2", "body": "two", "delay_days": 0.5})
    assert r.json()["data"] == {**r.json()["data"], "number": 2, "delay_days": 0.5}
    r = await client.post(base, headers=agency.headers, json={"subject": "3", "body": "three", "delay_days": 2})
    r = await client.put(f"{base}/2", headers=agency.headers, json={"body": "TWO"})
    assert r.status_code == 200 and r.json()["data"]["body"] == "TWO" and r.json()["data"]["subject"] == "2"
    r = await client.delete(f"{base}/2", headers=agency.headers)
    assert r.status_code == 204
    r = await client.get(base, headers=agency.headers)
    assert [(s["number"], s["subject"]) for s in r.json()["data"]] == [(1, "{Hi|Hello} {{first_name|there}}"),
                                                                       (2, "3")]
    for bad in ({"body": ""}, {"body": "x", "delay_days": -1}, {"body": "x", "delay_days": "soon"},
                {"subject": 5}):
        r = await client.post(base, headers=agency.headers, json=bad)
        assert r.status_code == 422, bad
    # Unbalanced braces are text; they must not crash the preview.
    r = await client.post(base, headers=agency.headers, json={"subject": "{{oops", "body": "{a|b"})
    assert r.status_code == 201
    assert (await client.put(f"{base}/9", headers=agency.headers, json={"body": "x"})).status_code == 404
    assert (await client.delete(f"{base}/9", headers=agency.headers)).status_code == 404


async def test_schedule(client: httpx.AsyncClient, agency: Any) -> None:
    url = f"/api/v1/campaigns/{agency.campaign_id}/schedule"
    r = await client.put(url, headers=agency.headers, json={"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:30"})
    assert r.status_code == 200
    assert r.json()["data"]["schedule"] == {"days": [1, 2, 3, 4, 5], "start": "09:00", "end": "17:30"}
    for bad in ({"days": [0], "start": "09:00", "end": "17:00"}, {"days": [1], "start": "9", "end": "17:00"},
                {"days": [1], "start": "18:00", "end": "17:00"}, {"days": [], "start": "09:00", "end": "10:00"}):
        assert (await client.put(url, headers=agency.headers, json=bad)).status_code == 422, bad


async def test_mailboxes(client: httpx.AsyncClient, agency: Any, api: Any, db: Database) -> None:
    r = await client.post("/api/v1/mailboxes", headers=agency.headers, json={
        "client_id": agency.client_id, "email": "ann@acme.test", "name": "Ann", "smtp_host": "smtp.acme.test",
        "smtp_port": 465, "smtp_username": "ann", "smtp_password": "pw-smtp", "smtp_security": "tls",
        "imap_host": "imap.acme.test", "imap_port": 993, "imap_username": "ann", "imap_password": "pw-imap",
        "imap_security": "tls", "daily_limit": 40, "min_interval_seconds": 90})
    assert r.status_code == 201, r.text
    box = r.json()["data"]
    assert "pw-smtp" not in r.text and "password" not in " ".join(box)
    assert box["status"] == "active" and box["last_error"] is None and box["daily_limit"] == 40
    async with db.transaction() as s:
        row = (await s.execute(select(Mailbox))).scalar_one()
        assert row.smtp_password_enc and "pw-smtp" not in row.smtp_password_enc
        from tidings.core.secrets import vault

        assert vault().decrypt(row.smtp_password_enc) == "pw-smtp"
        assert vault().decrypt(row.imap_password_enc or "") == "pw-imap"
    r = await client.get("/api/v1/mailboxes", headers=agency.headers)
    assert [b["email"] for b in r.json()["data"]] == ["ann@acme.test"] and "pw-" not in r.text
    assert (await client.get(f"/api/v1/mailboxes/{box['id']}", headers=agency.headers)).status_code == 200
    await api.mailbox(agency, "b@acme.test")
    await api.mailbox(agency, "c@acme.test")
    r = await client.post("/api/v1/mailboxes", headers=agency.headers, json={
        "client_id": agency.client_id, "email": "d@acme.test", "smtp_host": "h", "smtp_password": "x"})
    assert r.status_code == 422 and "client_id" in r.json()["errors"]
    r = await client.post("/api/v1/mailboxes", headers=agency.headers, json={
        "email": "e@acme.test", "smtp_host": "h", "smtp_security": "ssl"})
    assert r.status_code == 422
    assert (await client.delete(f"/api/v1/mailboxes/{box['id']}", headers=agency.headers)).status_code == 204
    assert (await client.get(f"/api/v1/mailboxes/{box['id']}", headers=agency.headers)).status_code == 404


async def test_campaign_mailboxes(client: httpx.AsyncClient, agency: Any, api: Any) -> None:
    box = await api.mailbox(agency)
    url = f"/api/v1/campaigns/{agency.campaign_id}/mailboxes"
    r = await client.put(url, headers=agency.headers, json={"mailbox_ids": [box, box]})
    assert r.status_code == 200 and [b["id"] for b in r.json()["data"]] == [box]
    r = await client.get(f"/api/v1/campaigns/{agency.campaign_id}", headers=agency.headers)
    assert r.json()["data"]["mailbox_ids"] == [box]
    r = await client.put(url, headers=agency.headers, json={"mailbox_ids": ["zzzz"]})
    assert r.status_code == 422
    # A mailbox of another client cannot send for this campaign.
    r = await client.post("/api/v1/clients", json={"name": "Other client", "max_emails": 1}, headers=agency.headers)
    other_client = r.json()["data"]["id"]
    r = await client.post("/api/v1/mailboxes", headers=agency.headers, json={
        "client_id": other_client, "email": "x@acme.test", "smtp_host": "h", "smtp_password": "x"})
    r = await client.put(url, headers=agency.headers, json={"mailbox_ids": [r.json()["data"]["id"]]})
    assert r.status_code == 422


async def test_start_pause_stop(client: httpx.AsyncClient, agency: Any, api: Any, db: Database, clock: Any) -> None:
    base = f"/api/v1/campaigns/{agency.campaign_id}"
    r = await client.post(f"{base}/start", headers=agency.headers)
    assert r.status_code == 422 and set(r.json()["errors"]) == {"steps", "mailboxes"}
    await client.post(f"{base}/steps", headers=agency.headers, json={"subject": "s", "body": "b"})
    r = await client.post(f"{base}/start", headers=agency.headers)
    assert r.status_code == 422 and set(r.json()["errors"]) == {"mailboxes"} and "mailbox" in r.json()["message"]
    box = await api.mailbox(agency)
    await client.put(f"{base}/mailboxes", headers=agency.headers, json={"mailbox_ids": [box]})
    before = await api.contact(agency, "before@example.org")
    assert (await client.post(f"{base}/pause", headers=agency.headers)).status_code == 422
    r = await client.post(f"{base}/start", headers=agency.headers)
    assert r.status_code == 200 and r.json()["data"]["status"] == "RUNNING"
    assert r.json()["data"]["started_at"] == int(clock.now().timestamp())
    clock.advance(60)
    after = await api.contact(agency, "after@example.org")
    async with db.transaction() as s:
        rows = {e.id: e for e in (await s.execute(select(Enrollment))).scalars()}
    assert rows[decode(Kind.ENROLLMENT, before["id"]) or 0].next_due_at is not None
    assert rows[decode(Kind.ENROLLMENT, after["id"]) or 0].next_due_at == clock.now()
    assert (await client.post(f"{base}/pause", headers=agency.headers)).json()["data"]["status"] == "PAUSED"
    assert (await client.post(f"{base}/start", headers=agency.headers)).json()["data"]["status"] == "RUNNING"
    assert (await client.post(f"{base}/stop", headers=agency.headers)).json()["data"]["status"] == "STOPPED"
    assert (await client.post(f"{base}/start", headers=agency.headers)).status_code == 422
    r = await client.post("/api/v1/contacts", headers=agency.headers,
                          json={"campaign_id": agency.campaign_id, "email": "late@example.org"})
    assert r.status_code == 422


async def test_complete_if_finished(client: httpx.AsyncClient, agency: Any, api: Any, db: Database) -> None:
    await api.ready(agency)
    await api.contact(agency, "one@example.org")
    await client.post(f"/api/v1/campaigns/{agency.campaign_id}/start", headers=agency.headers)
    pk = decode(Kind.CAMPAIGN, agency.campaign_id) or 0
    async with db.transaction() as s:
        assert await complete_if_finished(s, pk) is False
        enrollment = (await s.execute(select(Enrollment))).scalar_one()
        enrollment.next_step, enrollment.completed_steps = 2, 1
        await s.flush()
        assert await complete_if_finished(s, pk) is True
    r = await client.get("/api/v1/campaigns", headers=agency.headers)
    assert r.json()["data"][0]["status"] == "COMPLETED"


async def test_hostile_ids_and_numbers(client: httpx.AsyncClient, agency: Any) -> None:
    base = f"/api/v1/campaigns/{agency.campaign_id}/steps"
    r = await client.put(f"{base}/99999999999999999999", headers=agency.headers, json={"body": "x"})
    assert r.status_code == 422
    for bad in ("x", "a" * 200, "%20", "0" * 20):
        r = await client.get(f"/api/v1/campaigns/{bad}/stats", headers=agency.headers)
        assert r.status_code == 404, bad
