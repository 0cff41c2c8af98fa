"""Client users and invitations, and what each role allows."""

from __future__ import annotations

import itertools
from typing import Any

import httpx
import pytest

from helpers import bearer


async def test_invite_list_update_delete(client: httpx.AsyncClient, agency: Any, api: Any) -> None:
    url = f"/api/v1/clients/{agency.client_id}/users"
    r = await client.post(url, headers=agency.headers,
                          json={"email": "mike@wavo.test", "view_campaigns": True, "create_campaigns": True})
    assert r.status_code == 200 and r.json()["message"] == "An invitation was sent to mike@wavo.test"
    token = r.json()["invitation"]["token"]
    r = await client.get(url, headers=agency.headers)
    assert r.json()["data"]["users"] == []
    [inv] = r.json()["data"]["invitations"]
    assert list(inv) == ["email", "created_at", "roles"] and inv["roles"] == ["view_campaigns", "create_campaigns"]
    r = await client.put(url, headers=agency.headers, json={"email": "mike@wavo.test", "export_campaigns": True,
                                                            "create_campaigns": False})
    assert r.status_code == 200 and r.json() == {"message": "Success. Updated user roles."}
    r = await client.post("/api/v1/invitations/accept", json={"token": token, "name": "Mike Jones"})
    assert r.status_code == 201
    user_headers = bearer(r.json()["data"]["token"])
    assert r.json()["data"]["roles"] == ["view_campaigns", "export_campaigns"]
    assert (await client.post("/api/v1/invitations/accept", json={"token": token})).status_code == 404
    r = await client.get(url, headers=agency.headers)
    [user] = r.json()["data"]["users"]
    assert list(user) == ["name", "email", "created_at", "roles"] and user["name"] == "Mike Jones"
    assert r.json()["data"]["invitations"] == []
    r = await client.get("/api/v1/clients", headers=user_headers)
    assert [c["id"] for c in r.json()["data"]] == [agency.client_id]
    # The user of a client cannot manage users or create clients.
    assert (await client.get(url, headers=user_headers)).status_code == 403
    assert (await client.post("/api/v1/clients", json={"name": "x"}, headers=user_headers)).status_code == 403
    r = await client.delete(f"{url}?email=mike%40wavo.test", headers=agency.headers)
    assert r.status_code == 204 and r.content == b""
    assert (await client.get("/api/v1/clients", headers=user_headers)).status_code == 401
    assert (await client.delete(f"{url}?email=mike%40wavo.test", headers=agency.headers)).status_code == 404
    assert (await client.put(url, headers=agency.headers, json={"email": "ghost@wavo.test"})).status_code == 404
    assert (await client.post(url, headers=agency.headers, json={"email": "bad"})).status_code == 422
    assert (await client.post(url, headers=agency.headers, json={"email": agency.account.email})).status_code == 422
    # Removing a pending invitation works too.
    await client.post(url, headers=agency.headers, json={"email": "pending@wavo.test"})
    assert (await client.delete(f"{url}?email=pending%40wavo.test", headers=agency.headers)).status_code == 204


ROLE_CASES = {
    # endpoint label -> role needed
    "list_campaigns": "view_campaigns", "stats": "view_campaigns", "list_contacts": "view_campaigns",
    "show_contact": "view_campaigns", "search": "view_campaigns", "replies": "view_campaigns",
    "steps": "view_campaigns", "mailboxes": "view_campaigns",
    "create_campaign": "create_campaigns", "create_contact": "create_campaigns", "interest": "create_campaigns",
    "suppress": "create_campaigns", "add_step": "create_campaigns", "import": "create_campaigns",
    "export": "export_campaigns",
}


_SEQ = itertools.count()


