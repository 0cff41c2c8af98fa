"""The email dialect end to end: send through a real SMTP relay, search, and the list-once feed."""

from __future__ import annotations

import base64
import re
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from tidings.channels.registry import build_provider
from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Message, Sending
from tidings.engine.runner import Runner
from tidings.messaging import senders
from tidings.tenancy.service import NewAccount

from helpers import wavy
from smtp_sink import smtp_sink

PDF = b"%PDF-1.4 billing"


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return wavy(account.username, account.api_token)


@pytest.fixture
async def verified(db: Database, account: NewAccount) -> None:
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "notification@acme.test", "Notifications")


def request(**over: Any) -> dict[str, Any]:
    """The document's example, with addresses of ours."""
    body: dict[str, Any] = {
        "fromEmail": "notification@acme.test", "fromName": "Notifications", "replyTo": "replyto@acme.test",
        "subject": "Hello {{name}}", "campaignAlias": "MyCampaign",
        "recipients": [
            {"correlationId": "1234", "emailAddress": "recipient-1@example.test", "emailName": "Recipient-1",
             "extraInfo": "Extra e-mail info1", "substitutionData": {"name": "Recipient-1"}},
            {"correlationId": "567", "emailAddress": "recipient-2@example.test", "emailName": "Recipient-2",
             "extraInfo": "Extra e-mail info2"},
        ],
        "emailHtml": '<html> Hi, {{name}}, this is the <a href="https://acme.test/x">HTML</a> body </html>',
        "emailText": "Email text body for {{name}}",
        "substitutionData": {"name": "Customer"},
        "attachments": [{"data": base64.b64encode(PDF).decode(), "name": "billing.pdf", "type": "application/pdf"}],
    }
    body.update(over)
    return body


async def test_send_reaches_a_real_relay_with_substitution_and_attachments(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], verified: None, db: Database,
        runner: Runner) -> None:
    with smtp_sink() as sink:
        app.state.providers.set("email", build_provider("email", sink.url()))
        r = await client.post("/v1/email/send", json=request(), headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        await runner.run_until_idle()
    assert list(body) == ["id", "recipients"] and uuid.UUID(body["id"])
    assert [x["correlationId"] for x in body["recipients"]] == ["1234", "567"]
    assert len({x["id"] for x in body["recipients"]}) == 2 and all(uuid.UUID(x["id"]) for x in body["recipients"])
    mails = {m.recipients[0]: m.message for m in sink.received}
    assert set(mails) == {"recipient-1@example.test", "recipient-2@example.test"}
    first, second = mails["recipient-1@example.test"], mails["recipient-2@example.test"]
    assert first["Subject"] == "Hello Recipient-1" and second["Subject"] == "Hello Customer"
    assert first["Reply-To"] == "replyto@acme.test" and first["From"] == "Notifications <notification@acme.test>"
    assert first["To"] == "Recipient-1 <recipient-1@example.test>"
    html = first.get_body(("html",)).get_content()
    assert "Hi, Recipient-1, this is the" in html and "/t/o/" in html, "substituted, with an open pixel"
    assert "Hi, Customer," in second.get_body(("html",)).get_content()
    assert first.get_body(("plain",)).get_content().strip() == "Email text body for Recipient-1"
    [attachment] = list(first.iter_attachments())
    assert attachment.get_filename() == "billing.pdf" and attachment.get_content_type() == "application/pdf"
    assert attachment.get_content() == PDF


async def test_per_recipient_values_are_escaped_in_html(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], verified: None, db: Database) -> None:
    r = await client.post("/v1/email/send", headers=auth, json=request(
        recipients=[{"emailAddress": "x@example.test", "substitutionData": {"name": "<b>X</b>"}}], attachments=None))
    assert r.status_code == 200, r.text
    assert r.json()["recipients"][0]["correlationId"] is None
    async with db.sessions() as s:
        message = (await s.execute(select(Message))).scalar_one()
    assert message.html is not None and "Hi, &lt;b&gt;X&lt;/b&gt;," in message.html
    assert message.body == "Email text body for <b>X</b>" and message.correlation_id is None


async def test_unverified_sender_and_bad_input_are_4xx_in_the_wavy_envelope(
        client: httpx.AsyncClient, auth: dict[str, str], verified: None, db: Database) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        (request(fromEmail="other@acme.test"), "not a verified sender"),
        (request(fromEmail="not-an-address"), "fromEmail"),
        ({k: v for k, v in request().items() if k != "fromEmail"}, "fromEmail field is required"),
        (request(recipients=[]), "at least one"),
        (request(recipients=[{"emailAddress": "nope"}]), "recipients.0.emailAddress"),
        (request(emailHtml=None, emailText=" "), "emailHtml or the emailText"),
        (request(attachments=[{"data": "%%%", "name": "a.pdf", "type": "application/pdf"}]), "base64"),
        (request(attachments=[{"data": "QQ==", "name": "a.pdf", "type": "pdf"}]), "MIME type"),
        (request(subject="a\r\nBcc: x@evil.test"), "subject"),
        (request(recipients="x@example.test"), "recipients"),
    ]
    for payload, expected in cases:
        r = await client.post("/v1/email/send", json=payload, headers=auth)
        assert r.status_code == 422, (expected, r.text)
        body = r.json()
        assert body["errorCode"] == 422 and expected in (body["errorMessage"] + str(body.get("errors"))), body
    r = await client.post("/v1/email/send", content=b"{not json", headers={**auth, "content-type": "application/json"})
    assert r.status_code == 400 and r.json()["errorCode"] == 400
    r = await client.post("/v1/email/send", json=request(), headers=wavy("nobody", "tdg_x"))
    assert r.status_code == 401 and set(r.json()) == {"errorCode", "errorMessage"}
    async with db.sessions() as s:
        assert await s.scalar(select(func.count()).select_from(Sending)) == 0, "nothing half-written"
        assert await s.scalar(select(func.count()).select_from(Message)) == 0


