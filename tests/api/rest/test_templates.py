"""Templates v1 (/api/rest/templates) and v2 (/api/rest/v2/templates): CRUD, preview, use in a mailing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Message
from tidings.messaging import senders
from tidings.tenancy.service import NewAccount

from helpers import basic, row_id


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


@pytest.mark.parametrize("prefix", ["/api/rest/templates", "/api/rest/v2/templates"])
async def test_crud_and_preview(client: httpx.AsyncClient, auth: dict[str, str], prefix: str) -> None:
    v2 = "v2" in prefix
    r = await client.get(prefix, headers=auth)
    assert r.status_code == 200
    assert r.json() == {"data": [], "meta": {"pagination": {"total": 0, "count": 0, "per_page": 100, "current_page": 1,
                                                            "total_pages": 1, "links": []}}}
    r = await client.post(prefix, json={"name": "New Template", "html": "<h1>Hello {name|upper}</h1>"}, headers=auth)
    assert r.status_code == 201, r.text
    data = r.json()["data"]
    tid = data["id"]
    keys = ["id", "name", *(["type"] if v2 else []), "html", "createdAt", "updatedAt", "links"]
    assert list(data) == keys
    assert data["links"] == {"self": f"http://tidings.test{prefix}/{tid}",
                             "preview": f"http://tidings.test{prefix}/{tid}/preview"}
    assert data["createdAt"].endswith("+00:00") and len(data["createdAt"]) == 25
    if v2:
        assert data["type"] == "HTML"

    r = await client.get(f"{prefix}/{tid}", headers=auth)
    assert r.status_code == 200 and list(r.json()["data"]) == keys[:-1]
    assert r.json()["data"]["html"] == "<h1>Hello {name|upper}</h1>"

    r = await client.get(prefix, headers=auth)
    [row] = r.json()["data"]
    assert ("html" in row) is (not v2), "the v2 list leaves the HTML out"

    r = await client.get(f"{prefix}/{tid}/preview", headers=auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.text == "<h1>Hello {name|upper}</h1>"
    r = await client.get(f"{prefix}/{tid}/preview", params={"name": "ann"}, headers=auth)
    assert r.text == "<h1>Hello ANN</h1>"

    r = await client.put(f"{prefix}/{tid}", json={"name": "Renamed", "html": "<p>x</p>"}, headers=auth)
    assert r.status_code == 201 and r.json()["data"]["name"] == "Renamed" and r.json()["data"]["html"] == "<p>x</p>"

    r = await client.delete(f"{prefix}/{tid}", headers=auth)
    assert r.status_code == 204 and r.content == b""
    for method in ("GET", "DELETE"):
        r = await client.request(method, f"{prefix}/{tid}", headers=auth)
        assert r.status_code == 404 and r.json() == {"error": {"code": 404, "description": "Resource not found"}}


async def test_versions_and_accounts_are_separate(client: httpx.AsyncClient, auth: dict[str, str],
                                                  make_account: Any) -> None:
    r = await client.post("/api/rest/templates", json={"name": "Legacy", "html": "<p>1</p>"}, headers=auth)
    tid = r.json()["data"]["id"]
    assert (await client.get(f"/api/rest/v2/templates/{tid}", headers=auth)).status_code == 404
    other: NewAccount = await make_account("Other", "owner@other.test")
    r = await client.get(f"/api/rest/templates/{tid}", headers=basic(other.username, other.api_password))
    assert r.status_code == 404
    r = await client.get("/api/rest/templates", headers=basic(other.username, other.api_password))
    assert r.json()["data"] == []


async def test_validation_and_bad_ids(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for body in ({}, {"name": "x"}, {"html": "<p>x</p>"}, {"name": " ", "html": "<p>x</p>"},
                 {"name": "x" * 256, "html": "<p>x</p>"}):
        r = await client.post("/api/rest/v2/templates", json=body, headers=auth)
        assert r.status_code == 422 and r.json()["error"]["code"] == 422, body
    r = await client.post("/api/rest/v2/templates", json={"name": "A", "html": "<p>a</p>"}, headers=auth)
    tid = r.json()["data"]["id"]
    r = await client.put(f"/api/rest/v2/templates/{tid}", json={"name": "A"}, headers=auth)
    assert r.status_code == 422 and "html" in r.json()["error"]["fields"]
    for bad in ("abc", "99999999999999999999999", "-1"):
        assert (await client.get(f"/api/rest/v2/templates/{bad}", headers=auth)).status_code == 404
    assert (await client.get("/api/rest/v2/templates?limit=0", headers=auth)).status_code == 422
    assert (await client.get("/api/rest/v2/templates?limit=1001", headers=auth)).status_code == 422


async def test_pagination(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for i in range(5):
        await client.post("/api/rest/templates", json={"name": f"T{i}", "html": "<p/>"}, headers=auth)
    r = await client.get("/api/rest/templates", params={"limit": 2, "page": 2}, headers=auth)
    body = r.json()
    assert [t["name"] for t in body["data"]] == ["T2", "T3"]
    page = body["meta"]["pagination"]
    assert {k: page[k] for k in ("total", "count", "per_page", "current_page", "total_pages")} == \
        {"total": 5, "count": 2, "per_page": 2, "current_page": 2, "total_pages": 3}
    assert page["links"]["next"] == "http://tidings.test/api/rest/templates?limit=2&page=3"
    assert page["links"]["previous"] == "http://tidings.test/api/rest/templates?limit=2&page=1"


async def test_template_ids_in_a_mailing(client: httpx.AsyncClient, auth: dict[str, str], account: NewAccount,
                                         db: Database) -> None:
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "info@acme.test")
    v1 = (await client.post("/api/rest/templates", json={"name": "v1", "html": "<p>v1 {name}</p>"},
                            headers=auth)).json()["data"]["id"]
    v2 = (await client.post("/api/rest/v2/templates", json={"name": "v2", "html": "<p>v2 {name}</p>"},
                            headers=auth)).json()["data"]["id"]
    base = {"to": ["bob@example.test"], "fromEmail": "info@acme.test", "replyTo": "info@acme.test", "subject": "S",
            "sub": [{"name": "Bob"}]}
    sent = []
    for ids in ({"templateId": v1}, {"templateV2Id": v2}):
        r = await client.post("/api/rest/mailing", json={**base, **ids}, headers=auth)
        assert r.status_code == 202, r.text
        sent.append(row_id(Kind.MESSAGE, r.json()["result"][0]["id"]))
    async with db.sessions() as s:
        htmls = [(await s.get(Message, mid)).html for mid in sent]  # type: ignore[union-attr]
    assert htmls == ["<p>v1 Bob</p>", "<p>v2 Bob</p>"]
    r = await client.post("/api/rest/mailing", json={**base, "templateId": v2}, headers=auth)
    assert r.status_code == 400 and r.json()["error"] == {"code": 140, "description": "Template missing"}
