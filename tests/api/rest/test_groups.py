"""Contact groups: /api/rest/groups as the document describes them, and how they hold contacts."""

from __future__ import annotations

import httpx
import pytest

from tidings.tenancy.service import NewAccount

from helpers import basic

URL = "/api/rest/contacts"
GROUPS = "/api/rest/groups"


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


async def test_group_list_pages(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for i in range(3):
        assert (await client.post(GROUPS, headers=auth, json={"name": f"G{i}"})).status_code == 201
    r = await client.get(GROUPS, params={"limit": 2, "page": 1}, headers=auth)
    meta = r.json()["meta"]["pagination"]
    assert [g["name"] for g in r.json()["data"]] == ["G0", "G1"]
    assert (meta["total"], meta["count"], meta["per_page"], meta["total_pages"]) == (3, 2, 2, 2)
    assert meta["links"]["next"].endswith("/api/rest/groups?limit=2&page=2")
    r = await client.get(GROUPS, params={"limit": 1001}, headers=auth)
    assert r.status_code == 422 and r.json()["error"]["code"] == 422


async def test_groups_crud_and_deleting_a_group_keeps_its_contacts(client: httpx.AsyncClient,
                                                                   auth: dict[str, str]) -> None:
    r = await client.post(GROUPS, headers=auth, json={"name": "My new contact list"})
    assert r.status_code == 201 and r.json()["data"]["name"] == "My new contact list"
    gid = r.json()["data"]["id"]
    r = await client.post(GROUPS, headers=auth, json={"name": "My new contact list"})
    assert r.status_code == 422 and "name" in r.json()["error"]["fields"]
    for body in ({}, {"name": ""}, {"name": "  "}, {"name": 5}, {"name": "x" * 256}):
        r = await client.post(GROUPS, headers=auth, json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == 422, body
    assert (await client.post(GROUPS, headers=auth)).json()["error"] == {
        "code": 422, "description": "The name field is required.", "fields": {"name": ["The name field is required."]}}

    r = await client.put(f"{GROUPS}/{gid}", headers=auth, json={"name": "Renamed"})
    assert r.status_code == 200 and r.json() == {"data": {"id": gid, "name": "Renamed"}}
    r = await client.post(URL, headers=auth, json={"email": "m@example.com", "groupsIds": [gid]})
    cid = r.json()["data"]["id"]
    r = await client.post(URL, headers=auth, json={"email": "n@example.com", "groupsNames": ["Renamed", "Other"]})
    assert r.status_code == 201
    listed = (await client.get(GROUPS, headers=auth)).json()
    assert [g["name"] for g in listed["data"]] == ["Renamed", "Other"]
    assert listed["meta"]["pagination"]["total"] == 2 and listed["meta"]["pagination"]["links"] == []

    assert (await client.delete(f"{GROUPS}/{gid}", headers=auth)).status_code == 204
    assert (await client.get(f"{GROUPS}/{gid}", headers=auth)).status_code == 404
    r = await client.get(f"{URL}/{cid}?include=groups", headers=auth)
    assert r.status_code == 200 and r.json()["data"]["groups"] == {"data": []}
    assert (await client.delete(f"{GROUPS}/{gid}", headers=auth)).status_code == 404
    # PUT with groups replaces them.
    other = listed["data"][1]["id"]
    r = await client.put(f"{URL}/{cid}", headers=auth, json={"groupsIds": [other]})
    assert r.status_code == 200
    r = await client.get(f"{URL}/{cid}?include=groups", headers=auth)
    assert r.json()["data"]["groups"]["data"] == [{"id": other, "name": "Other"}]
