"""Failed sign-ins are throttled per client address and per username from that address (429 + Retry-After),
and a real user signing in from their own address is never locked out by someone else's failures."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tidings.config import Settings
from tidings.tenancy.service import NewAccount

from helpers import basic, bearer, wavy


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return Settings(database_url=database_url, secret_key="k", data_dir=tmp_path,
                    signin_failures_per_address="20/10 minutes", signin_failures_per_user="5/10 minutes")


@pytest.fixture
async def elsewhere(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    """The real user, on another address than the attacker's client (203.0.113.7)."""
    transport = httpx.ASGITransport(app=app, client=("198.51.100.9", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://tidings.test") as c:
        yield c


async def test_wrong_passwords_for_one_user_are_throttled_without_locking_the_user_out(
        client: httpx.AsyncClient, elsewhere: httpx.AsyncClient, account: NewAccount) -> None:
    wrong = basic(account.username, "guess")
    statuses = [(await client.get("/api/rest/account", headers=wrong)).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    r = await client.get("/api/rest/account", headers=wrong)
    assert r.status_code == 429 and r.json()["error"]["code"] == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 600
    # Even the right password waits on the attacker's address ...
    assert (await client.get("/api/rest/account", headers=basic(account.username, account.api_password))
            ).status_code == 429
    # ... but the user on their own address signs in.
    r = await elsewhere.get("/api/rest/account", headers=basic(account.username, account.api_password))
    assert r.status_code == 200, r.text


async def test_an_address_trying_many_tokens_is_throttled_in_each_dialect(
        client: httpx.AsyncClient, elsewhere: httpx.AsyncClient, account: NewAccount) -> None:
    statuses = [(await client.get("/api/v1/clients", headers=bearer(f"tdg_guess{i}"))).status_code
                for i in range(21)]
    assert statuses == [401] * 20 + [429]
    r = await client.get("/api/v1/clients", headers=bearer(account.api_token))
    assert r.status_code == 429 and r.json() == {"message": "Too Many Attempts."} and "Retry-After" in r.headers
    r = await client.post("/v1/email/send", json={}, headers=wavy(account.username, account.api_token))
    assert r.status_code == 429 and r.json()["errorCode"] == 429
    assert (await elsewhere.get("/api/v1/clients", headers=bearer(account.api_token))).status_code == 200


async def test_successes_do_not_count(client: httpx.AsyncClient, account: NewAccount) -> None:
    for _ in range(30):
        r = await client.get("/api/rest/account", headers=basic(account.username, account.api_password))
        assert r.status_code == 200
