"""POST /api/rest/mailing: through a real SMTP relay, with tracking, unsubscribe and the blacklist."""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tidings.channels.registry import build_provider
from tidings.core.clock import ManualClock
from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Campaign, Event, Message, Sending
from tidings.engine.runner import Runner
from tidings.messaging import attachments, senders
from tidings.tenancy.service import NewAccount

from helpers import basic, row_id
from smtp_sink import smtp_sink

URL = "/api/rest/mailing"


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


@pytest.fixture
async def verified(db: Database, account: NewAccount) -> None:
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "info@acme.test", "Info")
        await senders.add_verified(s, account.account_id, "Replies@Acme.test")


def mailing(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"to": ["bob@example.test"], "fromName": "Info", "fromEmail": "info@acme.test",
                            "body": '<html><body><a href="https://example.com">link</a></body></html>',
                            "replyTo": "replies@acme.test", "subject": "TEST"}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


async def _events(db: Database, message_id: int) -> list[str]:
    async with db.sessions() as s:
        rows = (await s.execute(select(Event.kind).where(Event.message_id == message_id).order_by(Event.id))).all()
    return [r[0] for r in rows]


async def test_documented_example_is_accepted(client: httpx.AsyncClient, auth: dict[str, str], verified: None,
                                              db: Database) -> None:
    r = await client.post(URL, json=mailing(), headers=auth)
    assert r.status_code == 202, r.text
    body = r.json()
    assert list(body) == ["campaignId", "sendingId", "result"] and body["campaignId"] is None
    [item] = body["result"]
    assert item == {"accepted": True, "to": "bob@example.test", "id": item["id"], "scheduledAt": None}
    async with db.sessions() as s:
        message = await s.get(Message, row_id(Kind.MESSAGE, item["id"]))
        sending = await s.get(Sending, row_id(Kind.SENDING, body["sendingId"]))
    assert message is not None and sending is not None and sending.source == "rest"
    assert message.channel == "email" and message.sending_id == sending.id and message.sender_name == "Info"
    assert message.extra["track_opens"] is True and message.extra["track_clicks"] is True


async def test_mail_reaches_a_real_relay_then_unsubscribe_blacklists_the_recipient(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], verified: None, db: Database,
        runner: Runner) -> None:
    attachment = b"hello,world\n"
    with smtp_sink() as sink:
        app.state.providers.set("email", build_provider("email", sink.url()))
        r = await client.post(URL, headers=auth, json=mailing(
            to=["bob@example.test", "invalidEmail"], cc=["carol@example.test"], bcc=["audit@example.test"],
            subject="Hi {name|capitalize}", campaignName="Spring", tags=["promo", "email"],
            body='<p>Hello {name}, <a href="https://example.com/offer">offer</a> '
                 '<a href="[unsubscribe_link]">unsubscribe</a></p>',
            sub=[{"name": "bob"}, {"name": "nobody"}],
            attachments=[{"name": "data.csv", "content": base64.b64encode(attachment).decode(),
                          "contentType": "text/csv"}]))
        assert r.status_code == 207, r.text
        body = r.json()
        ok, bad = body["result"]
        assert ok["accepted"] is True and ok["to"] == "bob@example.test"
        assert bad == {"accepted": False, "to": "invalidEmail",
                       "error": {"code": 102, "description": "No valid recipients"}}
        await runner.run_until_idle()

        assert len(sink.received) == 1
        got = sink.received[0]
        assert got.sender == "info@acme.test"
        assert sorted(got.recipients) == ["audit@example.test", "bob@example.test", "carol@example.test"]
        mail = got.message
        assert mail["To"] == "bob@example.test" and mail["Cc"] == "carol@example.test" and "Bcc" not in mail
        assert mail["Reply-To"] == "replies@acme.test" and mail["Subject"] == "Hi Bob"
        assert str(mail["From"]) == "Info <info@acme.test>"
        [part] = list(mail.iter_attachments())
        assert part.get_filename() == "data.csv" and part.get_content_type() == "text/csv"
        assert part.get_payload(decode=True) == attachment
        html = mail.get_body(("html",)).get_content()
        assert "Hello bob" in html and "{name}" not in html
        assert re.search(r'src="http://tidings.test/t/o/[^"]+"', html), "open pixel"
        assert "https://example.com/offer" not in re.findall(r'href="([^"]+)"', html), "click rewritten"
        unsub = re.search(r'href="(http://tidings.test/u/[^"]+)"', html)
        assert unsub, "[unsubscribe_link] became the message's own link"

        async with db.sessions() as s:
            campaign = await s.get(Campaign, row_id(Kind.CAMPAIGN, body["campaignId"]))
        assert campaign is not None and campaign.name == "Spring" and campaign.tags == ["promo", "email"]

        r = await client.post(unsub.group(1).removeprefix("http://tidings.test"))
        assert r.status_code == 200
        r = await client.get("/api/rest/v2/blacklist/mailing", headers=auth)
        [entry] = r.json()["data"]
        assert entry["recipient"] == "bob@example.test" and entry["sendingId"] == body["sendingId"]
        assert entry["campaignName"] == "Spring"

        r = await client.post(URL, headers=auth, json=mailing(to=["Bob@example.test"]))
        assert r.status_code == 202, "the blacklist is enforced at send time, not at the request"
        second = row_id(Kind.MESSAGE, r.json()["result"][0]["id"])
        await runner.run_until_idle()
        assert len(sink.received) == 1, "the blacklisted recipient got nothing more"
        assert await _events(db, second) == ["rejected"]
        async with db.sessions() as s:
            message = await s.get(Message, second)
        assert message is not None and message.error_code == "blacklisted"


