"""Bad input to the omni dialect is a 4xx in its envelope and writes nothing, on both databases."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from tidings.db.engine import Database
from tidings.db.models import Message
from tidings.tenancy.service import NewAccount

from helpers import wavy


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return {**wavy(account.username, account.api_token), "Content-Type": "application/json"}


async def _count(db: Database) -> int:
    async with db.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(Message))).scalar_one())


def _invalid(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["errorCode"] == 422 and field in body["errors"]


@pytest.mark.parametrize("escape", ["\\u0000", "\\udbff"])
async def test_nul_and_lone_surrogates_are_422(client: httpx.AsyncClient, auth: dict[str, str], db: Database,
                                              escape: str) -> None:
    raw = (f'{{"contacts": [{{"phone": "5511900000000", "contactInfo": {{"order": "A{escape}"}}}}],'
           ' "template": {"steps": [{"type": "MT", "messageText": "hi"}]}}')
    _invalid(await client.post("/v1/omni/send", content=raw, headers=auth), "contacts.0.contactInfo.order")
    raw = ('{"contacts": [{"phone": "5511900000000"}],'
           f' "template": {{"steps": [{{"type": "MT", "messageText": "hi {escape}"}}]}}}}')
    _invalid(await client.post("/v1/omni/send", content=raw, headers=auth), "template.steps.0.messageText")
    assert await _count(db) == 0


async def test_nul_in_the_path_is_422(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.get("/v1/omni/abc%00", headers=auth)
    assert r.status_code in (404, 422) and r.json()["errorCode"] == r.status_code


async def test_a_phone_with_unicode_digits_is_refused(client: httpx.AsyncClient, auth: dict[str, str],
                                                      db: Database) -> None:
    body = {"contacts": [{"phone": "55119000000³"}], "template": {"steps": [{"type": "MT", "messageText": "x"}]}}
    r = await client.post("/v1/omni/send", json=body, headers=auth)
    assert r.status_code == 422 and r.json()["errorCode"] == 422, r.text
    assert await _count(db) == 0
