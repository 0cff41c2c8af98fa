"""Bad input gets a 4xx in each dialect's envelope; ops endpoints answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tidings.app import create_app
from tidings.config import Settings
from tidings.tenancy.service import NewAccount

from helpers import basic, bearer, wavy


async def test_unknown_routes_use_the_dialect_envelope(client: httpx.AsyncClient, account: NewAccount) -> None:
    r = await client.get("/api/v1/nothing-here", headers=bearer(account.api_token))
    assert r.status_code == 404 and "message" in r.json()
    r = await client.get("/api/rest/nothing-here", headers=basic(account.username, account.api_password))
    assert r.status_code == 404
    assert r.json() == {"error": {"code": 404, "description": "Resource not found"}}
    r = await client.get("/v1/email/nothing", headers=wavy(account.username, account.api_token))
    assert r.status_code == 404 and "errorMessage" in r.json()


async def test_validation_errors_are_422_with_fields(client: httpx.AsyncClient, account: NewAccount) -> None:
    r = await client.post("/api/v1/clients", json={"max_emails": "many"}, headers=bearer(account.api_token))
    assert r.status_code == 422
    body = r.json()
    assert set(body) == {"message", "errors"}
    assert "name" in body["errors"] and "max_emails" in body["errors"]


async def test_malformed_json_is_a_4xx(client: httpx.AsyncClient, account: NewAccount) -> None:
    r = await client.post("/api/v1/clients", content=b"{not json", headers={
        **bearer(account.api_token), "Content-Type": "application/json"})
    assert 400 <= r.status_code < 500
    assert "message" in r.json()


async def test_wrong_method_is_405_not_500(client: httpx.AsyncClient, account: NewAccount) -> None:
    r = await client.delete("/api/rest/account", headers=basic(account.username, account.api_password))
    assert r.status_code == 405
    assert r.json()["error"]["code"] == 405


async def test_ops_endpoints(app: Any, client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/clients" in spec["paths"] and "/api/rest/account" in spec["paths"]
    app.state.settings.metrics_token = "scrape-me"
    metrics = (await client.get("/metrics", headers={"Authorization": "Bearer scrape-me"})).text
    assert "tidings_http_requests_total" in metrics


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return Settings(database_url=database_url, secret_key="k", data_dir=tmp_path,
                    rate_limits={"clients": "2/minute", "default": "50/minute"})


async def test_rate_limit_is_per_user_and_group(client: httpx.AsyncClient, make_account: Any) -> None:
    a = await make_account("A", "a@a.test")
    b = await make_account("B", "b@b.test")
    for _ in range(2):
        assert (await client.get("/api/v1/clients", headers=bearer(a.api_token))).status_code == 200
    r = await client.get("/api/v1/clients", headers=bearer(a.api_token))
    assert r.status_code == 429
    assert int(r.headers["Retry-After"]) >= 1
    assert r.json() == {"message": "Too Many Attempts."}
    # Another user has its own budget; another endpoint group is independent.
    assert (await client.get("/api/v1/clients", headers=bearer(b.api_token))).status_code == 200
    assert (await client.post("/v1/email/status/list", headers=wavy(a.username, a.api_token))).status_code == 200


def test_app_builds_without_running(settings: Settings) -> None:
    assert create_app(settings).title == "Tidings"
