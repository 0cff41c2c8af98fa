"""CR or LF in a value that ends up in an email header is refused with 422 naming the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


@pytest.mark.parametrize("subject", ["Hello\r\nBcc: all@example.org", "Hello\nthere", "Hi\r"])
async def test_step_subjects_must_be_one_line(client: httpx.AsyncClient, agency: Any, subject: str) -> None:
    url = f"/api/v1/campaigns/{agency.campaign_id}/steps"
    r = await client.post(url, json={"subject": subject, "body": "Hi"}, headers=agency.headers)
    assert r.status_code == 422 and "subject" in r.json()["errors"], r.text
    r = await client.post(url, json={"subject": "Hello", "body": "Hi",
                                     "variants": [{"subject": subject, "body": "Yo"}]}, headers=agency.headers)
    assert r.status_code == 422 and "variants.0.subject" in r.json()["errors"], r.text
    r = await client.post(url, json={"subject": "Hello", "body": "Line one\nline two"}, headers=agency.headers)
    assert r.status_code == 201, "bodies may span lines"
    r = await client.put(f"{url}/1", json={"subject": subject}, headers=agency.headers)
    assert r.status_code == 422 and "subject" in r.json()["errors"], r.text
    assert (await client.get(url, headers=agency.headers)).json()["data"][0]["subject"] == "Hello"


async def test_contact_fields_that_reach_headers_must_be_one_line(client: httpx.AsyncClient, agency: Any) -> None:
    for field in ("first_name", "last_name", "company", "title"):
        r = await client.post("/api/v1/contacts", json={"campaign_id": agency.campaign_id, "email": "a@example.org",
                                                        field: "Ann\r\nBcc: all@example.org"}, headers=agency.headers)
        assert r.status_code == 422 and field in r.json()["errors"], r.text
    r = await client.post("/api/v1/contacts", json={"campaign_id": agency.campaign_id, "email": "a@example.org",
                                                    "address": "1 Main St\nSpringfield"}, headers=agency.headers)
    assert r.status_code == 201, "a postal address may span lines"
    r = await client.post(f"/api/v1/campaigns/{agency.campaign_id}/contacts/import", headers=agency.headers,
                          json=[{"email": "b@example.org", "first_name": "Bob\r\nX-Evil: 1"},
                                {"email": "c@example.org", "first_name": "Cy"}])
    assert r.status_code == 200, r.text
    assert r.json()["data"]["created"] == 1 and r.json()["data"]["invalid"] == 1


async def test_mailbox_from_names_must_be_one_line(client: httpx.AsyncClient, agency: Any) -> None:
    r = await client.post("/api/v1/mailboxes", json={"email": "sam@acme.test", "name": "Sam\r\nBcc: x@y.z",
                                                     "smtp_host": "smtp.acme.test", "client_id": agency.client_id},
                          headers=agency.headers)
    assert r.status_code == 422 and "name" in r.json()["errors"], r.text
