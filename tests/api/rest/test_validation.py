"""Email validation (/api/rest/validation/emails) end to end: the request queues, the engine checks against a
real DNS server (dnsmasq), notifications reach a real local receiver, results and the blacklist follow."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tidings.config import Settings
from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Account, EmailValidation, EmailValidationItem
from tidings.engine.context import EngineContext
from tidings.engine.runner import Runner
from tidings.tenancy.service import NewAccount

from dns_server import dns_server
from helpers import Receiver, basic

URL = "/api/rest/validation/emails"
KEYS = ["id", "status", "total", "processed", "valid", "estimatedCost", "cost", "currency", "createdAt",
        "updatedAt", "finishedAt", "resultUrl"]


@pytest.fixture(scope="module")
def resolver() -> Iterator[str]:
    with dns_server() as address:
        yield address


@pytest.fixture(autouse=True)
def _local_dns(settings: Settings, resolver: str) -> None:
    """Point the app's (and the engine's) resolver at the local DNS server."""
    settings.validation_resolver, settings.validation_dns_timeout = resolver, 2.0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


async def _validate(client: httpx.AsyncClient, auth: dict[str, str], **body: Any) -> dict[str, Any]:
    r = await client.post(URL, json=body, headers=auth)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def test_validation_runs_in_the_engine_and_notifies(client: httpx.AsyncClient, auth: dict[str, str],
                                                          receiver: Receiver, runner: Runner, db: Database,
                                                          account: NewAccount) -> None:
    emails = ["ana@good.test", "x@missing.test", "info@good.test", "ANA@good.test", "not-an-address"]
    created = await _validate(client, auth, emails=emails, notificationUrl=f"{receiver.base}/hook")
    assert list(created) == KEYS
    assert created["status"] == "pending" and created["total"] == 4, "the same address twice counts once"
    assert created["processed"] == 0 and created["valid"] == 0 and created["cost"] == 0
    assert created["estimatedCost"] == pytest.approx(0.014) and created["currency"] == "EUR"
    assert created["finishedAt"] is None and created["resultUrl"] is None
    assert created["createdAt"].endswith("+00:00")
    async with db.sessions() as s:
        pk = (await s.execute(select(EmailValidation.id))).scalar_one()
    assert created["id"] != pk, "public ids are not the primary keys"

    await runner.run_until_idle()

    r = await client.get(f"{URL}/{created['id']}", headers=auth)
    done = r.json()["data"]
    assert done["status"] == "finished" and done["processed"] == 4 and done["valid"] == 1
    assert done["cost"] == pytest.approx(0.014) and done["finishedAt"] is not None
    assert done["resultUrl"] == f"http://tidings.test{URL}/{created['id']}/result"

    r = await client.get(f"{URL}/{created['id']}/result", headers=auth)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.text.splitlines() == ["email;result", "ana@good.test;deliverable", "x@missing.test;undeliverable",
                                   "info@good.test;risky", "not-an-address;undeliverable"]
    r = await client.get(f"{URL}/{created['id']}/result", params={"include": "reason"}, headers=auth)
    assert r.text.splitlines()[1:3] == ["ana@good.test;deliverable;", "x@missing.test;undeliverable;no_domain"]

    bodies = [json.loads(req.body) for req in receiver.requests]
    assert [req.method for req in receiver.requests] == ["POST", "POST"]
    assert receiver.requests[0].headers["Content-Type"] == "application/json"
    assert [b["data"]["status"] for b in bodies] == ["started", "finished"]
    assert list(bodies[1]["data"]) == [*KEYS, "error"] and bodies[1]["data"]["error"] == ""
    assert bodies[0]["data"]["resultUrl"] is None and bodies[1]["data"]["resultUrl"] == done["resultUrl"]

    # allowRisky defaults to false: risky and undeliverable addresses go on the mailing blacklist.
    r = await client.get("/api/rest/v2/blacklist/mailing", headers=auth)
    assert sorted(e["recipient"] for e in r.json()["data"]) == ["info@good.test", "x@missing.test"]
    async with db.sessions() as s:
        balance = (await s.execute(select(Account.balance).where(Account.id == account.account_id))).scalar_one()
    assert Decimal(balance) == Decimal("-0.014"), "the addresses checked are charged when it finishes"


async def test_allow_risky_blacklists_nothing(client: httpx.AsyncClient, auth: dict[str, str],
                                              runner: Runner) -> None:
    await _validate(client, auth, emails=["info@good.test", "x@missing.test"], allowRisky=True)
    await runner.run_until_idle()
    assert (await client.get("/api/rest/v2/blacklist/mailing", headers=auth)).json()["data"] == []


async def test_a_contact_groups_addresses_are_validated(client: httpx.AsyncClient, auth: dict[str, str],
                                                       runner: Runner) -> None:
    group = (await client.post("/api/rest/groups", json={"name": "Leads"}, headers=auth)).json()["data"]
    for email in ("ana@good.test", "x@nullmx.test"):
        r = await client.post("/api/rest/contacts", json={"email": email, "groupsIds": [group["id"]]}, headers=auth)
        assert r.status_code == 201, r.text
    started = await _validate(client, auth, groupsIds=[group["id"]], emails=["bob@amx.test"], allowRisky=True)
    assert started["total"] == 3
    await runner.run_until_idle()
    result = await client.get(f"{URL}/{started['id']}/result", headers=auth)
    assert sorted(result.text.strip().splitlines()[1:]) == [
        "ana@good.test;deliverable", "bob@amx.test;deliverable", "x@nullmx.test;undeliverable"]


async def test_verdicts_are_reused_unless_forced(client: httpx.AsyncClient, auth: dict[str, str],
                                                 runner: Runner) -> None:
    await _validate(client, auth, emails=["ana@good.test", "x@nullmx.test"], allowRisky=True)
    await runner.run_until_idle()
    again = await _validate(client, auth, emails=["ana@good.test", "x@nullmx.test", "bob@amx.test"], allowRisky=True)
    await runner.run_until_idle()
    done = (await client.get(f"{URL}/{again['id']}", headers=auth)).json()["data"]
    assert done["processed"] == 3 and done["valid"] == 2
    assert done["cost"] == pytest.approx(0.0035), "only the address not seen before was checked and charged"
    forced = await _validate(client, auth, emails=["ana@good.test", "x@nullmx.test"], force=True, allowRisky=True)
    await runner.run_until_idle()
    done = (await client.get(f"{URL}/{forced['id']}", headers=auth)).json()["data"]
    assert done["cost"] == pytest.approx(0.007)
    csv = (await client.get(f"{URL}/{forced['id']}/result", headers=auth)).text
    assert csv.splitlines()[1:] == ["ana@good.test;deliverable", "x@nullmx.test;undeliverable"]


async def test_list_show_delete_and_tenancy(client: httpx.AsyncClient, auth: dict[str, str], runner: Runner,
                                            make_account: Any) -> None:
    first = await _validate(client, auth, emails=["ana@good.test"])
    second = await _validate(client, auth, emails=["bob@amx.test"])
    r = await client.get(URL, params={"limit": 1}, headers=auth)
    body = r.json()
    assert [v["id"] for v in body["data"]] == [second["id"]], "newest first"
    page = body["meta"]["pagination"]
    assert page["total"] == 2 and page["per_page"] == 1 and page["total_pages"] == 2
    assert page["links"]["next"].endswith("page=2")

    other = await make_account("Other", "owner@other.test")
    other_auth = basic(other.username, other.api_password)
    for method in ("GET", "DELETE"):
        r = await client.request(method, f"{URL}/{first['id']}", headers=other_auth)
        assert r.status_code == 404 and r.json()["error"] == {"code": 404, "description": "Resource not found"}
    assert (await client.get(f"{URL}/{first['id']}/result", headers=other_auth)).status_code == 404
    assert (await client.get(URL, headers=other_auth)).json()["data"] == []
    for bad in ("123", "abc", "9" * 30, str(first["id"] + 1)):
        assert (await client.get(f"{URL}/{bad}", headers=auth)).status_code == 404

    r = await client.delete(f"{URL}/{first['id']}", headers=auth)
    assert r.status_code == 204
    assert (await client.get(f"{URL}/{first['id']}", headers=auth)).status_code == 404
    await runner.run_until_idle()  # the deleted validation's job finds nothing to do
    assert (await client.get(f"{URL}/{second['id']}", headers=auth)).json()["data"]["status"] == "finished"


@pytest.mark.parametrize(("body", "status", "code"), [
    ({}, 422, 422),
    ({"emails": []}, 422, 422),
    ({"emails": ["  "]}, 422, 422),
    ({"emails": "ana@good.test"}, 422, 422),
    ({"emails": [1, 2]}, 422, 422),
    ({"groupsIds": [1111]}, 404, 404),
    ({"groupsIds": ["x"]}, 422, 422),
    ({"emails": ["ana@good.test"], "notificationUrl": "ftp://example.com/x"}, 400, 109),
    ({"emails": ["ana@good.test"], "notificationUrl": "not a url"}, 400, 109),
    ({"emails": ["ana@good.test"], "force": "maybe"}, 422, 422),
    ({"emails": ["a" * 400 + "@good.test"]}, 422, 422),
])
async def test_bad_input(client: httpx.AsyncClient, auth: dict[str, str], db: Database, body: dict[str, Any],
                         status: int, code: int) -> None:
    r = await client.post(URL, json=body, headers=auth)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    async with db.sessions() as s:
        assert (await s.execute(select(EmailValidation))).first() is None, "nothing half-written"


async def test_malformed_json_and_credentials(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.post(URL, content=b"{nope", headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == 125
    r = await client.get(URL, headers=basic("nobody", "wrong"))
    assert r.status_code == 401 and r.json()["error"]["code"] == 103


async def test_balance_enforcement(app: Any, client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    app.state.settings.enforce_balance = True
    try:
        r = await client.post(URL, json={"emails": ["ana@good.test"]}, headers=auth)
    finally:
        app.state.settings.enforce_balance = False
    assert r.status_code == 402 and r.json()["error"] == {"code": 111, "description": "Not enough credits"}


async def test_a_broken_resolver_setting_fails_the_validation_and_says_so(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver,
        engine_ctx: EngineContext) -> None:
    created = await _validate(client, auth, emails=["ana@good.test"], notificationUrl=f"{receiver.base}/hook")
    broken = engine_ctx.settings.model_copy(update={"validation_resolver": "not a resolver!"})
    await Runner(EngineContext(engine_ctx.db, broken, engine_ctx.providers, "w2")).run_until_idle()
    data = (await client.get(f"{URL}/{created['id']}", headers=auth)).json()["data"]
    assert data["status"] == "failed" and data["cost"] == 0 and data["resultUrl"] is None
    [body] = [json.loads(req.body)["data"] for req in receiver.requests]
    assert body["status"] == "failed" and body["error"] == "Failed to process email validation"


async def test_an_interrupted_job_resumes_where_it_stopped(client: httpx.AsyncClient, auth: dict[str, str],
                                                         receiver: Receiver, runner: Runner, db: Database) -> None:
    created = await _validate(client, auth, emails=["ana@good.test", "bob@amx.test", "x@nullmx.test"],
                              notificationUrl=f"{receiver.base}/hook", allowRisky=True)
    # As a worker that died after its first chunk leaves it: started, one address recorded.
    async with db.transaction() as s:
        validation = (await s.execute(select(EmailValidation))).scalar_one()
        validation.status, validation.processed, validation.valid, validation.checked = "started", 1, 1, 1
        first = (await s.execute(select(EmailValidationItem).order_by(EmailValidationItem.id))).scalars().first()
        assert first is not None
        first.result, first.email = "valid", "kept@good.test"  # proves the recorded verdict is not redone
    await runner.run_until_idle()
    data = (await client.get(f"{URL}/{created['id']}", headers=auth)).json()["data"]
    assert data["status"] == "finished" and data["processed"] == 3 and data["valid"] == 2
    assert data["cost"] == pytest.approx(0.0105)
    csv = (await client.get(f"{URL}/{created['id']}/result", headers=auth)).text
    assert csv.splitlines()[1:] == ["kept@good.test;deliverable", "bob@amx.test;deliverable",
                                    "x@nullmx.test;undeliverable"]
    assert [json.loads(r.body)["data"]["status"] for r in receiver.requests] == ["finished"]


async def test_a_failing_receiver_is_retried(client: httpx.AsyncClient, auth: dict[str, str], receiver: Receiver,
                                             runner: Runner, clock: ManualClock) -> None:
    receiver.statuses = [503]
    await _validate(client, auth, emails=["ana@good.test"], notificationUrl=f"{receiver.base}/hook")
    await runner.run_until_idle()
    assert [json.loads(r.body)["data"]["status"] for r in receiver.requests] == ["started", "finished"]
    clock.advance(61)
    await runner.run_until_idle()
    assert [json.loads(r.body)["data"]["status"] for r in receiver.requests] == ["started", "finished", "started"]


async def test_private_notification_urls_are_refused_unless_allowed(app: Any, client: httpx.AsyncClient,
                                                                    auth: dict[str, str]) -> None:
    app.state.settings.outbound_allow_private = False
    try:
        for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://[::1]/x", "http://10.0.0.5/x"):
            r = await client.post(URL, json={"emails": ["ana@good.test"], "notificationUrl": url}, headers=auth)
            assert r.status_code == 400 and r.json()["error"]["code"] == 109, url
    finally:
        app.state.settings.outbound_allow_private = True


def test_openapi_describes_the_routes(app: Any) -> None:
    spec = app.openapi()
    post = spec["paths"][URL]["post"]
    assert set(post["responses"]) >= {"201", "400", "401", "402", "404", "422"}
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/ValidationIn")
    assert "text/csv" in spec["paths"][URL + "/{validation_id}/result"]["get"]["responses"]["200"]["content"]
