"""Bad input is a 4xx in the outreach envelope on both databases, never a 500 or a half-written change."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

NUL = "a\u0000b"
SURROGATE = "a\ud800b"


def _json(body: Any) -> bytes:
    """JSON with NUL and lone surrogates kept as escapes (httpx would fail to encode a surrogate)."""
    import json

    return json.dumps(body, ensure_ascii=True).encode()


async def _send(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], body: Any
                ) -> httpx.Response:
    return await client.request(method, url, content=_json(body),
                                headers={**headers, "Content-Type": "application/json"})


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
async def test_unstorable_text_is_422(client: httpx.AsyncClient, agency: Any, api: Any, bad: str) -> None:
    cid, cl, h = agency.campaign_id, agency.client_id, agency.headers
    contact = await api.contact(agency, "ann@example.org")
    cases: list[tuple[str, str, Any, str]] = [
        ("POST", "/api/v1/clients", {"name": bad}, "name"),
        ("POST", "/api/v1/campaigns", {"name": bad, "client_id": cl, "timezone": "UTC"}, "name"),
        ("POST", "/api/v1/campaigns", {"name": "x", "client_id": cl, "timezone": "UTC", "settings": {bad: 1}},
         "settings"),
        ("PUT", f"/api/v1/campaigns/{cid}", {"name": bad}, "name"),
        ("POST", "/api/v1/contacts", {"campaign_id": cid, "email": "b@example.org", "first_name": bad}, "first_name"),
        ("POST", "/api/v1/contacts", {"campaign_id": cid, "email": "b@example.org",
                                      "custom_merge_fields": {"color": bad}}, "custom_merge_fields.color"),
        ("POST", f"/api/v1/campaigns/{cid}/steps", {"subject": bad, "body": "x"}, "subject"),
        ("POST", f"/api/v1/campaigns/{cid}/steps", {"body": "x", "variants": [{"subject": "s", "body": bad}]},
         "variants.0.body"),
        ("PUT", f"/api/v1/campaigns/{cid}/steps/1", {"body": bad}, "body"),
        ("POST", "/api/v1/mailboxes", {"client_id": cl, "email": "s@acme.test", "name": bad,
                                       "smtp_host": "smtp.acme.test"}, "name"),
        ("PUT", "/api/v1/contact-interest", {"contact_id": contact["id"], "interest": bad}, "interest"),
        ("POST", "/api/v1/invitations/accept", {"token": "inv_x", "name": bad}, "name"),
    ]
    await client.post(f"/api/v1/campaigns/{cid}/steps", headers=h, json={"subject": "s", "body": "b"})
    for method, url, body, field in cases:
        r = await _send(client, method, url, h, body)
        assert r.status_code == 422, (url, body, r.text)
        assert field in r.json()["errors"] and r.json()["message"], (url, r.text)
    r = await client.get("/api/v1/contacts", params={"email": NUL + "@example.org"}, headers=h)
    assert r.status_code == 422 and "email" in r.json()["errors"]
    # Nothing was written.
    r = await client.get("/api/v1/clients", headers=h)
    assert len(r.json()["data"]) == 1
    r = await client.get(f"/api/v1/campaigns/{cid}/contacts", headers=h)
    assert [c["email"] for c in r.json()["data"]] == ["ann@example.org"]


async def test_import_reports_unstorable_rows(client: httpx.AsyncClient, agency: Any) -> None:
    url = f"/api/v1/campaigns/{agency.campaign_id}/contacts/import"
    r = await _send(client, "POST", url, agency.headers, [
        {"email": "ok@example.org"}, {"email": "nul@example.org", "first_name": NUL},
        {"email": "sur@example.org", "custom_merge_fields": {"x": SURROGATE}}])
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["created"] == 1 and [e["line"] for e in data["errors"]] == [2, 3]
    csv_body = "email,first_name,fav color\nc1@example.org,a\x00b,red\nc2@example.org,Bo,blue\n"
    r = await client.post(url, headers=agency.headers, files={"file": ("c.csv", csv_body.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert data["created"] == 1 and [e["line"] for e in data["errors"]] == [2]


async def test_contact_zone_and_numbers_are_validated(client: httpx.AsyncClient, agency: Any) -> None:
    h = {**agency.headers, "Content-Type": "application/json"}
    bodies = [(b'{"timezone": "Not/AZone"}', "timezone"), (b'{"first_name": NaN}', "first_name"),
              (b'{"last_name": Infinity}', "last_name"), (b'{"custom_merge_fields": {"a": -Infinity}}',
                                                          "custom_merge_fields")]
    for extra, field in bodies:
        body = b'{"campaign_id": "%s", "email": "z@example.org", ' % agency.campaign_id.encode() + extra[1:]
        r = await client.post("/api/v1/contacts", content=body, headers=h)
        assert r.status_code == 422 and field in r.json()["errors"], (extra, r.text)
    r = await client.post("/api/v1/contacts", headers=agency.headers, json={
        "campaign_id": agency.campaign_id, "email": "zone@example.org", "timezone": "Europe/Madrid"})
    assert r.status_code == 201 and r.json()["data"][0]["timezone"] == "Europe/Madrid"
    r = await client.post(f"/api/v1/campaigns/{agency.campaign_id}/contacts/import", headers=agency.headers,
                          files={"file": ("c.csv", b"email,timezone\na@example.org,Mars/Olympus\n", "text/csv")})
    assert r.json()["data"]["created"] == 0 and r.json()["data"]["errors"][0]["line"] == 2


async def test_client_user_emails_are_case_insensitive(client: httpx.AsyncClient, agency: Any) -> None:
    url = f"/api/v1/clients/{agency.client_id}/users"
    for email in ("mike@example.com", "MIKE@example.com"):
        r = await client.post(url, headers=agency.headers, json={"email": email, "view_campaigns": True})
        assert r.status_code == 200, r.text
    token = r.json()["invitation"]["token"]
    r = await client.get(url, headers=agency.headers)
    assert [i["email"] for i in r.json()["data"]["invitations"]] == ["MIKE@example.com"]
    # The agency owner's address in another case is the same user.
    r = await client.post(url, headers=agency.headers, json={"email": "OWNER@acme.test"})
    assert r.status_code == 422 and "email" in r.json()["errors"]
    r = await client.post("/api/v1/invitations/accept", json={"token": token, "name": "Mike"})
    assert r.status_code == 201, r.text
    r = await client.put(url, headers=agency.headers, json={"email": "mike@EXAMPLE.com", "export_campaigns": True})
    assert r.status_code == 200, r.text
    r = await client.post(url, headers=agency.headers, json={"email": "Mike@example.com"})
    assert r.status_code == 422
    r = await client.delete(url, params={"email": "mike@example.com"}, headers=agency.headers)
    assert r.status_code == 204
    r = await client.get(url, headers=agency.headers)
    assert r.json()["data"] == {"users": [], "invitations": []}
