"""Tenant isolation: a second agency gets 404 for every id of the first and finds nothing of it."""

from __future__ import annotations

from typing import Any

import httpx

from tidings.api.outreach_v1.ids import encode
from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Thread


async def test_second_agency_sees_nothing(client: httpx.AsyncClient, agency: Any, other: Any, api: Any,
                                          db: Database) -> None:
    await api.ready(agency)
    contact = await api.contact(agency, "shared@example.org")
    box = (await client.get("/api/v1/mailboxes", headers=agency.headers)).json()["data"][0]["id"]
    async with db.transaction() as s:
        from tidings.api.outreach_v1.ids import decode

        thread = Thread(account_id=agency.account.account_id, campaign_id=decode(Kind.CAMPAIGN, agency.campaign_id),
                        enrollment_id=decode(Kind.ENROLLMENT, contact["id"]), subject="s")
        s.add(thread)
        await s.flush()
        thread_id = encode(Kind.THREAD, thread.id)
    camp, cid, h = agency.campaign_id, agency.client_id, other.headers
    gets = [f"/api/v1/campaigns/{camp}", f"/api/v1/campaigns/{camp}/stats", f"/api/v1/campaigns/{camp}/daily-stats",
            f"/api/v1/campaigns/{camp}/contacts", f"/api/v1/campaigns/{camp}/replies",
            f"/api/v1/campaigns/{camp}/steps", f"/api/v1/campaigns/{camp}/contacts/export",
            f"/api/v1/contacts/{contact['id']}", f"/api/v1/contacts/{contact['id']}/replies",
            f"/api/v1/email-threads/{thread_id}", f"/api/v1/clients/{cid}/users", f"/api/v1/mailboxes/{box}"]
    for url in gets:
        r = await client.get(url, headers=h)
        assert r.status_code == 404, url
        assert set(r.json()) <= {"message", "errors"}
    writes = [
        ("POST", "/api/v1/campaigns", {"name": "x", "client_id": cid, "timezone": "UTC"}),
        ("PUT", f"/api/v1/campaigns/{camp}", {"name": "x"}),
        ("POST", "/api/v1/contacts", {"campaign_id": camp, "email": "z@example.org"}),
        ("PUT", "/api/v1/contact-interest", {"contact_id": contact["id"], "interest": "POSITIVE"}),
        ("DELETE", "/api/v1/contact-interest", {"contact_id": contact["id"]}),
        ("POST", f"/api/v1/clients/{cid}/users", {"email": "spy@other.test", "view_campaigns": True}),
        ("PUT", f"/api/v1/clients/{cid}/users", {"email": "spy@other.test"}),
        ("POST", "/api/v1/suppressions/emails", {"client_id": cid, "emails": ["shared@example.org"]}),
        ("POST", "/api/v1/suppressions/domains", {"client_id": cid, "domains": ["example.org"]}),
        ("POST", "/api/v1/mailboxes", {"client_id": cid, "email": "m@other.test", "smtp_host": "h"}),
        ("POST", f"/api/v1/campaigns/{camp}/steps", {"body": "b"}),
        ("PUT", f"/api/v1/campaigns/{camp}/steps/1", {"body": "b"}),
        ("PUT", f"/api/v1/campaigns/{camp}/schedule", {"days": [1], "start": "09:00", "end": "10:00"}),
        ("PUT", f"/api/v1/campaigns/{camp}/mailboxes", {"mailbox_ids": []}),
        ("POST", f"/api/v1/campaigns/{camp}/start", None), ("POST", f"/api/v1/campaigns/{camp}/pause", None),
        ("POST", f"/api/v1/campaigns/{camp}/stop", None),
        ("POST", f"/api/v1/campaigns/{camp}/contacts/import", [{"email": "z@example.org"}]),
    ]
    for method, url, body in writes:
        r = await client.request(method, url, headers=h, json=body)
        assert r.status_code == 404, (method, url, r.text)
    for method, url in (("DELETE", f"/api/v1/clients/{cid}/users?email=owner%40acme.test"),
                        ("DELETE", f"/api/v1/campaigns/{camp}/steps/1"), ("DELETE", f"/api/v1/mailboxes/{box}")):
        assert (await client.request(method, url, headers=h)).status_code == 404, url
    # Its searches and listings find nothing of the first agency.
    assert (await client.get("/api/v1/contacts?email=shared%40example.org", headers=h)).json()["data"] == []
    r = await client.get(f"/api/v1/contacts?email=shared%40example.org&client_id={cid}", headers=h)
    assert r.json()["data"] == []
    assert [c["id"] for c in (await client.get("/api/v1/campaigns", headers=h)).json()["data"]] == [other.campaign_id]
    assert (await client.get(f"/api/v1/campaigns?client_id={cid}", headers=h)).json()["data"] == []
    assert [c["id"] for c in (await client.get("/api/v1/clients", headers=h)).json()["data"]] == [other.client_id]
    assert (await client.get("/api/v1/mailboxes", headers=h)).json()["data"] == []
    # And nothing of the first agency changed.
    r = await client.get(f"/api/v1/contacts/{contact['id']}", headers=agency.headers)
    assert r.json()["data"]["status"] == "OK" and r.json()["data"]["interest"] is None
    r = await client.get(f"/api/v1/campaigns/{camp}", headers=agency.headers)
    assert r.json()["data"]["status"] == "DRAFT" and r.json()["data"]["name"] == "Cremin LLC 13"


async def test_unauthenticated(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/campaigns")
    assert r.status_code == 401 and r.json() == {"message": "Unauthenticated."}
    r = await client.get("/api/v1/campaigns", headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401
