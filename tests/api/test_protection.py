"""Request bodies: authentication before the body is read, per-route caps answered with 413 in each
dialect's envelope without reading, bounded JSON nesting, and /healthz answering meanwhile.

The app is called as an ASGI application directly, so that a test sees exactly how much of a body
the server asked for.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tidings.api import protection
from tidings.config import Settings
from tidings.tenancy.service import NewAccount

from helpers import basic, bearer, wavy


class Upload:
    """A request body the server pulls chunk by chunk; counts what it pulled."""

    def __init__(self, chunks: int, size: int = 64 * 1024, *, hang: bool = False) -> None:
        self.left, self.size, self.hang = chunks, size, hang
        self.pulled = 0

    async def receive(self) -> dict[str, Any]:
        if self.hang:
            await asyncio.Event().wait()  # a client that never sends its body
        self.pulled += 1
        self.left -= 1
        return {"type": "http.request", "body": b"[" + b"1," * (self.size // 2 - 1) + b"1", "more_body": self.left > 0}


async def call(app: Any, method: str, path: str, headers: dict[str, str], upload: Upload,
               length: int | None = None) -> tuple[int, dict[str, str], Any]:
    raw = [(k.lower().encode(), v.encode()) for k, v in {"content-type": "application/json", **headers}.items()]
    if length is not None:
        raw.append((b"content-length", str(length).encode()))
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "headers": raw,
             "client": ("203.0.113.7", 40000), "server": ("tidings.test", 80)}
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await asyncio.wait_for(app(scope, upload.receive, send), 10)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, json.loads(body)


@pytest.fixture
def settings(database_url: str, tmp_path: Any) -> Settings:
    return Settings(database_url=database_url, secret_key="k", data_dir=tmp_path, body_limit=256 * 1024,
                    body_limit_large=1024 * 1024, json_max_depth=8)


async def test_an_anonymous_body_is_refused_before_a_byte_is_read(app: Any) -> None:
    for path, headers, envelope in [
        ("/api/rest/sms", {}, {"error": {"code": 103, "description": "Username or password unknown"}}),
        ("/api/rest/sms", basic("nobody", "wrong"), {"error": {"code": 103,
                                                               "description": "Username or password unknown"}}),
        ("/api/v1/contacts", bearer("wrong"), {"message": "Unauthenticated."}),
        ("/v1/email/send", wavy("nobody", "wrong"), {"errorCode": 401,
                                                       "errorMessage": "Username or token unknown."}),
    ]:
        upload = Upload(800)  # 50 MB, never asked for
        status, _, body = await call(app, "POST", path, headers, upload, length=50 * 1024 * 1024)
        assert status == 401, (path, body)
        assert upload.pulled == 0, path
        if "errorMessage" in envelope:
            assert body["errorCode"] == 401
        else:
            assert body == envelope, path


async def test_a_declared_body_over_the_cap_is_413_in_each_dialect_without_reading(app: Any,
                                                                                   account: NewAccount) -> None:
    cases = [
        ("/api/rest/sms", basic(account.username, account.api_password), lambda b: b["error"]["code"] == 413),
        ("/api/v1/contacts", bearer(account.api_token), lambda b: "larger than" in b["message"]),
        ("/v1/email/send", wavy(account.username, account.api_token), lambda b: b["errorCode"] == 413),
        ("/v1/omni/send", wavy(account.username, account.api_token), lambda b: b["errorCode"] == 413),
    ]
    for path, headers, envelope in cases:
        upload = Upload(800)
        status, _, body = await call(app, "POST", path, headers, upload, length=50 * 1024 * 1024)
        assert (status, upload.pulled) == (413, 0), (path, body)
        assert envelope(body), (path, body)


async def test_a_streamed_body_is_cut_at_the_cap(app: Any, account: NewAccount) -> None:
    upload = Upload(800)  # no Content-Length: chunked
    status, _, body = await call(app, "PUT", "/api/rest/account/notifications",
                                 basic(account.username, account.api_password), upload)
    assert status == 413 and body["error"]["code"] == 413
    assert upload.pulled <= 5, "reading stops at the cap (256 KiB here), not at the end"


async def test_imports_and_attachments_get_the_large_cap(settings: Settings) -> None:
    assert protection.limit_for(settings, "/api/v1/campaigns/abc/contacts/import") == 1024 * 1024
    assert protection.limit_for(settings, "/v1/email/send") == 1024 * 1024
    assert protection.limit_for(settings, "/api/rest/sms") == 1024 * 1024, "bulk sends"
    assert protection.limit_for(settings, "/api/rest/account/notifications") == 256 * 1024
    assert protection.limit_for(settings, "/api/v1/contacts") == 256 * 1024


async def test_a_csv_import_between_the_caps_is_accepted(client: httpx.AsyncClient, account: NewAccount) -> None:
    headers = bearer(account.api_token)
    r = await client.post("/api/v1/clients", json={"name": "Cremin LLC", "max_emails": 3}, headers=headers)
    r = await client.post("/api/v1/campaigns", json={"name": "Q3", "client_id": r.json()["data"]["id"],
                                                            "timezone": "UTC"},
                          headers=headers)
    campaign = r.json()["data"]["id"]
    rows = "".join(f"p{i}@globex.test,P{i},{'x' * 60}\n" for i in range(5000))
    csv = ("email,first_name,company\n" + rows).encode()
    assert 256 * 1024 < len(csv) < 1024 * 1024
    r = await client.post(f"/api/v1/campaigns/{campaign}/contacts/import", files={"file": ("c.csv", csv, "text/csv")},
                          headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["created"] == 5000


@pytest.mark.parametrize("depth", [9, 50, 5000])
async def test_deeply_nested_json_is_refused_not_a_500(client: httpx.AsyncClient, account: NewAccount,
                                                       depth: int) -> None:
    body = "[" * depth + "]" * depth
    r = await client.post("/api/rest/sms", content=body, headers={**basic(account.username, account.api_password),
                                                                  "Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json()["error"]["code"] == 125
    r = await client.post("/api/v1/contacts", content=body, headers={**bearer(account.api_token),
                                                                     "Content-Type": "application/json"})
    assert r.status_code == 400 and "nested" in r.json()["message"]


async def test_json_within_the_depth_still_works(client: httpx.AsyncClient, account: NewAccount) -> None:
    r = await client.post("/api/rest/sms", json={"to": ["34666555444"], "from": "Acme", "message": "hi",
                                                 "sub": [{"a": "b"}]},
                          headers=basic(account.username, account.api_password))
    assert r.status_code in (202, 207), r.text


async def test_healthz_answers_while_a_body_never_arrives(app: Any, client: httpx.AsyncClient,
                                                          account: NewAccount) -> None:
    stuck = asyncio.create_task(call(app, "POST", "/api/rest/sms", basic(account.username, account.api_password),
                                     Upload(1, hang=True)))
    await asyncio.sleep(0.05)
    assert (await client.get("/healthz")).json()["status"] == "ok"
    refused = await call(app, "POST", "/api/rest/sms", {}, Upload(1, hang=True), length=100 * 1024 * 1024)
    assert refused[0] == 401
    stuck.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stuck
