"""The three credential styles, hashed storage, the IP allow-list and tenant isolation."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import select

from tidings.core.clock import ManualClock, as_utc
from tidings.db.engine import Database
from tidings.db.models import Account, ApiCredential
from tidings.tenancy.service import NewAccount, set_allowed_ips

from helpers import basic, bearer, wavy


async def test_bearer_token_lists_clients(client: httpx.AsyncClient, account: NewAccount) -> None:
    r = await client.get("/api/v1/clients", headers=bearer(account.api_token))
    assert r.status_code == 200
    assert r.json() == {"data": []}


async def test_wrong_bearer_token_is_401_in_outreach_envelope(client: httpx.AsyncClient, account: NewAccount) -> None:
    for headers in (bearer("tdg_wrong"), {}, {"Authorization": "Basic abc"}):
        r = await client.get("/api/v1/clients", headers=headers)
        assert r.status_code == 401
        assert r.json() == {"message": "Unauthenticated."}


async def test_api_password_is_not_a_bearer_token(client: httpx.AsyncClient, account: NewAccount) -> None:
    r = await client.get("/api/v1/clients", headers=bearer(account.api_password))
    assert r.status_code == 401


async def test_basic_auth_reads_account(client: httpx.AsyncClient, account: NewAccount) -> None:
    r = await client.get("/api/rest/account", headers=basic(account.username, account.api_password))
    assert r.status_code == 200
    body = r.json()
    assert body["username"] == account.username
    assert body["email"] == "owner@acme.test"
    assert set(body) == {"username", "email", "timezone", "language", "balance", "creationDate", "country", "currency"}
    assert body["balance"] == 0
    assert body["currency"] == "EUR"


async def test_wrong_basic_credentials_get_code_103(client: httpx.AsyncClient, account: NewAccount) -> None:
    cases = [basic(account.username, "nope"), basic("nobody", account.api_password), {},
             {"Authorization": "Basic !!!notbase64"}, bearer(account.api_token)]
    for headers in cases:
        r = await client.get("/api/rest/account", headers=headers)
        assert r.status_code == 401, headers
        assert r.json() == {"error": {"code": 103, "description": "Username or password unknown"}}


async def test_another_accounts_password_does_not_work(client: httpx.AsyncClient, make_account: Any) -> None:
    a = await make_account("A", "a@a.test")
    b = await make_account("B", "b@b.test")
    r = await client.get("/api/rest/account", headers=basic(a.username, b.api_password))
    assert r.status_code == 401


async def test_ip_allow_list_gives_code_112(client: httpx.AsyncClient, account: NewAccount, db: Any) -> None:
    async with db.transaction() as s:
        await set_allowed_ips(s, account.account_id, ["198.51.100.0/24"])
    r = await client.get("/api/rest/account", headers=basic(account.username, account.api_password))
    assert r.status_code == 401
    assert r.json() == {"error": {"code": 112, "description": "IP address not allowed"}}
    async with db.transaction() as s:
        await set_allowed_ips(s, account.account_id, ["198.51.100.0/24", "203.0.113.7"])
    r = await client.get("/api/rest/account", headers=basic(account.username, account.api_password))
    assert r.status_code == 200


async def test_header_credentials_list_email_statuses(client: httpx.AsyncClient, account: NewAccount) -> None:
    for name in (account.username, account.email):
        r = await client.post("/v1/email/status/list", headers=wavy(name, account.api_token))
        assert r.status_code == 200
        assert r.json() == []
    r = await client.post("/v1/email/status/list", headers=wavy(account.username, "tdg_bad"))
    assert r.status_code == 401
    assert "errorMessage" in r.json()
    r = await client.post("/v1/email/status/list", headers=wavy("someone-else", account.api_token))
    assert r.status_code == 401


async def test_secrets_are_stored_only_as_hashes(account: NewAccount, db: Any) -> None:
    async with db.sessions() as s:
        stored = list((await s.execute(select(ApiCredential))).scalars())
        acc = (await s.execute(select(Account))).scalar_one()
    assert {c.kind for c in stored} == {"token", "api_password"}
    for cred in stored:
        assert account.api_token not in cred.secret_hash and account.api_password not in cred.secret_hash
        assert len(cred.secret_hash) == 64
    assert acc.username == account.username


async def test_clients_of_one_agency_are_invisible_to_another(client: httpx.AsyncClient, make_account: Any) -> None:
    a = await make_account("A", "a@a.test")
    b = await make_account("B", "b@b.test")
    r = await client.post("/api/v1/clients", json={"name": "Client of A", "max_emails": 2}, headers=bearer(a.api_token))
    assert r.status_code == 201
    created = r.json()["data"]
    assert created["name"] == "Client of A" and created["max_emails"] == 2
    assert len(created["id"]) == 20 and created["id"].isalnum() and created["id"].islower() or created["id"].isdigit()
    assert (await client.get("/api/v1/clients", headers=bearer(b.api_token))).json() == {"data": []}
    assert [c["id"] for c in (await client.get("/api/v1/clients", headers=bearer(a.api_token))).json()["data"]] == [
        created["id"]]


async def test_a_credentials_last_use_is_kept_to_the_minute_without_a_write_per_call(
        client: httpx.AsyncClient, account: NewAccount, db: Database, clock: ManualClock) -> None:
    async def last_used() -> Any:
        async with db.sessions() as s:
            cred = (await s.execute(select(ApiCredential).where(ApiCredential.kind == "api_password",
                                                                ApiCredential.account_id == account.account_id)))
            return cred.scalar_one().last_used_at

    headers = basic(account.username, account.api_password)
    assert (await client.get("/api/rest/account", headers=headers)).status_code == 200
    first = await last_used()
    assert first is not None and as_utc(first) == clock.now()
    clock.advance(30)
    assert (await client.get("/api/rest/account", headers=headers)).status_code == 200
    assert await last_used() == first  # used again within the minute: not written again
    clock.advance(31)
    assert (await client.get("/api/rest/account", headers=headers)).status_code == 200
    assert as_utc(await last_used()) == clock.now()
