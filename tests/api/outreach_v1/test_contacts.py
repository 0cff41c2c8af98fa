"""Contacts: create, show, search, list with filters, interest, suppressions, import and export."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import httpx
from sqlalchemy import select

from tidings.api.outreach_v1.ids import decode
from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import StatCounter

ID25 = re.compile(r"^[a-z0-9]{25}$")
FULL = {"first_name": "Aditya", "last_name": "Kohler", "company": "Gerlach", "industry": "Nonprofit",
        "website": "kunde.com", "title": "Ms.", "phone": "219-959-5166", "address": "41164 Osvaldo Row",
        "city": "Baileyborough", "state": "New Hampshire", "country": "US"}
KEYS = ["id", "email", "first_name", "last_name", "company", "industry", "website", "title", "phone", "address",
        "city", "state", "country", "custom_merge_fields", "timezone", "status", "interest", "emails_sent",
        "completed_steps", "is_missing_data", "is_suppressed", "created_at"]


async def test_create_and_show(client: httpx.AsyncClient, agency: Any) -> None:
    r = await client.post("/api/v1/contacts", headers=agency.headers, json={
        "campaign_id": agency.campaign_id, "email": "aditya.kohler@example.org", **FULL,
        "custom_merge_fields": {"fav color": "purple", "sport": "running"}})
    assert r.status_code == 201, r.text
    [c] = r.json()["data"]
    assert list(c) == [*KEYS, "campaign"] and ID25.match(c["id"])
    assert c["custom_merge_fields"] == {"fav color": "purple", "sport": "running"}
    assert c["status"] == "OK" and c["interest"] is None and c["emails_sent"] == 0 and c["completed_steps"] == 0
    assert c["is_missing_data"] is False and c["is_suppressed"] is False and c["timezone"] == "US/Mountain"
    assert list(c["campaign"]) == ["id", "name", "timezone", "status", "created_at", "client"]
    assert list(c["campaign"]["client"]) == ["id", "name", "created_at"]
    r = await client.get(f"/api/v1/contacts/{c['id']}", headers=agency.headers)
    assert r.status_code == 200 and r.json()["data"] == c
    # The PHP-style key of the document's example works too.
    r = await client.post("/api/v1/contacts", headers=agency.headers, json={
        "campaign_id": agency.campaign_id, "email": "b@example.org", "custom_merge_fields[]": {"os": "Linux"}})
    assert r.json()["data"][0]["custom_merge_fields"] == {"os": "Linux"}


async def test_create_validation(client: httpx.AsyncClient, agency: Any, api: Any) -> None:
    await api.contact(agency, "dup@example.org")
    cases = [({"email": "x@example.org"}, "campaign_id"), ({"campaign_id": agency.campaign_id}, "email"),
             ({"campaign_id": agency.campaign_id, "email": "not-an-email"}, "email"),
             ({"campaign_id": agency.campaign_id, "email": "DUP@example.org"}, "email"),
             ({"campaign_id": agency.campaign_id, "email": "y@example.org", "phone": "1" * 40}, "phone"),
             ({"campaign_id": agency.campaign_id, "email": "y@example.org", "custom_merge_fields": 7},
              "custom_merge_fields"),
             ({"campaign_id": agency.campaign_id, "email": "y@example.org", "first_name": {"a": 1}}, "first_name")]
    for body, field in cases:
        r = await client.post("/api/v1/contacts", headers=agency.headers, json=body)
        assert r.status_code == 422, body
        assert field in r.json()["errors"] and r.json()["message"]
    r = await client.post("/api/v1/contacts", headers=agency.headers, json=["nope"])
    assert r.status_code == 422
    r = await client.post("/api/v1/contacts", headers=agency.headers,
                          json={"campaign_id": "a" * 20, "email": "z@example.org"})
    assert r.status_code == 404


async def test_missing_data_flag(client: httpx.AsyncClient, agency: Any, api: Any) -> None:
    await client.post(f"/api/v1/campaigns/{agency.campaign_id}/steps", headers=agency.headers,
                      json={"subject": "Hi {{first_name}}", "body": "About {{fav color|your colour}}"})
    lacking = await api.contact(agency, "lacking@example.org")
    complete = await api.contact(agency, "complete@example.org", first_name="Ann")
    assert lacking["is_missing_data"] is True and complete["is_missing_data"] is False
    r = await client.get(f"/api/v1/campaigns/{agency.campaign_id}/contacts?is_missing_data=1", headers=agency.headers)
    assert [c["email"] for c in r.json()["data"]] == ["lacking@example.org"]
    # Dropping the field from the step clears the flag.
    await client.put(f"/api/v1/campaigns/{agency.campaign_id}/steps/1", headers=agency.headers,
                     json={"subject": "Hi {{first_name|there}}"})
    r = await client.get(f"/api/v1/contacts/{lacking['id']}", headers=agency.headers)
    assert r.json()["data"]["is_missing_data"] is False


async def test_search(client: httpx.AsyncClient, agency: Any, api: Any) -> None:
    r = await client.post("/api/v1/campaigns", headers=agency.headers,
                          json={"name": "Second", "client_id": agency.client_id, "timezone": "UTC"})
    second = r.json()["data"]["id"]
    await api.contact(agency, "Aditya.Kohler@example.org")
    await api.contact(agency, "aditya.kohler@example.org", campaign_id=second)
    await api.contact(agency, "other@example.org")
    r = await client.get("/api/v1/contacts?email=aditya.kohler%40example.org", headers=agency.headers)
    data = r.json()["data"]
    assert r.status_code == 200 and len(data) == 2
    assert list(data[0]) == [*KEYS, "campaign"] and data[0]["is_missing_data"] == 0
    r = await client.get(f"/api/v1/contacts?email=aditya.kohler%40example.org&campaign_id={second}",
                         headers=agency.headers)
    assert [c["campaign"]["id"] for c in r.json()["data"]] == [second]
    r = await client.get(f"/api/v1/contacts?email=aditya.kohler%40example.org&client_id={agency.client_id}",
                         headers=agency.headers)
    assert len(r.json()["data"]) == 2
    r = await client.get("/api/v1/contacts?email=aditya.kohler%40example.org&client_id=bogus", headers=agency.headers)
    assert r.json()["data"] == []
    r = await client.get("/api/v1/contacts", headers=agency.headers)
    assert r.status_code == 422 and "email" in r.json()["errors"]


async def test_list_filters_and_paging(client: httpx.AsyncClient, agency: Any, api: Any) -> None:
    ids = [(await api.contact(agency, f"c{n}@example.org"))["id"] for n in range(5)]
    await client.put("/api/v1/contact-interest", headers=agency.headers,
                     json={"contact_id": ids[1], "interest": "POSITIVE"})
    url = f"/api/v1/campaigns/{agency.campaign_id}/contacts"
    r = await client.get(url, headers=agency.headers)
    data = r.json()["data"]
    assert [c["id"] for c in data] == ids and list(data[0]) == KEYS
    assert data[0]["is_missing_data"] == 0 and data[0]["is_suppressed"] == 0
    assert isinstance(data[0]["is_missing_data"], int) and not isinstance(data[0]["is_missing_data"], bool)
    r = await client.get(f"{url}?limit=2&offset=1", headers=agency.headers)
    assert [c["id"] for c in r.json()["data"]] == ids[1:3]
    r = await client.get(f"{url}?interest=positive", headers=agency.headers)
    assert [c["id"] for c in r.json()["data"]] == [ids[1]]
    r = await client.get(f"{url}?interest=unmarked&status=ok&emails_sent=0&is_suppressed=0", headers=agency.headers)
    assert len(r.json()["data"]) == 4
    r = await client.get(f"{url}?status=replied", headers=agency.headers)
    assert r.json()["data"] == []
    for bad in ("limit=501", "limit=0", "offset=-1", "status=happy", "interest=hot", "is_suppressed=maybe",
                "emails_sent=x"):
        assert (await client.get(f"{url}?{bad}", headers=agency.headers)).status_code == 422, bad
    r = await client.get(f"{url}?limit=500", headers=agency.headers)
    assert r.status_code == 200


async def test_interest_and_counters(client: httpx.AsyncClient, agency: Any, api: Any, db: Database) -> None:
    c = await api.contact(agency, "i@example.org")
    r = await client.put("/api/v1/contact-interest", headers=agency.headers,
                         json={"contact_id": c["id"], "interest": "POSITIVE"})
    assert r.status_code == 200 and r.json() == {"message": "Interest updated."}
    assert (await client.get(f"/api/v1/contacts/{c['id']}", headers=agency.headers)).json()["data"]["interest"] \
        == "POSITIVE"
    r = await client.put("/api/v1/contact-interest", headers=agency.headers,
                         json={"contact_id": c["id"], "interest": "NEGATIVE"})
    r = await client.get(f"/api/v1/campaigns/{agency.campaign_id}/stats", headers=agency.headers)
    assert (r.json()["data"]["positive"], r.json()["data"]["negative"]) == (0, 1)
    r = await client.request("DELETE", "/api/v1/contact-interest", headers=agency.headers,
                             json={"contact_id": c["id"]})
    assert r.status_code == 200 and r.json() == {"message": "Interest UNMARKED."}
    assert (await client.get(f"/api/v1/contacts/{c['id']}", headers=agency.headers)).json()["data"]["interest"] is None
    async with db.transaction() as s:
        totals = {m: v for m, v in (await s.execute(select(StatCounter.metric, StatCounter.value)
                                                    .where(StatCounter.step == 0))).all()}
    assert totals == {"positive": 0, "negative": 0}
    r = await client.put("/api/v1/contact-interest", headers=agency.headers,
                         json={"contact_id": c["id"], "interest": "MAYBE"})
    assert r.status_code == 422
    r = await client.put("/api/v1/contact-interest", headers=agency.headers,
                         json={"contact_id": "x" * 25, "interest": "POSITIVE"})
    assert r.status_code == 404


async def test_suppressions(client: httpx.AsyncClient, agency: Any, api: Any) -> None:
    a = await api.contact(agency, "Alicia.Hammes@example.com")
    b = await api.contact(agency, "bob@blocked.test")
    keep = await api.contact(agency, "keep@example.com")
    r = await client.post("/api/v1/suppressions/emails", headers=agency.headers,
                          json={"client_id": agency.client_id, "emails": ["alicia.hammes@example.com",
                                                                           "douglas.herman@example.com"]})
    assert r.status_code == 201
    assert r.json() == {"data": ["alicia.hammes@example.com", "douglas.herman@example.com"]}
    r = await client.post("/api/v1/suppressions/domains", headers=agency.headers,
                          json={"client_id": agency.client_id, "domains": ["blocked.test", "domain2.com"]})
    assert r.status_code == 201 and r.json() == {"data": ["blocked.test", "domain2.com"]}
    for contact, suppressed in ((a, True), (b, True), (keep, False)):
        data = (await client.get(f"/api/v1/contacts/{contact['id']}", headers=agency.headers)).json()["data"]
        assert data["is_suppressed"] is suppressed
        assert data["status"] == ("UNSUBSCRIBED" if suppressed else "OK")
    # Future contacts are suppressed on arrival.
    later = await api.contact(agency, "douglas.herman@example.com")
    assert later["status"] == "UNSUBSCRIBED" and later["is_suppressed"] is True
    later = await api.contact(agency, "x@domain2.com")
    assert later["is_suppressed"] is True
    for body in ({"client_id": agency.client_id, "emails": ["nope"]}, {"client_id": agency.client_id, "emails": []},
                 {"emails": ["a@b.test"]}):
        assert (await client.post("/api/v1/suppressions/emails", headers=agency.headers, json=body)).status_code \
            == 422
    r = await client.post("/api/v1/suppressions/domains", headers=agency.headers,
                          json={"client_id": agency.client_id, "domains": ["not a domain"]})
    assert r.status_code == 422
    r = await client.post("/api/v1/suppressions/domains", headers=agency.headers,
                          json={"client_id": "q" * 20, "domains": ["a.com"]})
    assert r.status_code == 404


async def test_import_json_and_csv(client: httpx.AsyncClient, agency: Any, api: Any, db: Database) -> None:
    await client.post("/api/v1/suppressions/emails", headers=agency.headers,
                      json={"client_id": agency.client_id, "emails": ["blocked@example.org"]})
    await api.contact(agency, "exists@example.org", first_name="Old")
    url = f"/api/v1/campaigns/{agency.campaign_id}/contacts/import"
    r = await client.post(url, headers=agency.headers, json=[
        {"email": "new@example.org", "first_name": "New", "custom_merge_fields": {"sport": "golf"}},
        {"email": "exists@example.org", "first_name": "Updated"},
        {"email": "broken"},
        {"email": "blocked@example.org"},
        "not an object"])
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["created"], data["updated"], data["suppressed"], data["invalid"]) == (2, 1, 1, 2)
    assert data["suppressed_lines"] == [4] and [e["line"] for e in data["errors"]] == [3, 5]
    r = await client.get("/api/v1/contacts?email=exists%40example.org", headers=agency.headers)
    assert r.json()["data"][0]["first_name"] == "Updated"
    body = "email,first_name,Fav Color\nann@example.org,Ann,blue\n,Nobody,\nnew@example.org,Renamed,red\n\nbad@,x,y\n"
    r = await client.post(url, headers=agency.headers, files={"file": ("c.csv", body.encode(), "text/csv")})
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert (data["created"], data["updated"], data["invalid"]) == (1, 1, 2)
    assert [e["line"] for e in data["errors"]] == [3, 6]
    r = await client.get("/api/v1/contacts?email=ann%40example.org", headers=agency.headers)
    assert r.json()["data"][0]["custom_merge_fields"] == {"Fav Color": "blue"}
    r = await client.post(url, headers=agency.headers, files={"file": ("c.csv", b"name\nx\n", "text/csv")})
    assert r.status_code == 422
    r = await client.post(url, headers=agency.headers, files={"file": ("c.csv", b"\xff\xfe", "text/csv")})
    assert r.status_code == 422
    r = await client.post(url, headers=agency.headers, json={"not": "a list"})
    assert r.status_code == 422


async def test_import_into_running_campaign_is_due(client: httpx.AsyncClient, agency: Any, api: Any,
                                                   db: Database, clock: Any) -> None:
    from tidings.db.models import Enrollment

    await api.ready(agency)
    await client.post(f"/api/v1/campaigns/{agency.campaign_id}/start", headers=agency.headers)
    r = await client.post(f"/api/v1/campaigns/{agency.campaign_id}/contacts/import", headers=agency.headers,
                          json=[{"email": "due@example.org"}])
    assert r.json()["data"]["created"] == 1
    async with db.transaction() as s:
        row = (await s.execute(select(Enrollment))).scalar_one()
    assert row.next_due_at == clock.now() and row.status == "OK"


async def test_export(client: httpx.AsyncClient, agency: Any, api: Any) -> None:
    c = await api.contact(agency, "x@example.org", first_name="X", custom_merge_fields={"sport": "golf"})
    r = await client.get(f"/api/v1/campaigns/{agency.campaign_id}/contacts/export", headers=agency.headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert rows[0]["id"] == c["id"] and rows[0]["first_name"] == "X" and rows[0]["status"] == "OK"
    assert rows[0]["interest"] == "UNMARKED" and rows[0]["emails_sent"] == "0" and rows[0]["sport"] == "golf"
    assert rows[0]["completed_steps"] == "0"
    assert decode(Kind.ENROLLMENT, c["id"]) is not None
