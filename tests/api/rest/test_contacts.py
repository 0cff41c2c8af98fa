"""Contact databases: /api/rest/contacts and /api/rest/groups as the document describes them."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tidings.tenancy.service import NewAccount

from helpers import basic

URL = "/api/rest/contacts"
GROUPS = "/api/rest/groups"


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


async def test_document_example_create_show_update_delete(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.post(URL, headers=auth, json={
        "email": "new.contact@example.com", "phone": "666555444", "countryIso": "es",
        "groupsNames": ["My contact list"], "customFields": [{"key": "company", "value": "ACME inc."}]})
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    assert list(data) == ["id", "email", "phone", "countryIso", "landline", "name", "surname", "externalId",
                          "createdAt", "updatedAt", "links"]
    assert data["phone"] == "34666555444" and data["countryIso"] == "ES" and data["landline"] is None
    assert data["links"]["self"].endswith(f"{URL}/{data['id']}")
    assert data["id"] > 1_000_000, "public ids are not the sequential primary key"
    assert "meta" not in r.json()

    r = await client.get(f"{URL}/{data['id']}", params={"include": "customFields,groups"}, headers=auth)
    shown = r.json()["data"]
    assert shown["customFields"] == {"data": [{"key": "company", "type": "string", "value": "ACME inc."}]}
    [group] = shown["groups"]["data"]
    assert group["name"] == "My contact list"
    assert "links" not in shown
    plain = (await client.get(f"{URL}/{data['id']}", headers=auth)).json()["data"]
    assert "customFields" not in plain and "groups" not in plain

    r = await client.put(f"{URL}/{data['id']}", headers=auth,
                         json={"name": "Ana", "surname": "García", "landline": None})
    assert r.status_code == 200, r.text
    assert r.json()["data"]["name"] == "Ana" and r.json()["data"]["email"] == "new.contact@example.com"

    assert (await client.delete(f"{URL}/{data['id']}", headers=auth)).status_code == 204
    r = await client.get(f"{URL}/{data['id']}", headers=auth)
    assert r.status_code == 404 and r.json() == {"error": {"code": 404, "description": "Resource not found"}}
    # The group stays.
    r = await client.get(f"{GROUPS}/{group['id']}", headers=auth)
    assert r.json() == {"data": {"id": group["id"], "name": "My contact list"}}


async def test_same_email_or_phone_updates_and_says_so(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    first = await client.post(URL, headers=auth, json={"email": "Ana@Example.com", "groupsNames": ["A"],
                                                       "customFields": [{"key": "color", "value": "red"}]})
    assert first.status_code == 201
    cid = first.json()["data"]["id"]
    again = await client.post(URL, headers=auth, json={
        "email": "ana@example.com", "phone": "+34 666 55 54 44", "countryIso": "ES", "name": "Ana",
        "groupsNames": ["B"], "customFields": [{"key": "size", "value": "M"}]})
    assert again.status_code == 200, again.text
    assert again.json()["meta"] == {"updated": True, "matchedBy": "email"}
    assert again.json()["data"]["id"] == cid and again.json()["data"]["phone"] == "34666555444"
    by_phone = await client.post(URL, headers=auth, json={"phone": "666555444", "countryIso": "ES", "surname": "Sol",
                                                          "groupsNames": ["A"]})
    assert by_phone.status_code == 200 and by_phone.json()["meta"] == {"updated": True, "matchedBy": "phone"}
    r = await client.get(URL, params={"include": "customFields,groups"}, headers=auth)
    [contact] = r.json()["data"]
    assert contact["name"] == "Ana" and contact["surname"] == "Sol"
    assert {f["key"]: f["value"] for f in contact["customFields"]["data"]} == {"color": "red", "size": "M"}
    assert sorted(g["name"] for g in contact["groups"]["data"]) == ["A", "B"]

    other = await client.post(URL, headers=auth, json={"email": "bob@example.com", "groupsNames": ["A"]})
    assert other.status_code == 201
    clash = await client.post(URL, headers=auth, json={"email": "bob@example.com", "phone": "666555444",
                                                       "countryIso": "ES", "groupsNames": ["A"]})
    assert clash.status_code == 422 and clash.json()["error"]["code"] == 422
    assert "phone" in clash.json()["error"]["fields"]
    r = await client.put(f"{URL}/{other.json()['data']['id']}", headers=auth, json={"email": "ANA@example.com"})
    assert r.status_code == 422 and "email" in r.json()["error"]["fields"]


async def test_concurrent_creates_of_one_person_make_one_contact(client: httpx.AsyncClient,
                                                                 auth: dict[str, str]) -> None:
    body = {"email": "same@example.com", "groupsNames": ["Race"]}
    answers = await asyncio.gather(*(client.post(URL, headers=auth, json=body) for _ in range(4)))
    assert sorted(r.status_code for r in answers) in ([200, 200, 200, 201], [200, 200, 201, 409],
                                                     [200, 201, 409, 409], [201, 409, 409, 409])
    r = await client.get(URL, headers=auth)
    assert r.json()["meta"]["pagination"]["total"] == 1


@pytest.mark.parametrize(("body", "field", "description"), [
    ({"groupsNames": ["A"]}, "email", "The email field is required."),
    ({"name": "x", "groupsNames": ["A"]}, "email", "The email field is required."),
    ({"phone": "666555444", "groupsNames": ["A"]}, "countryIso", None),
    ({"landline": "912345678", "groupsNames": ["A"]}, "countryIso", None),
    ({"phone": "12", "countryIso": "ES", "groupsNames": ["A"]}, "phone", None),
    ({"phone": "912345678", "countryIso": "ES", "groupsNames": ["A"]}, "phone", None),
    ({"landline": "abc", "countryIso": "ES", "groupsNames": ["A"]}, "landline", None),
    ({"phone": "666555444", "countryIso": "XX", "groupsNames": ["A"]}, "countryIso", None),
    ({"email": "not-an-email", "groupsNames": ["A"]}, "email", None),
    ({"email": "a@example.com"}, "groupsIds", None),
    ({"email": "a@example.com", "groupsIds": [123]}, "groupsIds.0", None),
    ({"email": "a@example.com", "groupsNames": [""]}, "groupsNames.0", None),
    ({"email": "a@example.com", "groupsNames": ["A"],
      "customFields": [{"key": "d", "type": "date", "value": "31/12/2024"}]},
     "customFields.0.value", None),
    ({"email": "a@example.com", "groupsNames": ["A"],
      "customFields": [{"key": "n", "type": "decimal", "value": "1,5"}]}, "customFields.0.value", None),
    ({"email": "a@example.com", "groupsNames": ["A"],
      "customFields": [{"key": "n", "type": "integer", "value": "1"}]}, "customFields.0.type", None),
    ({"email": "a@example.com", "groupsNames": ["A"], "customFields": [{"value": "1"}]}, "customFields.0.key", None),
    ({"email": "a@example.com", "groupsNames": ["A"], "customFields": "x"}, "customFields", None),
    ({"email": ["a@example.com"], "groupsNames": ["A"]}, "email", None),
])
async def test_invalid_contacts_are_422_naming_the_field(client: httpx.AsyncClient, auth: dict[str, str],
                                                         body: dict[str, object], field: str,
                                                         description: str | None) -> None:
    r = await client.post(URL, headers=auth, json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == 422 and field in error["fields"], error
    if description:
        assert error["description"] == description
    # Nothing half-written: not even a group named in the refused request.
    assert (await client.get(GROUPS, headers=auth)).json()["data"] == []


async def test_typed_custom_fields(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.post(URL, headers=auth, json={"email": "t@example.com", "groupsNames": ["A"], "customFields": [
        {"key": "birthday", "type": "date", "value": "1990-05-17"},
        {"key": "since", "type": "date", "value": "2024-01-02T10:00:00+01:00"},
        {"key": "balance", "type": "decimal", "value": "-12.50"},
        {"key": "score", "type": "decimal", "value": 7},
        {"key": "color", "value": "green"}]})
    assert r.status_code == 201, r.text
    cid = r.json()["data"]["id"]
    fields = (await client.get(f"{URL}/{cid}?include=customFields", headers=auth)).json()["data"]["customFields"][
        "data"]
    assert fields == [
        {"key": "balance", "type": "decimal", "value": "-12.50"},
        {"key": "birthday", "type": "date", "value": "1990-05-17"},
        {"key": "color", "type": "string", "value": "green"},
        {"key": "score", "type": "decimal", "value": "7"},
        {"key": "since", "type": "date", "value": "2024-01-02T10:00:00+01:00"}]
    # A null value removes a field; a new type replaces the old one.
    r = await client.put(f"{URL}/{cid}", headers=auth, json={"customFields": [
        {"key": "color", "value": None}, {"key": "score", "type": "string", "value": "high"}]})
    fields = (await client.get(f"{URL}/{cid}?include=customFields", headers=auth)).json()["data"]["customFields"][
        "data"]
    assert {f["key"]: (f["type"], f["value"]) for f in fields} == {
        "balance": ("decimal", "-12.50"), "birthday": ("date", "1990-05-17"), "score": ("string", "high"),
        "since": ("date", "2024-01-02T10:00:00+01:00")}


async def test_list_filters_pages_and_links(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for i in range(5):
        r = await client.post(URL, headers=auth, json={
            "email": f"p{i}@example.com", "phone": f"66655544{i}", "countryIso": "ES" if i < 4 else "FR",
            "externalId": f"EXT{i}", "groupsNames": ["All"]} if i < 4 else {
            "email": f"p{i}@example.com", "phone": "612345678", "countryIso": "FR", "externalId": f"EXT{i}",
            "landline": "0140000000", "groupsNames": ["All"]})
        assert r.status_code == 201, r.text
    r = await client.get(URL, params={"limit": 2, "include": "customFields,groups"}, headers=auth)
    body = r.json()
    assert [c["email"] for c in body["data"]] == ["p0@example.com", "p1@example.com"]
    assert body["meta"]["pagination"] == {
        "total": 5, "count": 2, "per_page": 2, "current_page": 1, "total_pages": 3,
        "links": {"next": body["meta"]["pagination"]["links"]["next"]}}
    assert "include=customFields%2Cgroups" in body["meta"]["pagination"]["links"]["next"]
    assert "page=2" in body["meta"]["pagination"]["links"]["next"]
    last = (await client.get(URL, params={"limit": 2, "page": 3}, headers=auth)).json()
    assert [c["email"] for c in last["data"]] == ["p4@example.com"]
    assert "next" not in last["meta"]["pagination"]["links"]

    async def emails(**params: str) -> list[str]:
        r = await client.get(URL, params=params, headers=auth)
        assert r.status_code == 200, r.text
        return [c["email"] for c in r.json()["data"]]

    assert await emails(email="P2@EXAMPLE.com") == ["p2@example.com"]
    assert await emails(phone="34666555443") == ["p3@example.com"]
    assert await emails(phone="+34 666 555 443") == ["p3@example.com"]
    assert await emails(landline="33140000000") == ["p4@example.com"]
    assert await emails(landline="0140000000", countryIso="fr") == ["p4@example.com"]
    assert await emails(countryIso="FR") == ["p4@example.com"]
    assert await emails(externalId="EXT1") == ["p1@example.com"]
    assert await emails(externalId="nope") == []
    for bad in ({"limit": "1001"}, {"limit": "0"}, {"page": "0"}, {"limit": "x"}):
        r = await client.get(URL, params=bad, headers=auth)
        assert r.status_code == 422 and r.json()["error"]["code"] == 422
    assert (await client.get(URL, params={"limit": 1000}, headers=auth)).status_code == 200


async def test_another_account_sees_404(client: httpx.AsyncClient, auth: dict[str, str], make_account) -> None:  # type: ignore[no-untyped-def]
    r = await client.post(URL, headers=auth, json={"email": "mine@example.com", "groupsNames": ["Mine"]})
    cid = r.json()["data"]["id"]
    gid = (await client.get(GROUPS, headers=auth)).json()["data"][0]["id"]
    other = await make_account("Other", "other@example.com")
    them = basic(other.username, other.api_password)
    for method, url in (("GET", f"{URL}/{cid}"), ("PUT", f"{URL}/{cid}"), ("DELETE", f"{URL}/{cid}"),
                        ("GET", f"{GROUPS}/{gid}"), ("PUT", f"{GROUPS}/{gid}"), ("DELETE", f"{GROUPS}/{gid}"),
                        ("GET", f"{URL}/abc"), ("GET", f"{URL}/{gid}"), ("GET", f"{URL}/99999999999999999999999")):
        r = await client.request(method, url, headers=them, json={"name": "x"})
        assert r.status_code == 404, (method, url, r.text)
        assert r.json()["error"]["code"] == 404
    assert (await client.get(URL, headers=them)).json()["data"] == []
    r = await client.post(URL, headers=them, json={"email": "mine@example.com", "groupsIds": [gid]})
    assert r.status_code == 422 and "groupsIds.0" in r.json()["error"]["fields"]
    # The same address in another account is another contact.
    r = await client.post(URL, headers=them, json={"email": "mine@example.com", "groupsNames": ["Mine"]})
    assert r.status_code == 201
    assert (await client.get(f"{URL}/{cid}", headers=auth)).status_code == 200