async def test_tracking_can_be_turned_off(app: Any, client: httpx.AsyncClient, auth: dict[str, str], verified: None,
                                          runner: Runner) -> None:
    with smtp_sink() as sink:
        app.state.providers.set("email", build_provider("email", sink.url()))
        r = await client.post(URL, headers=auth, json=mailing(trackOpens=False, trackClicks=False))
        assert r.status_code == 202
        await runner.run_until_idle()
    html = sink.received[0].message.get_body(("html",)).get_content()
    assert 'href="https://example.com"' in html and "/t/o/" not in html


async def test_sender_and_reply_to_must_be_verified(client: httpx.AsyncClient, auth: dict[str, str],
                                                    verified: None, db: Database) -> None:
    cases = [
        (mailing(fromEmail="other@acme.test"), 400, 115, "Sender is not verified"),
        (mailing(replyTo="other@acme.test"), 400, 117, "ReplyTo is not verified"),
        (mailing(fromEmail=None), 400, 106, "Sender missing"),
        (mailing(fromEmail="x" * 321), 400, 107, "Sender too long"),
        (mailing(replyTo=None), 400, 116, "Invalid replyTo"),
        (mailing(replyTo="not-an-address"), 400, 116, "Invalid replyTo"),
        (mailing(fromEmail="not-an-address"), 422, 422, "Input validation error"),
    ]
    for body, status, code, description in cases:
        r = await client.post(URL, json=body, headers=auth)
        assert (r.status_code, r.json()["error"]["code"], r.json()["error"]["description"]) == \
            (status, code, description), body
    async with db.sessions() as s:
        assert (await s.execute(select(Message).where(Message.channel == "email"))).first() is None, \
            "a refused request writes nothing"


async def test_unverified_registered_sender_is_refused(client: httpx.AsyncClient, auth: dict[str, str],
                                                       verified: None) -> None:
    r = await client.post("/api/rest/senders", json={"email": "new@acme.test"}, headers=auth)
    assert r.status_code == 201
    r = await client.post(URL, json=mailing(fromEmail="new@acme.test"), headers=auth)
    assert r.status_code == 400 and r.json()["error"]["code"] == 115