async def test_search_and_list_once(app: Any, client: httpx.AsyncClient, auth: dict[str, str], verified: None,
                                    db: Database, runner: Runner, clock: ManualClock) -> None:
    list_url, search_url = "/v1/email/status/list", "/v1/email/status/search"
    with smtp_sink() as sink:
        sink.handler.refuse = {"recipient-2@example.test": "550 5.1.1 no such user"}
        app.state.providers.set("email", build_provider("email", sink.url()))
        sent = (await client.post("/v1/email/send", json=request(), headers=auth)).json()
        assert (await client.post(list_url, headers=auth)).json() == [], "nothing has happened yet"
        await runner.run_until_idle()
    ok_id, bounced_id = (x["id"] for x in sent["recipients"])

    listed = (await client.post(list_url, headers=auth)).json()
    assert [x["recipient"]["id"] for x in listed] == [ok_id, bounced_id]
    ok, bounced = listed
    assert ok["recipient"] == {"id": ok_id, "correlationId": "1234", "emailAddress": "recipient-1@example.test",
                               "emailName": "Recipient-1", "extraInfo": "Extra e-mail info1"}
    assert ok["fromEmail"] == "notification@acme.test" and ok["fromName"] == "Notifications"
    assert ok["createdAt"] == int(clock.now().timestamp()) and ok["createdDate"] == "2026-01-05T09:00:00.000Z"
    assert (ok["sent"], ok["sentStatusCode"], ok["sentStatus"]) == (True, 2, "SENT_SUCCESS")
    assert (ok["delivered"], ok["deliveredStatusCode"], ok["deliveredStatus"]) == (True, 3, "DELIVERED_SUCCESS")
    assert ok["deliveredAt"] == ok["sentAt"] == ok["createdAt"]
    assert (ok["opened"], ok["openedStatusCode"], ok["openedAt"]) == (False, 104, None)
    assert (ok["clicked"], ok["clickedStatusCode"], ok["clickedDate"]) == (False, 104, None)
    assert isinstance(ok["campaignId"], int) and ok["campaignAlias"] == "MyCampaign"
    assert (bounced["delivered"], bounced["deliveredStatusCode"], bounced["deliveredStatus"]) == \
        (False, 103, "NOT_DELIVERED")
    assert bounced["openedStatusCode"] is None
    assert (await client.post(list_url, headers=auth)).json() == [], "each status is listed once"

    # Opening the email is a new status: listed once more, then not again (a second open is not new).
    html = next(m.message for m in sink.received).get_body(("html",)).get_content()
    pixel = re.search(r'src="http://tidings.test(/t/o/[^"]+)"', html)
    assert pixel is not None
    clock.advance(60)
    await client.get(pixel.group(1))
    await client.get(pixel.group(1))
    [opened] = (await client.post(list_url, headers=auth)).json()
    assert opened["recipient"]["id"] == ok_id and (opened["opened"], opened["openedStatusCode"]) == (True, 4)
    assert opened["openedAt"] == int(clock.now().timestamp()) and opened["openedStatus"] == "OPENED_SUCCESS"
    assert (await client.post(list_url, headers=auth)).json() == []

    # Search answers every time, by recipient id, request id, correlationId and interval.
    def ids(r: httpx.Response) -> list[str]:
        assert r.status_code == 200, r.text
        return [x["recipient"]["id"] for x in r.json()]

    assert ids(await client.post(search_url, json={"ids": [ok_id]}, headers=auth)) == [ok_id]
    assert ids(await client.post(search_url, json={"ids": [sent["id"]]}, headers=auth)) == [ok_id, bounced_id]
    assert ids(await client.post(search_url, json={"correlationIds": ["567"]}, headers=auth)) == [bounced_id]
    assert ids(await client.post(search_url, json={"ids": [ok_id], "correlationIds": ["567"]},
                                 headers=auth)) == [ok_id, bounced_id]
    interval = {"startDate": "2026-01-05T08:00:00Z", "endDate": "2026-01-05T09:59:59+01:00"}
    assert ids(await client.post(search_url, json={"correlationIds": ["1234"], **interval}, headers=auth)) == []
    interval["endDate"] = "2026-01-05T09:00:00Z"
    assert ids(await client.post(search_url, json=interval, headers=auth)) == [ok_id, bounced_id]
    assert ids(await client.post(search_url, json={"ids": ["zzz", str(uuid.uuid4())]}, headers=auth)) == []
    r = await client.post(search_url, json={}, headers=auth)
    assert r.status_code == 422 and r.json()["errorCode"] == 422
    r = await client.post(search_url, json={"startDate": "yesterday"}, headers=auth)
    assert r.status_code == 422 and "startDate" in r.json()["errorMessage"]


async def test_another_account_sees_nothing(client: httpx.AsyncClient, auth: dict[str, str], verified: None,
                                            make_account: Any, runner: Runner) -> None:
    sent = (await client.post("/v1/email/send", json=request(), headers=auth)).json()
    await runner.run_until_idle()
    other = await make_account("Other", "owner@other.test")
    other_auth = wavy(other.username, other.api_token)
    assert (await client.post("/v1/email/status/list", headers=other_auth)).json() == []
    r = await client.post("/v1/email/status/search", json={"ids": [sent["id"]], "correlationIds": ["1234"]},
                          headers=other_auth)
    assert r.json() == []
    assert len((await client.post("/v1/email/status/list", headers=auth)).json()) == 2
