"""Fixtures of the outreach dialect tests: an agency with a client and a campaign, and helpers.

Test modules load with --import-mode=importlib, so helpers are handed out as fixtures.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tidings.tenancy.service import NewAccount

from helpers import bearer


@dataclass
class Agency:
    account: NewAccount
    headers: dict[str, str]
    client_id: str
    campaign_id: str


class Api:
    """Small request helpers bound to the test client."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def agency(self, account: NewAccount, name: str = "Cremin LLC") -> Agency:
        headers = bearer(account.api_token)
        r = await self.http.post("/api/v1/clients", json={"name": name, "max_emails": 3}, headers=headers)
        assert r.status_code == 201, r.text
        client_id = r.json()["data"]["id"]
        r = await self.http.post("/api/v1/campaigns", json={"name": f"{name} 13", "client_id": client_id,
                                                            "timezone": "US/Mountain"}, headers=headers)
        assert r.status_code == 200, r.text
        return Agency(account, headers, client_id, r.json()["data"]["id"])

    async def contact(self, agency: Agency, email: str, campaign_id: str | None = None, **fields: Any
                      ) -> dict[str, Any]:
        r = await self.http.post("/api/v1/contacts", json={"campaign_id": campaign_id or agency.campaign_id,
                                                           "email": email, **fields}, headers=agency.headers)
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()["data"][0]
        return data

    async def client_user(self, agency: Agency, email: str, **roles: bool) -> dict[str, str]:
        """Invite a user to the agency's client with roles, accept, and return its Bearer headers."""
        r = await self.http.post(f"/api/v1/clients/{agency.client_id}/users", json={"email": email, **roles},
                                 headers=agency.headers)
        assert r.status_code == 200, r.text
        token = r.json()["invitation"]["token"]
        r = await self.http.post("/api/v1/invitations/accept", json={"token": token, "name": "Mike Jones"})
        assert r.status_code == 201, r.text
        return bearer(r.json()["data"]["token"])

    async def mailbox(self, agency: Agency, email: str = "sender@acme.test") -> str:
        r = await self.http.post("/api/v1/mailboxes", headers=agency.headers, json={
            "client_id": agency.client_id, "email": email, "smtp_host": "smtp.acme.test",
            "smtp_username": email, "smtp_password": "s3cret-pass"})
        assert r.status_code == 201, r.text
        return str(r.json()["data"]["id"])

    async def ready(self, agency: Agency) -> None:
        """Give the campaign a step and a mailbox so that it can start."""
        r = await self.http.post(f"/api/v1/campaigns/{agency.campaign_id}/steps", headers=agency.headers,
                                 json={"subject": "Hi {{first_name|there}}", "body": "<p>Hello</p>"})
        assert r.status_code == 201, r.text
        box = await self.mailbox(agency)
        r = await self.http.put(f"/api/v1/campaigns/{agency.campaign_id}/mailboxes", headers=agency.headers,
                                json={"mailbox_ids": [box]})
        assert r.status_code == 200, r.text


@pytest.fixture
def api(client: httpx.AsyncClient) -> Api:
    return Api(client)


@pytest.fixture
async def agency(api: Api, account: NewAccount) -> Agency:
    return await api.agency(account)


@pytest.fixture
async def other(api: Api, make_account: Callable[..., Awaitable[NewAccount]]) -> Agency:
    """A second agency, for tenant isolation."""
    return await api.agency(await make_account("Other", "owner@other.test"), name="Other Ltd")
