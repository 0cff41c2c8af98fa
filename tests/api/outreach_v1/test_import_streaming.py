"""A large contacts import is read and written in batches, with the same answer as one pass over the file."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tidings.api.outreach_v1 import contacts as contacts_api
from tidings.outreach.contacts import service


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Batches of 100 rows, and the size of every batch the importer receives."""
    monkeypatch.setattr(contacts_api, "IMPORT_BATCH", 100)
    seen: list[int] = []
    add = service.Importer.add

    async def counting(self: service.Importer, rows: Any) -> None:
        seen.append(len(rows))
        await add(self, rows)

    monkeypatch.setattr(service.Importer, "add", counting)
    return seen


def _csv(n: int) -> str:
    lines = ["email,first_name,Fav Color"]
    for i in range(n):
        if i == 30:
            lines.append('dup@example.org,First,"dark\nred"')  # a quoted line break inside a (custom) field
        elif i == 250:
            lines.append("dup@example.org,Second,blue")  # the same address two batches later: it wins
        elif i == 260:
            lines.append("not-an-address,Broken,green")
        elif i == 270:
            lines.append("blocked@example.org,Blocked,green")
        else:
            lines.append(f"person{i}@example.org,P{i},green")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("as_multipart", [True, False])
async def test_a_file_larger_than_a_batch_is_imported_batch_by_batch_with_one_report(
        client: httpx.AsyncClient, agency: Any, small_batches: list[int], as_multipart: bool) -> None:
    await client.post("/api/v1/suppressions/emails", headers=agency.headers,
                      json={"client_id": agency.client_id, "emails": ["blocked@example.org"]})
    url = f"/api/v1/campaigns/{agency.campaign_id}/contacts/import"
    body = _csv(350).encode()
    r = (await client.post(url, headers=agency.headers, files={"file": ("c.csv", body, "text/csv")}) if as_multipart
         else await client.post(url, headers={**agency.headers, "Content-Type": "text/csv"}, content=body))
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    # 350 rows, one invalid; the repeated address counts once, as created.
    assert (data["created"], data["updated"], data["suppressed"], data["invalid"]) == (348, 0, 1, 1)
    # Line numbers are the file's, counting the quoted line break of row 30.
    assert data["suppressed_lines"] == [273] and [e["line"] for e in data["errors"]] == [263]
    assert max(small_batches) <= 100 and len(small_batches) == 4
    r = await client.get("/api/v1/contacts?email=dup%40example.org", headers=agency.headers)
    found = r.json()["data"]
    assert len(found) == 1 and found[0]["first_name"] == "Second"

    r = await client.post(url, headers=agency.headers, files={"file": ("c.csv", body, "text/csv")})
    again = r.json()["data"]
    assert (again["created"], again["updated"]) == (0, 348)


async def test_a_file_over_the_row_limit_writes_nothing(client: httpx.AsyncClient, agency: Any,
                                                        small_batches: list[int],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(contacts_api, "MAX_IMPORT_ROWS", 250)
    url = f"/api/v1/campaigns/{agency.campaign_id}/contacts/import"
    r = await client.post(url, headers=agency.headers, files={"file": ("c.csv", _csv(350).encode(), "text/csv")})
    assert r.status_code == 422 and "At most 250 rows" in r.text
    assert len(small_batches) == 2  # two batches were written before the limit was met: rolled back
    r = await client.get(f"/api/v1/campaigns/{agency.campaign_id}/contacts", headers=agency.headers)
    assert r.json()["data"] == []


async def test_the_same_addresses_in_two_campaigns_each_keep_their_own_columns(
        client: httpx.AsyncClient, agency: Any, small_batches: list[int]) -> None:
    r = await client.post("/api/v1/campaigns", headers=agency.headers,
                          json={"name": "Second", "client_id": agency.client_id, "timezone": "UTC"})
    other = r.json()["data"]["id"]
    emails = [f"person{i}@example.org" for i in range(250)]
    files = {agency.campaign_id: "email,first_name\n" + "".join(f"{e},A{i}\n" for i, e in enumerate(emails)),
             other: "email,first_name\n" + "".join(f"{e},B{i}\n" for i, e in reversed(list(enumerate(emails))))}
    for campaign_id, body in files.items():
        r = await client.post(f"/api/v1/campaigns/{campaign_id}/contacts/import", headers=agency.headers,
                              files={"file": ("c.csv", body.encode(), "text/csv")})
        assert r.json()["data"]["created"] == 250, r.text
    for campaign_id, prefix in ((agency.campaign_id, "A"), (other, "B")):
        r = await client.get(f"/api/v1/campaigns/{campaign_id}/contacts?limit=500", headers=agency.headers)
        names = {c["email"]: c["first_name"] for c in r.json()["data"]}
        assert names == {e: f"{prefix}{i}" for i, e in enumerate(emails)}
