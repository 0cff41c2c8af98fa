"""Mailbox SMTP and IMAP hosts go through the outbound address guard when they are saved."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tidings.tenancy.service import NewAccount

from helpers import bearer


def _box(**overrides: Any) -> dict[str, Any]:
    return {"email": "sam@acme.test", "smtp_host": "smtp.acme.test", "smtp_username": "sam",
            "smtp_password": "pw", **overrides}


@pytest.mark.parametrize(("field", "host"), [
    ("smtp_host", "127.0.0.1"), ("smtp_host", "localhost"), ("smtp_host", "10.0.0.5"),
    ("smtp_host", "2130706433"), ("smtp_host", "0x7f000001"), ("smtp_host", "[::1]"),
    ("smtp_host", "169.254.169.254"), ("imap_host", "192.168.1.10"), ("imap_host", "64:ff9b::a00:1"),
])
async def test_private_hosts_are_refused_with_422_naming_the_field(app: Any, client: httpx.AsyncClient,
                                                                   account: NewAccount, field: str,
                                                                   host: str) -> None:
    app.state.settings.outbound_allow_private = False
    body = _box(**{field: host}, imap_password="pw") if field == "imap_host" else _box(**{field: host})
    r = await client.post("/api/v1/mailboxes", json=body, headers=bearer(account.api_token))
    assert r.status_code == 422, r.text
    assert field in r.json()["errors"]
    listed = await client.get("/api/v1/mailboxes", headers=bearer(account.api_token))
    assert listed.json()["data"] == []


async def test_public_hosts_are_saved_normalised_and_private_ones_when_the_operator_allows(
        app: Any, client: httpx.AsyncClient, account: NewAccount) -> None:
    app.state.settings.outbound_allow_private = False
    r = await client.post("/api/v1/mailboxes", json=_box(smtp_host="SMTP.Acme.Test.", imap_host="134744072",
                                                         imap_password="pw"), headers=bearer(account.api_token))
    assert r.status_code == 201, r.text
    assert r.json()["data"]["smtp_host"] == "smtp.acme.test"
    assert r.json()["data"]["imap_host"] == "8.8.8.8"
    app.state.settings.outbound_allow_private = True
    r = await client.post("/api/v1/mailboxes", json=_box(email="kim@acme.test", smtp_host="127.0.0.1"),
                          headers=bearer(account.api_token))
    assert r.status_code == 201, r.text
