"""The OpenAPI document is the contract: schemathesis calls every operation of the four dialects on a real
server, with generated input and with ids of real rows, and checks each answer against the document.

Checks: no 5xx, every status declared, every content type declared, every body valid against its schema.
Bounded: a fixed number of examples per operation (derandomised, so CI runs the same cases) and a
wall-clock budget per database backend.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import hypothesis
import schemathesis
import uvicorn
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tidings.app import create_app
from tidings.config import DEFAULT_RATE_LIMITS, Settings
from tidings.db.engine import Database
from tidings.messaging import senders
from tidings.tenancy.service import NewAccount

from helpers import basic, bearer, wavy

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = 8  # generated cases per operation, plus as many again with real ids in the path
BUDGET_SECONDS = 150  # per backend; the operations left when it runs out are reported, not skipped silently


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(settings: Settings) -> Iterator[str]:
    """The app on a real socket in its own thread and event loop, as clients meet it."""
    port = _port()
    server = uvicorn.Server(uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


async def _seed(base: str, account: NewAccount) -> dict[str, dict[str, str]]:
    """Real rows of every kind a path names, created through the API; the ids each dialect's paths take."""
    out, rest, wv = bearer(account.api_token), basic(account.username, account.api_password), \
        wavy(account.username, account.api_token)
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        async def call(method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
            r = await http.request(method, path, headers=headers, **kw)
            assert r.status_code < 300, (path, r.status_code, r.text)
            return r.json()

        client = (await call("POST", "/api/v1/clients", out, json={"name": "Acme", "max_emails": 3}))["data"]["id"]
        campaign = (await call("POST", "/api/v1/campaigns", out, json={
            "name": "Spring", "client_id": client, "timezone": "Europe/Madrid"}))["data"]["id"]
        await call("POST", f"/api/v1/campaigns/{campaign}/steps", out, json={"subject": "Hi", "body": "<p>Hello</p>"})
        mailbox = (await call("POST", "/api/v1/mailboxes", out, json={
            "client_id": client, "email": "sender@acme.test", "smtp_host": "smtp.acme.test",
            "smtp_username": "sender@acme.test", "smtp_password": "secret"}))["data"]["id"]
        contact = (await call("POST", "/api/v1/contacts", out, json={
            "campaign_id": campaign, "email": "ann@example.org", "first_name": "Ann"}))["data"][0]["id"]

        sms = await call("POST", "/api/rest/sms", rest, json={
            "to": ["34666555444"], "from": "TIDINGS", "message": "Hi", "campaignName": "Promo", "certified": True})
        scheduled = await call("POST", "/api/rest/sms", rest, json={
            "to": ["34666555445"], "from": "TIDINGS", "message": "Later", "scheduleDate": "20300101093000"})
        template = (await call("POST", "/api/rest/v2/templates", rest, json={"name": "t", "html": "<p>{name}</p>"}))
        legacy = (await call("POST", "/api/rest/templates", rest, json={"name": "t", "html": "<p>{name}</p>"}))
        sender = (await call("GET", "/api/rest/senders", rest))["data"][0]["id"]
        await call("PUT", "/api/rest/v2/blacklist/sms", rest, json={"recipient": "34666555999"})
        mail = await call("POST", "/api/rest/mailing", rest, json={
            "to": ["bob@example.test"], "fromEmail": "info@acme.test", "replyTo": "info@acme.test", "subject": "S",
            "body": "<p>Hi</p>", "certified": True})
        await call("POST", "/v1/email/send", wv, json={
            "fromEmail": "info@acme.test", "fromName": "Info", "subject": "S", "emailHtml": "<p>Hi</p>",
            "recipients": [{"emailAddress": "bob@example.test", "correlationId": "c1"}]})
        flow = await call("POST", "/v1/omni/send", wv, json={
            "contacts": [{"phone": "34666555444", "correlationId": "c1"}],
            "template": {"steps": [{"type": "MT", "messageText": "Hi"}]}})
    return {
        "/api/v1": {"client_id": client, "campaign_id": campaign, "contact_id": contact, "mailbox_id": mailbox,
                    "number": "1"},
        "/api/rest": {"message_ids": sms["result"][0]["id"], "message_id": sms["result"][0]["id"],
                      "campaign_id": str(sms["campaignId"]), "sending_id": str(scheduled["sendingId"]),
                      "template_id": str(template["data"]["id"]), "sender_id": str(sender), "type_": "sms",
                      "mailing_message_id": mail["result"][0]["id"], "legacy_template_id": str(legacy["data"]["id"])},
        "/v1/omni": {"public_id": flow["id"]},
        "/v1/email": {},
    }


def _dialect(path: str) -> str:
    return next(p for p in ("/api/v1", "/api/rest", "/v1/email", "/v1/omni") if path.startswith(p))


def _real_ids(case: schemathesis.Case, ids: dict[str, str]) -> None:
    """Replace the generated path ids by those of real rows (the right kind for the path)."""
    path = case.operation.path
    for name in list(case.path_parameters or {}):
        value = ids.get(name)
        if name == "message_id" and path.startswith("/api/rest/mailing/"):
            value = ids.get("mailing_message_id")
        if name == "template_id" and path.startswith("/api/rest/templates"):
            value = ids.get("legacy_template_id")
        if value is not None and case.path_parameters is not None:
            case.path_parameters[name] = value


def _checker(base: str, headers: dict[str, str], ids: dict[str, str], operation: Any) -> Any:
    """A hypothesis test of one operation: valid and invalid generated cases, about half with real ids in the path."""
    calls = [0]

    # Valid input (the documented types) and invalid input (which must be a 4xx, never a 5xx).
    cases = hypothesis.strategies.one_of(operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
                                         operation.as_strategy(schemathesis.GenerationMode.NEGATIVE))

    @hypothesis.given(case=cases, real=hypothesis.strategies.booleans())
    @hypothesis.settings(max_examples=2 * EXAMPLES, deadline=None, derandomize=True, database=None,
                         phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case, real: bool) -> None:
        if real:
            _real_ids(case, ids)
        calls[0] += 1
        case.call_and_validate(base_url=base, headers=headers, checks=CHECKS, timeout=30)

    def run() -> int:
        check()
        return calls[0]

    return run


def _run(base: str, account: NewAccount, ids: dict[str, dict[str, str]]) -> tuple[list[str], list[str], int]:
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    wavy_auth = wavy(account.username, account.api_token)
    auth = {"/api/v1": bearer(account.api_token), "/api/rest": basic(account.username, account.api_password),
            "/v1/email": wavy_auth, "/v1/omni": wavy_auth}
    failures: list[str] = []
    unreached: list[str] = []
    calls = 0
    started = time.monotonic()
    for result in schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if not operation.path.startswith(tuple(auth)):
            continue
        if time.monotonic() - started > BUDGET_SECONDS:
            unreached.append(label)
            continue
        dialect = _dialect(operation.path)
        try:
            calls += _checker(base, auth[dialect], ids[dialect], operation)()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # noqa: BLE001 - schemathesis raises exception groups; all are reported
            failures.append(f"{label}: {str(exc)[:1500]}")
    return failures, unreached, calls


async def test_every_operation_answers_as_the_openapi_document_says(
        settings: Settings, db: Database, account: NewAccount) -> None:
    # Thousands of calls in a few minutes: rate limits are another test's subject.
    settings = settings.model_copy(update={"rate_limits": dict.fromkeys(DEFAULT_RATE_LIMITS, "1000000/minute")})
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "info@acme.test")
    with _serve(settings) as base:
        ids = await _seed(base, account)
        failures, unreached, calls = await asyncio.to_thread(_run, base, account, ids)
    assert not unreached, f"time budget spent before {len(unreached)} operations: {unreached}"
    assert calls > 500
    assert not failures, "\n\n".join(failures)