@pytest.mark.parametrize(("over", "status", "code"), [
    ({"to": []}, 400, 102),
    ({"to": None}, 400, 102),
    ({"to": ["invalid", 5]}, 400, 102),
    ({"body": None}, 400, 104),
    ({"body": "  "}, 400, 104),
    ({"body": None, "templateId": 999}, 400, 140),
    ({"body": None, "templateV2Id": 99999999999999999999}, 400, 140),
    ({"subject": None}, 400, 114),
    ({"subject": "a\r\nBcc: x@example.test"}, 400, 114),
    ({"scheduleDate": "2030-01-01"}, 400, 108),
    ({"scheduleDate": "20301345000000"}, 400, 108),
    ({"tags": ["a"]}, 400, 126),
    ({"campaignName": "  "}, 400, 126),
    ({"sub": [{"a": "1"}, {"a": "2"}]}, 422, 422),
    ({"sub": ["x"]}, 422, 422),
    ({"cc": ["nope"]}, 422, 422),
    ({"bcc": "audit@example.test"}, 422, 422),
    ({"attachments": [{"name": "a.txt", "content": "***", "contentType": "text/plain"}]}, 422, 422),
    ({"attachments": [{"content": "aGk=", "contentType": "text/plain"}]}, 422, 422),
    ({"attachments": [{"name": "a", "content": "aGk=", "contentType": "text"}]}, 422, 422),
    ({"attachments": "aGk="}, 422, 422),
    ({"trackOpens": "maybe"}, 422, 422),
    ({"fromName": "x\r\ny"}, 422, 422),
])
async def test_bad_input_is_a_documented_error(client: httpx.AsyncClient, auth: dict[str, str], verified: None,
                                               over: dict[str, Any], status: int, code: int) -> None:
    body = mailing()
    body.update(over)
    r = await client.post(URL, json={k: v for k, v in body.items() if v is not None}, headers=auth)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


async def test_attachment_size_limit(client: httpx.AsyncClient, auth: dict[str, str], verified: None,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(attachments, "MAX_TOTAL_BYTES", 10)
    item = {"name": "a.bin", "content": base64.b64encode(b"x" * 6).decode(), "contentType": "application/pdf"}
    r = await client.post(URL, json=mailing(attachments=[item]), headers=auth)
    assert r.status_code == 202
    r = await client.post(URL, json=mailing(attachments=[item, item]), headers=auth)
    assert r.status_code == 422 and "attachments" in r.json()["error"]["fields"]


async def test_malformed_json_and_no_credentials(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    r = await client.post(URL, content=b"{nope", headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == 125
    r = await client.post(URL, json=mailing())
    assert r.status_code == 401 and r.json()["error"]["code"] == 103


async def test_schedule_date(client: httpx.AsyncClient, auth: dict[str, str], verified: None, db: Database,
                             runner: Runner, clock: ManualClock) -> None:
    when = clock.now().astimezone(UTC).replace(microsecond=0) + timedelta(days=1)
    r = await client.post(URL, json=mailing(scheduleDate=when.strftime("%Y%m%d%H%M%S")), headers=auth)
    assert r.status_code == 202
    item = r.json()["result"][0]
    assert item["scheduledAt"] == when.strftime("%Y-%m-%d %H:%M:%S")
    await runner.run_until_idle()
    assert await _events(db, row_id(Kind.MESSAGE, item["id"])) == []
    clock.advance(timedelta(days=1, seconds=1))
    await runner.run_until_idle()
    assert await _events(db, row_id(Kind.MESSAGE, item["id"])) == ["sent", "delivered"]
    past = datetime(2013, 2, 15, 14, 20, tzinfo=UTC).strftime("%Y%m%d%H%M%S")
    r = await client.post(URL, json=mailing(scheduleDate=past), headers=auth)
    assert r.status_code == 202 and r.json()["result"][0]["scheduledAt"] is None, "a past date sends now"


async def test_another_accounts_sender_is_not_verified_here(client: httpx.AsyncClient, verified: None,
                                                            make_account: Any) -> None:
    other: NewAccount = await make_account("Other", "owner@other.test")
    r = await client.post(URL, json=mailing(), headers=basic(other.username, other.api_password))
    assert r.status_code == 400 and r.json()["error"]["code"] == 115
