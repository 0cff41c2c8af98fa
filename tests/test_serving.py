"""`tidings serve` trusts X-Forwarded-For only from TIDINGS_TRUSTED_PROXIES; secrets stay out of access logs."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager

from tidings.app import create_app
from tidings.config import Settings
from tidings.db.engine import Database
from tidings.logging import SECRET_PATHS
from tidings.messaging.receipts import callback_token
from tidings.serving import trusted_proxies, uvicorn_options
from tidings.tenancy.service import NewAccount, set_allowed_ips

from helpers import basic


async def _served(settings: Settings) -> Any:
    """The app as uvicorn wraps it for `tidings serve` with these settings."""
    config = uvicorn.Config(create_app(settings), log_config=None, **uvicorn_options(settings))
    config.load()
    return config.loaded_app


async def _get_account(app: Any, account: NewAccount, peer: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://tidings.test") as c:
        return await c.get("/api/rest/account", headers={**basic(account.username, account.api_password),
                                                         "X-Forwarded-For": "198.51.100.20"})


async def test_forwarded_headers_from_loopback_are_ignored_by_default(settings: Settings, db: Database,
                                                                      account: NewAccount) -> None:
    async with db.transaction() as s:
        await set_allowed_ips(s, account.account_id, ["198.51.100.20"])
    settings.trusted_proxies = ""
    app = await _served(settings)
    async with LifespanManager(app):
        r = await _get_account(app, account, "127.0.0.1")
    assert r.status_code == 401 and r.json()["error"]["code"] == 112


async def test_forwarded_headers_from_a_listed_proxy_are_honoured(settings: Settings, db: Database,
                                                                  account: NewAccount) -> None:
    async with db.transaction() as s:
        await set_allowed_ips(s, account.account_id, ["198.51.100.20"])
    settings.trusted_proxies = "10.0.0.0/8, 127.0.0.1"
    app = await _served(settings)
    async with LifespanManager(app):
        assert (await _get_account(app, account, "127.0.0.1")).status_code == 200
        r = await _get_account(app, account, "192.0.2.99")  # not a listed proxy
        assert r.status_code == 401 and r.json()["error"]["code"] == 112


def test_trusted_proxies_must_be_addresses(settings: Settings) -> None:
    settings.trusted_proxies = "proxy.internal"
    with pytest.raises(ValueError, match="proxy.internal"):
        trusted_proxies(settings)
    settings.trusted_proxies = ""
    assert uvicorn_options(settings)["proxy_headers"] is False


async def test_the_twilio_callback_token_never_reaches_the_access_log(app: Any, client: httpx.AsyncClient,
                                                                      caplog: pytest.LogCaptureFixture) -> None:
    token = callback_token(app.state.settings.resolved_secret_key())
    access = logging.getLogger("uvicorn.access")
    assert SECRET_PATHS in access.filters
    # Held directly: logging set up by another test (tidings.logging.configure) may stop propagation to the root.
    access.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.INFO, logger="uvicorn.access"):
            # The line uvicorn's protocols write for every request.
            access.info('%s - "%s %s HTTP/%s" %d', "203.0.113.7:4000", "POST", f"/inbound/sms/twilio/{token}?x=1",
                        "1.1", 204)
    finally:
        access.removeHandler(caplog.handler)
    assert token not in caplog.text
    assert "/inbound/sms/twilio/…?x=1" in caplog.text


async def test_metrics_are_off_unless_a_token_is_set(app: Any, client: httpx.AsyncClient) -> None:
    app.state.settings.metrics_token = ""
    assert (await client.get("/metrics")).status_code == 404
    app.state.settings.metrics_token = "s3cret-scrape"
    assert (await client.get("/metrics")).status_code == 401
    assert (await client.get("/metrics", headers={"Authorization": "Bearer nope"})).status_code == 401
    r = await client.get("/metrics", headers={"Authorization": "Bearer s3cret-scrape"})
    assert r.status_code == 200 and "tidings_http_requests_total" in r.text


async def test_the_start_up_warm_up_is_seen_by_no_log_and_no_metric(settings: Settings, db: Database,
                                                                  account: NewAccount) -> None:
    # Route matching is prepared at start (FastAPI builds it on the first request otherwise): the internal
    # request that does it must not be counted, logged or answered to anyone, and the first real call works.
    from structlog.testing import capture_logs

    from tidings.app import REQUESTS

    def counted() -> float:
        return sum(s.value for metric in REQUESTS.collect() for s in metric.samples if s.name.endswith("_total"))

    before = counted()
    app = create_app(settings, warm=True)  # as `tidings serve` builds it
    with capture_logs() as logs:
        async with LifespanManager(app):
            assert counted() == before
            transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://tidings.test") as client:
                r = await client.post("/api/rest/sms", headers=basic(account.username, account.api_password),
                                      json={"to": ["34666555444"], "from": "TIDINGS", "message": "first"})
            assert r.status_code == 202, r.text
    assert counted() == before + 1
    assert not [e for e in logs if "warm" in str(e.get("path", ""))]
