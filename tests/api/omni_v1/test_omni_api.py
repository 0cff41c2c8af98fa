"""The omnichannel dialect's shapes: send answers, validation in the wavy envelope, GET and tenant isolation."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Flow, Job, Message, Sending
from tidings.messaging import senders
from tidings.tenancy.service import NewAccount

from helpers import wavy

STEPS = [{"type": "Email", "subject": "Hi", "fromEmail": "orders@acme.test", "emailHtml": "<p>Hi</p>"},
         {"type": "MT", "messageText": "Hi"}, {"type": "Voice", "ttsMessage": "Hi"}]


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return wavy(account.username, account.api_token)


@pytest.fixture
async def verified(db: Database, account: NewAccount) -> None:
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "orders@acme.test")


async def test_send_answers_a_batch_id_and_one_id_per_contact(
        client: httpx.AsyncClient, auth: dict[str, str], verified: None, db: Database, clock: ManualClock) -> None:
    contacts = [{"phone": 34666555444, "email": "a@example.test", "correlationId": "a"},
                {"email": "b@example.test"}]
    # The field table's spellings: Steps, and the template as an array.
    r = await client.post("/v1/omni/send", headers=auth,
                          json={"contacts": contacts, "template": [{"campaignAlias": "Fallback", "Steps": STEPS}]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body) == ["id", "messages"] and uuid.UUID(body["id"])
    assert [m["correlationId"] for m in body["messages"]][0] == "a"
    assert len(body["messages"][1]["correlationId"]) == 32, "generated when not given"
    view = (await client.get(f"/v1/omni/{body['id']}", headers=auth)).json()
    assert view["status"] == "RUNNING" and view["campaignAlias"] == "Fallback" and isinstance(view["campaignId"], int)
    assert view["createdDate"] == view["contacts"][0]["steps"][0]["startedDate"] == "2026-01-05T09:00:00.000Z"
    assert [c["id"] for c in view["contacts"]] == [m["id"] for m in body["messages"]]
    first = view["contacts"][0]["steps"]
    assert [(s["step"], s["type"], s["channel"], s["status"]) for s in first] == [
        (1, "Email", "email", "RUNNING"), (2, "MT", "sms", "PENDING"), (3, "Voice", "voice", "PENDING")]
    assert first[0]["destination"] == "a@example.test" and uuid.UUID(first[0]["messageId"])
    assert set(first[1]) == {"step", "type", "channel", "destination", "status", "messageId", "startedAt",
                             "startedDate", "endedAt", "endedDate", "reason"}
    one = (await client.get(f"/v1/omni/{body['messages'][1]['id']}", headers=auth)).json()
    assert one["id"] == body["id"] and [c["email"] for c in one["contacts"]] == ["b@example.test"]
    async with db.sessions() as s:
        sending = (await s.execute(select(Sending))).scalar_one()
        jobs = (await s.execute(select(Job.kind, Job.due_at))).all()
        assert sending.source == "omni_v1" and sending.total == 2
    assert [kind for kind, _ in jobs] == ["omni.timeout", "omni.timeout"]


async def test_bad_requests_are_4xx_and_write_nothing(
        client: httpx.AsyncClient, auth: dict[str, str], verified: None, db: Database) -> None:
    contact = [{"phone": "34666555444", "email": "a@example.test"}]

    def req(steps: list[dict[str, Any]] | None = None, contacts: Any = None) -> dict[str, Any]:
        return {"contacts": contact if contacts is None else contacts, "template": {"steps": steps or STEPS}}

    cases: list[tuple[dict[str, Any], str]] = [
        (req(contacts=[]), "at least one"),
        (req(steps=[{"type": "Fax", "messageText": "x"}]), "Email, MT or Voice"),
        (req(steps=[{"type": "MT"}]), "template.steps.0.messageText field is required"),
        (req(steps=[{"type": "Voice"}]), "ttsMessage field is required"),
        (req(steps=[{**STEPS[0], "fromEmail": "someone@acme.test"}]), "not a verified sender"),
        (req(steps=[{**STEPS[0], "subject": None}]), "subject field is required"),
        (req(steps=[{"type": "MT", "messageText": "x", "timeoutSeconds": 0}]), "timeoutSeconds"),
        (req(steps=[{"type": "MT", "messageText": "x", "from": "far too long a sender"}]), "from"),
        (req(contacts=[{"phone": "not a phone"}]), "contacts.0.phone"),
        (req(contacts=[{"email": "nope"}]), "contacts.0.email"),
        (req(steps=[STEPS[1]], contacts=[{"email": "a@example.test"}]), "no destination"),
        ({"contacts": contact}, "template field is required"),
        ({"contacts": contact, "template": []}, "array of exactly one"),
        (req(contacts=[{"phone": 1.5}]), "contacts.0.phone"),
    ]
    for payload, expected in cases:
        r = await client.post("/v1/omni/send", json=payload, headers=auth)
        assert r.status_code == 422, (expected, r.text)
        body = r.json()
        assert body["errorCode"] == 422 and expected in body["errorMessage"] + str(body.get("errors")), body
    async with db.sessions() as s:
        for model in (Sending, Flow, Message, Job):
            assert await s.scalar(select(func.count()).select_from(model)) == 0, model


async def test_flows_are_private_to_their_account(
        client: httpx.AsyncClient, auth: dict[str, str], verified: None, make_account: Any) -> None:
    body = (await client.post("/v1/omni/send", headers=auth,
                              json={"contacts": [{"phone": "34666555444"}], "template": {"steps": STEPS[1:]}})).json()
    other = await make_account("Other", "owner@other.test")
    other_auth = wavy(other.username, other.api_token)
    for public in (body["id"], body["messages"][0]["id"]):
        r = await client.get(f"/v1/omni/{public}", headers=other_auth)
        assert r.status_code == 404 and r.json() == {"errorCode": 404, "errorMessage": "Flow not found."}
    for unknown in ("nope", str(uuid.uuid4())):
        assert (await client.get(f"/v1/omni/{unknown}", headers=auth)).status_code == 404
    assert (await client.get(f"/v1/omni/{body['id']}")).status_code == 401
