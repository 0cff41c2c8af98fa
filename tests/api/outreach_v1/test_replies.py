"""Replies of a campaign and a contact, and email threads, as the engine records them."""

from __future__ import annotations

import re
from typing import Any

import httpx

from tidings.api.outreach_v1.ids import decode
from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Message, Thread

REPLY_KEYS = ["id", "thread_id", "contact_id", "from_email", "to_email", "from_name", "to_name", "submitted_at",
              "created_at", "subject", "snippet", "message_body", "message_raw"]


async def _conversation(db: Database, agency: Any, contact: dict[str, Any], clock: Any, replies: int = 1
                        ) -> int:
    campaign_id = decode(Kind.CAMPAIGN, agency.campaign_id) or 0
    enrollment_id = decode(Kind.ENROLLMENT, contact["id"]) or 0
    account_id = agency.account.account_id
    async with db.transaction() as s:
        thread = Thread(account_id=account_id, campaign_id=campaign_id, enrollment_id=enrollment_id,
                        subject="Test message subject")
        s.add(thread)
        await s.flush()
        s.add(Message(account_id=account_id, channel="email", direction="out", status="sent",
                      campaign_id=campaign_id, enrollment_id=enrollment_id, thread_id=thread.id,
                      sender="ella@acme.test", recipient=contact["email"], subject="Test message subject",
                      body="Hello", html="<p>Hello</p>", step_number=1, sent_at=clock.now(), created_at=clock.now()))
        for n in range(replies):
            clock.advance(60)
            s.add(Message(account_id=account_id, channel="email", direction="in", status="received",
                          campaign_id=campaign_id, enrollment_id=enrollment_id, thread_id=thread.id,
                          sender=contact["email"], recipient="ella@acme.test", subject="Re: Test message subject",
                          body=f"Reply {n} " + "word " * 40, html=f"<p>Reply {n}</p>", classification="reply",
                          created_at=clock.now()))
        clock.advance(60)
        s.add(Message(account_id=account_id, channel="email", direction="in", status="received",
                      campaign_id=campaign_id, enrollment_id=enrollment_id, thread_id=thread.id,
                      sender="mailer-daemon@acme.test", recipient="ella@acme.test", subject="Undelivered",
                      body="bounce", classification="bounce", created_at=clock.now()))
        return thread.id


async def test_campaign_and_contact_replies(client: httpx.AsyncClient, agency: Any, api: Any, db: Database,
                                            clock: Any) -> None:
    contact = await api.contact(agency, "corwin.velda@example.com", first_name="Corwin", last_name="Velda")
    await _conversation(db, agency, contact, clock, replies=3)
    r = await client.get(f"/api/v1/campaigns/{agency.campaign_id}/replies", headers=agency.headers)
    assert r.status_code == 200
    data = r.json()["data"]
    assert len(data) == 3 and list(data[0]) == REPLY_KEYS
    assert re.match(r"^[a-z0-9]{30}$", data[0]["id"]) and re.match(r"^[a-z0-9]{25}$", data[0]["thread_id"])
    assert data[0]["contact_id"] == contact["id"] and data[0]["from_email"] == "corwin.velda@example.com"
    assert data[0]["message_body"].startswith("Reply 2") and data[0]["message_raw"] == "<p>Reply 2</p>"
    assert len(data[0]["snippet"]) <= 100 and data[0]["snippet"].endswith("...")
    r = await client.get(f"/api/v1/campaigns/{agency.campaign_id}/replies?limit=2&offset=2", headers=agency.headers)
    assert [m["message_body"][:7] for m in r.json()["data"]] == ["Reply 0"]
    for bad in ("limit=21", "limit=0", "offset=-1", "limit=x"):
        r = await client.get(f"/api/v1/campaigns/{agency.campaign_id}/replies?{bad}", headers=agency.headers)
        assert r.status_code == 422, bad
    r = await client.get(f"/api/v1/contacts/{contact['id']}/replies", headers=agency.headers)
    assert r.status_code == 200 and len(r.json()["data"]) == 3


async def test_thread(client: httpx.AsyncClient, agency: Any, api: Any, db: Database, clock: Any) -> None:
    contact = await api.contact(agency, "corwin.velda@example.com", first_name="Corwin", last_name="Velda")
    thread_pk = await _conversation(db, agency, contact, clock)
    from tidings.api.outreach_v1.ids import encode

    thread_id = encode(Kind.THREAD, thread_pk)
    r = await client.get(f"/api/v1/email-threads/{thread_id}", headers=agency.headers)
    assert r.status_code == 200
    data = r.json()["data"]
    assert list(data) == ["id", "campaign_id", "contact_id", "email_messages"]
    assert data["id"] == thread_id and data["campaign_id"] == agency.campaign_id and data["contact_id"] == contact["id"]
    out, reply, bounce = data["email_messages"]
    assert list(out) == REPLY_KEYS and out["from_email"] == "ella@acme.test" and out["to_name"] == "Corwin Velda"
    assert reply["from_name"] == "Corwin Velda" and reply["subject"] == "Re: Test message subject"
    assert bounce["subject"] == "Undelivered"
    assert (await client.get("/api/v1/email-threads/" + "a" * 25, headers=agency.headers)).status_code == 404
