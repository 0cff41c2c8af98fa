"""Bad input to the messaging dialect is a 4xx in its envelope and writes nothing, on both databases."""

from __future__ import annotations

import json

import httpx
import pytest
from sqlalchemy import func, select

from tidings.db.engine import Database
from tidings.db.models import Message
from tidings.tenancy.service import NewAccount

from helpers import basic

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return {**basic(account.username, account.api_password), **JSON}


async def _count(db: Database) -> int:
    async with db.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(Message))).scalar_one())


def _invalid(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == 422 and error["description"] == "Input validation error"
    assert field in error["fields"]


@pytest.mark.parametrize("escape", ["\\u0000", "\\ud800", "\\uDFFF"])
async def test_nul_and_lone_surrogates_in_a_body_are_422(client: httpx.AsyncClient, auth: dict[str, str],
                                                       db: Database, escape: str) -> None:
    raw = f'{{"to": ["34666555444"], "from": "TEST", "message": "hi {escape} there"}}'
    _invalid(await client.post("/api/rest/sms", content=raw, headers=auth), "message")
    raw = f'{{"to": ["34666555444"], "from": "TEST", "message": "hi", "sub": [{{"k{escape}": "v"}}]}}'
    _invalid(await client.post("/api/rest/sms", content=raw, headers=auth), "sub.0")
    assert await _count(db) == 0


async def test_a_valid_surrogate_pair_is_accepted(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    raw = json.dumps({"to": ["34666555444"], "from": "TEST", "message": "hi \U0001f600"})
    assert "\\ud83d" in raw
    r = await client.post("/api/rest/sms", content=raw, headers=auth)
    assert r.status_code == 202, r.text


async def test_nul_in_the_query_or_path_is_422(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    _invalid(await client.get("/api/rest/campaigns?name=a%00b", headers=auth), "name")
    _invalid(await client.get("/api/rest/sms/1%00", headers=auth), "message_ids")


@pytest.mark.parametrize("path", ["/api/rest/templates", "/api/rest/v2/templates", "/api/rest/campaigns",
                                  "/api/rest/v2/blacklist/mailing"])
async def test_a_page_beyond_any_offset_is_422(client: httpx.AsyncClient, auth: dict[str, str], path: str) -> None:
    for page in ("1000000000000000000", "2373844766802268605382656", "-1", "0", "x"):
        r = await client.get(f"{path}?page={page}&limit=776", headers=auth)
        assert r.status_code == 422 and r.json()["error"]["code"] == 422, (page, r.text)
    r = await client.get(f"{path}?page=1000000000&limit=1000", headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["data"] == []


@pytest.mark.parametrize("path", ["/api/rest/sms/%C2%B3", "/api/rest/scheduled?guid=%C2%B3",
                                  "/api/rest/templates/%C2%B3",
                                  "/api/rest/v2/templates/%C2%B3", "/api/rest/senders/%C2%B3",
                                  "/api/rest/campaigns/%C2%B3", "/api/rest/sendings/%C2%B3"])
async def test_unicode_digits_are_not_ids(client: httpx.AsyncClient, auth: dict[str, str], path: str) -> None:
    r = await client.get(path, headers=auth)
    assert r.status_code in (400, 404) and r.json()["error"]["code"] in (120, 404), r.text


async def test_unicode_digits_in_bodies_are_4xx(client: httpx.AsyncClient, auth: dict[str, str], db: Database) -> None:
    r = await client.post("/api/rest/sms", json={"to": ["34666555444"], "from": "T", "message": "x", "parts": "³"},
                          headers=auth)
    assert r.status_code == 400 and r.json()["error"]["code"] == 110, r.text
    r = await client.put("/api/rest/scheduled", json={"guid": ["³"], "scheduleDate": "2030101109300³"}, headers=auth)
    assert r.status_code == 400 and r.json()["error"]["code"] == 120, r.text
    r = await client.request("DELETE", "/api/rest/scheduled", json={"guid": "1,³"}, headers=auth)
    assert r.status_code == 400 and r.json()["error"]["code"] == 120, r.text
    assert await _count(db) == 0
