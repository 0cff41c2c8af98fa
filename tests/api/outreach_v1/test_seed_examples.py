"""The request bodies of the Wavo documents' own examples (seeds 000 and 001) work as written.

Only the ids are replaced by real ones (the documents' ids are placeholders of another install).
"""

from __future__ import annotations

from typing import Any

import httpx

from tidings.tenancy.service import NewAccount

from helpers import bearer

# Seed 000, POST /api/v1/contacts, verbatim but for the campaign id.
CONTACT_000: dict[str, Any] = {
    "email": "daugherty.elsie@example.org", "first_name": "aut", "last_name": "aut", "company": "aut",
    "industry": "aut", "website": "aut", "title": "aut", "phone": "aut", "address": "aut", "city": "aut",
    "state": "aut", "country": "aut", "custom_merge_fields[]": ["aut"]}
# Seed 001's example (its "email": "illo" is not an address, which Wavo refuses too).
CONTACT_001: dict[str, Any] = {
    "email": "illo@example.org", "first_name": "dicta", "last_name": "commodi", "company": "beatae",
    "industry": "non", "website": "nulla", "title": "dolorem", "phone": "molestiae", "address": "voluptatum",
    "city": "ut", "state": "impedit", "country": "vitae",
    "custom_merge_fields": {"fav color": "green", "sport": "climbing", "os": "Windows NT 4.0"}}


async def test_every_documented_example_body_is_accepted(client: httpx.AsyncClient, account: NewAccount) -> None:
    auth = bearer(account.api_token)
    r = await client.post("/api/v1/clients", json={"name": "Thompson LLC", "max_emails": 3}, headers=auth)
    assert r.status_code == 201, r.text
    client_id = r.json()["data"]["id"]
    r = await client.post("/api/v1/campaigns", headers=auth,
                          json={"name": "aut", "client_id": client_id, "timezone": "US/Mountain"})
    assert r.status_code == 200, r.text
    campaign_id = r.json()["data"]["id"]

    r = await client.post("/api/v1/contacts", json={"campaign_id": campaign_id, **CONTACT_000}, headers=auth)
    assert r.status_code == 201, r.text
    contact = r.json()["data"][0]
    assert contact["email"] == "daugherty.elsie@example.org" and contact["first_name"] == "aut"
    assert contact["custom_merge_fields"] in ({}, []), "a bare value names no field, so none is stored"
    r = await client.post("/api/v1/contacts", json={"campaign_id": campaign_id, **CONTACT_001}, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["data"][0]["custom_merge_fields"] == CONTACT_001["custom_merge_fields"]
    r = await client.post("/api/v1/contacts", headers=auth, json={
        "campaign_id": campaign_id, "email": "ann@example.org", "custom_merge_fields[]": ["sport:running", "aut"]})
    assert r.status_code == 201 and r.json()["data"][0]["custom_merge_fields"] == {"sport": "running"}

    r = await client.put("/api/v1/contact-interest", json={"contact_id": contact["id"], "interest": "POSITIVE"},
                         headers=auth)
    assert r.status_code == 200, r.text
    r = await client.request("DELETE", "/api/v1/contact-interest", json={"contact_id": contact["id"]}, headers=auth)
    assert r.status_code == 200, r.text

    user = {"email": "mike@wavo.co", "view_campaigns": True, "create_campaigns": True, "export_campaigns": True}
    r = await client.post(f"/api/v1/clients/{client_id}/users", json=user, headers=auth)
    assert r.status_code == 200, r.text
    for body in (user, {"email": "mike@wavo.co", "view_campaigns": False, "create_campaigns": False,
                  "export_campaigns": True}):
        r = await client.put(f"/api/v1/clients/{client_id}/users", json=body, headers=auth)
        assert r.status_code == 200, r.text
    r = await client.request("DELETE", f"/api/v1/clients/{client_id}/users?email=mike%40wavo.co",
                             json={"email": "mike@wavo.co"}, headers=auth)
    assert r.status_code in (200, 204), r.text

    r = await client.post("/api/v1/suppressions/emails", headers=auth, json={
        "client_id": client_id, "emails": ["alicia.hammes@example.com", "douglas.herman@example.com"]})
    assert r.status_code == 201, r.text
    r = await client.post("/api/v1/suppressions/domains", headers=auth,
                          json={"client_id": client_id, "domains": ["domain1.com", "domain2.com"]})
    assert r.status_code == 201, r.text