async def _call(http: httpx.AsyncClient, label: str, headers: dict[str, str], agency: Any, contact_id: str) -> int:
    cid, camp, n = agency.client_id, agency.campaign_id, next(_SEQ)
    calls: dict[str, Any] = {
        "list_campaigns": lambda: http.get("/api/v1/campaigns", headers=headers),
        "stats": lambda: http.get(f"/api/v1/campaigns/{camp}/stats", headers=headers),
        "list_contacts": lambda: http.get(f"/api/v1/campaigns/{camp}/contacts", headers=headers),
        "show_contact": lambda: http.get(f"/api/v1/contacts/{contact_id}", headers=headers),
        "search": lambda: http.get("/api/v1/contacts?email=a%40example.org", headers=headers),
        "replies": lambda: http.get(f"/api/v1/campaigns/{camp}/replies", headers=headers),
        "steps": lambda: http.get(f"/api/v1/campaigns/{camp}/steps", headers=headers),
        "mailboxes": lambda: http.get("/api/v1/mailboxes", headers=headers),
        "create_campaign": lambda: http.post("/api/v1/campaigns", headers=headers,
                                             json={"name": "n", "client_id": cid, "timezone": "UTC"}),
        "create_contact": lambda: http.post("/api/v1/contacts", headers=headers,
                                            json={"campaign_id": camp, "email": f"new{n}@example.org"}),
        "interest": lambda: http.put("/api/v1/contact-interest", headers=headers,
                                     json={"contact_id": contact_id, "interest": "POSITIVE"}),
        "suppress": lambda: http.post("/api/v1/suppressions/emails", headers=headers,
                                      json={"client_id": cid, "emails": ["s@example.org"]}),
        "add_step": lambda: http.post(f"/api/v1/campaigns/{camp}/steps", headers=headers,
                                      json={"subject": "s", "body": "b"}),
        "import": lambda: http.post(f"/api/v1/campaigns/{camp}/contacts/import", headers=headers,
                                    json=[{"email": "imp@example.org"}]),
        "export": lambda: http.get(f"/api/v1/campaigns/{camp}/contacts/export", headers=headers),
    }
    return int((await calls[label]()).status_code)


@pytest.mark.parametrize("role", ["view_campaigns", "create_campaigns", "export_campaigns"])
async def test_roles_matrix(client: httpx.AsyncClient, agency: Any, api: Any, role: str) -> None:
    contact = await api.contact(agency, "a@example.org")
    with_role = await api.client_user(agency, "with@wavo.test", **{role: True})
    without = await api.client_user(agency, "without@wavo.test",
                                    **{r: True for r in ("view_campaigns", "create_campaigns", "export_campaigns")
                                       if r != role})
    for label, needed in ROLE_CASES.items():
        if needed != role:
            continue
        assert await _call(client, label, with_role, agency, contact["id"]) in (200, 201), label
        assert await _call(client, label, without, agency, contact["id"]) == 403, label
        assert await _call(client, label, agency.headers, agency, contact["id"]) in (200, 201), label


async def test_client_user_sees_only_its_client(client: httpx.AsyncClient, agency: Any, api: Any) -> None:
    r = await client.post("/api/v1/clients", json={"name": "Sibling", "max_emails": 3}, headers=agency.headers)
    sibling = r.json()["data"]["id"]
    r = await client.post("/api/v1/campaigns", json={"name": "Sibling 1", "client_id": sibling, "timezone": "UTC"},
                          headers=agency.headers)
    sibling_campaign = r.json()["data"]["id"]
    r = await client.post("/api/v1/contacts", headers=agency.headers,
                          json={"campaign_id": sibling_campaign, "email": "a@example.org"})
    sibling_contact = r.json()["data"][0]["id"]
    await api.contact(agency, "a@example.org")
    user = await api.client_user(agency, "u@wavo.test", view_campaigns=True, create_campaigns=True,
                                 export_campaigns=True)
    r = await client.get("/api/v1/campaigns", headers=user)
    assert [c["id"] for c in r.json()["data"]] == [agency.campaign_id]
    r = await client.get("/api/v1/contacts?email=a%40example.org", headers=user)
    assert [c["campaign"]["id"] for c in r.json()["data"]] == [agency.campaign_id]
    assert (await client.get(f"/api/v1/contacts/{sibling_contact}", headers=user)).status_code == 404
    assert (await client.get(f"/api/v1/campaigns/{sibling_campaign}/stats", headers=user)).status_code == 404
    r = await client.post("/api/v1/campaigns", json={"name": "x", "client_id": sibling, "timezone": "UTC"},
                          headers=user)
    assert r.status_code == 404
    r = await client.post("/api/v1/campaigns", json={"name": "mine", "client_id": agency.client_id,
                                                     "timezone": "UTC"}, headers=user)
    assert r.status_code == 200
