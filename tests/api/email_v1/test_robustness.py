"""Bad input to the email dialect is a 4xx in its envelope and writes nothing, on both databases."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from tidings.db.engine import Database
from tidings.db.models import Message
from tidings.messaging import senders
from tidings.tenancy.service import NewAccount

from helpers import wavy


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return {**wavy(account.username, account.api_token), "Content-Type": "application/json"}


@pytest.fixture
async def verified(db: Database, account: NewAccount) -> None:
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "notification@acme.test", "Notifications")


async def _count(db: Database) -> int:
    async with db.sessions() as s:
        return int((await s.execute(select(func.count()).select_from(Message))).scalar_one())


def _invalid(r: httpx.Response, field: str) -> None:
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["errorCode"] == 422 and "NUL" in body["errorMessage"] and field in body["errors"]


@pytest.mark.parametrize("escape", ["\\u0000", "\\ud800"])
async def test_nul_and_lone_surrogates_are_422(client: httpx.AsyncClient, auth: dict[str, str], verified: None,
                                              db: Database, escape: str) -> None:
    raw = (f'{{"fromEmail": "notification@acme.test", "fromName": "N{escape}", "emailText": "x",'
           ' "recipients": [{"emailAddress": "a@example.test"}]}')
    _invalid(await client.post("/v1/email/send", content=raw, headers=auth), "fromName")
    raw = ('{"fromEmail": "notification@acme.test", "fromName": "N", "emailText": "x",'
           f' "recipients": [{{"emailAddress": "a@example.test", "substitutionData": {{"a": ["{escape}"]}}}}]}}')
    _invalid(await client.post("/v1/email/send", content=raw, headers=auth), "recipients.0.substitutionData.a.0")
    raw = f'{{"correlationIds": ["x{escape}"]}}'
    _invalid(await client.post("/v1/email/status/search", content=raw, headers=auth), "correlationIds.0")
    assert await _count(db) == 0
