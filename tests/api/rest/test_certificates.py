"""Certified SMS and mailings: the PDF certificates of the messaging dialect and their public verification."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from typing import Any

import httpx
import pypdf
import pytest

from tidings.channels.registry import build_provider
from tidings.core.clock import ManualClock
from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Message
from tidings.engine.runner import Runner
from tidings.messaging import events, senders
from tidings.tenancy.service import NewAccount

from helpers import basic, public_id, row_id
from smtp_sink import smtp_sink

SMS_TEXT = "Hola Zoë, ваш код 4711 — stop: {UNSUB_URL}"


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


@pytest.fixture
async def verified(db: Database, account: NewAccount) -> None:
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "info@acme.test", "Info")
        await senders.add_verified(s, account.account_id, "replies@acme.test")


def pdf_text(data: bytes) -> tuple[str, dict[str, Any]]:
    """All pages' text and the document information of a PDF."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages), dict(reader.metadata or {})


def squeezed(text: str) -> str:
    """Text without whitespace: long values (codes, URLs) may wrap anywhere on the page."""
    return re.sub(r"\s+", "", text)


async def send_sms(client: httpx.AsyncClient, auth: dict[str, str], **over: Any) -> str:
    body = {"to": ["34666555444"], "from": "TIDINGS", "message": SMS_TEXT, "certified": True, "parts": 3,
            **over}
    r = await client.post("/api/rest/sms", json=body, headers=auth)
    assert r.status_code == 202, r.text
    return str(r.json()["result"][0]["id"])


async def deliver(runner: Runner, clock: ManualClock) -> None:
    """Send what is due, then let the sandbox's delivery reports (1 s later) arrive."""
    await runner.run_until_idle()
    clock.advance(2)
    await runner.run_until_idle()


async def test_certified_sms_certificate_attests_the_facts_and_verifies(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], account: NewAccount, db: Database,
        runner: Runner, clock: ManualClock) -> None:
    app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered&delay=1s"))
    message_id = await send_sms(client, auth)

    r = await client.get(f"/api/rest/sms/certificates/{message_id}", headers=auth)
    assert r.status_code == 404, "nothing to attest before the message is sent"
    assert r.json()["error"] == {"code": 404, "description": "The certificate is available once the message "
                                                               "has been sent."}

    await deliver(runner, clock)
    as_sent = (await client.get(f"/api/rest/sms/{message_id}", headers=auth)).json()["data"][0]["message"]
    assert as_sent.startswith("Hola Zoë, ваш код 4711 — stop: http://tidings.test/u/")
    r = await client.get(f"/api/rest/sms/certificates/{message_id}", headers=auth)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == f'attachment; filename="certificate-sms-{message_id}.pdf"'
    assert r.content.startswith(b"%PDF-")
    code = r.headers["x-certificate-code"]
    assert re.fullmatch(rf"{message_id}-\d+-[0-9a-f]{{64}}", code)

    text, info = pdf_text(r.content)
    assert info["/Title"] == f"Certificate of certified SMS message {message_id}"
    digest = hashlib.sha256(as_sent.encode()).hexdigest()
    for fact in ("Acme", "TIDINGS", "34666555444", "SMS", "2026-01-05T09:00:00Z", "2026-01-05T09:00:02Z",
                 "sent", "delivered", "utf-16, 2"):
        assert fact in text, fact
    flat = squeezed(text)
    assert squeezed(as_sent) in flat, "the exact text as sent, Cyrillic and all"
    assert digest in flat and code in flat
    assert f"http://tidings.test/certificates/verify/{code}" in flat
    assert text.index("2026-01-05T09:00:00Z") < text.index("delivered")

    # The public check needs no credentials and shows the facts without the content.
    r = await client.get(f"/certificates/verify/{code}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["genuine"] is True and body["code"] == code
    shown = body["certificate"]
    assert shown["recipient"] == "34666555444" and shown["sender"] == "TIDINGS" and shown["channel"] == "sms"
    assert shown["account"] == {"id": public_id(Kind.ACCOUNT, account.account_id), "name": "Acme"}
    assert shown["content_sha256"] == digest and shown["submitted_at"] == "2026-01-05T09:00:00Z"
    assert [(e["kind"], e["at"]) for e in shown["events"]] == [("sent", "2026-01-05T09:00:00Z"),
                                                               ("delivered", "2026-01-05T09:00:02Z")]
    assert "content" not in shown and "Hola" not in r.text and "4711" not in r.text

    page = await client.get(f"/certificates/verify/{code}", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 200 and "Certificate genuine" in page.text and "34666555444" in page.text

    # A later event changes the next certificate, never the validity of the one already issued.
    async with db.transaction() as s:
        message = await s.get(Message, row_id(Kind.MESSAGE, message_id))
        assert message is not None
        clock.advance(60)
        await events.record(s, message, "clicked", details={"url": "https://example.com"})
    assert (await client.get(f"/certificates/verify/{code}")).status_code == 200
    r = await client.get(f"/api/rest/sms/certificates/{message_id}", headers=auth)
    newer = r.headers["x-certificate-code"]
    assert newer != code and "clicked" in pdf_text(r.content)[0]
    assert [e["kind"] for e in (await client.get(f"/certificates/verify/{newer}")).json()["certificate"]["events"]] \
        == ["sent", "delivered", "opened", "clicked"]

    # Tampering with any part of the code fails, the same way as a made-up one.
    mid, through, mac = code.split("-")
    flipped = mac[:-1] + ("0" if mac[-1] != "0" else "1")
    for bad in (f"{mid}-{through}-{flipped}", f"{mid}-{int(through) - 1}-{mac}", f"{int(mid) + 1}-{through}-{mac}",
                f"{mid}-{through}-{mac[:32]}", "not-a-code", f"99999999999999999999-1-{mac}"):
        r = await client.get(f"/certificates/verify/{bad}")
        assert r.status_code == 404 and r.json() == {"genuine": False}, bad
    page = await client.get(f"/certificates/verify/{mid}-{through}-{flipped}", headers={"Accept": "text/html"})
    assert page.status_code == 404 and "not genuine" in page.text


async def test_certified_mailing_certificate_through_a_real_relay(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], verified: None, db: Database,
        runner: Runner, clock: ManualClock) -> None:
    attachment = "naïve,data\n".encode()
    with smtp_sink() as sink:
        app.state.providers.set("email", build_provider("email", sink.url()))
        r = await client.post("/api/rest/mailing", headers=auth, json={
            "to": ["bob@example.test"], "cc": ["carol@example.test"], "bcc": ["audit@example.test"],
            "fromName": "Info", "fromEmail": "info@acme.test", "replyTo": "replies@acme.test",
            "subject": "Contrato nº {n} — Ελληνικά", "sub": [{"n": "42"}], "certified": True,
            "body": '<html><head><style>p{color:red}</style></head><body><p>Hello <b>Ann</b>,</p>'
                    '<p>see <a href="https://example.com/terms">the terms</a>. 中文</p>'
                    '<a href="[unsubscribe_link]">unsubscribe</a></body></html>',
            "attachments": [{"name": "datos.csv", "content": base64.b64encode(attachment).decode(),
                             "contentType": "text/csv"}]})
        assert r.status_code == 202, r.text
        message_id = r.json()["result"][0]["id"]
        await runner.run_until_idle()
        [got] = sink.received
        html = got.message.get_body(("html",)).get_content()
        pixel = re.search(r'src="http://tidings.test(/t/o/[^"]+)"', html)
        assert pixel is not None
    clock.advance(300)
    assert (await client.get(pixel.group(1))).status_code == 200

    r = await client.get(f"/api/rest/mailing/certificates/{message_id}", headers=auth)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    code = r.headers["x-certificate-code"]
    text, info = pdf_text(r.content)
    assert info["/Title"] == f"Certificate of certified email message {message_id}"
    for fact in ("Info <info@acme.test>", "bob@example.test", "carol@example.test", "replies@acme.test",
                 "Contrato nº 42 — Ελληνικά", "Hello Ann,", "the terms (https://example.com/terms)",
                 "datos.csv (text/csv, 12 bytes)", "2026-01-05T09:00:00Z", "sent", "opened",
                 "2026-01-05T09:05:00Z"):
        assert fact in text, fact
    assert "audit@example.test" not in text, "Bcc recipients stay hidden"
    assert "color:red" not in text
    assert "[U+4E2D][U+6587]" in text, "characters DejaVu cannot draw are spelled out, not dropped"
    flat = squeezed(text)
    assert hashlib.sha256(attachment).hexdigest() in flat
    # The digest on the certificate is that of the very bytes the relay received.
    assert hashlib.sha256(got.data).hexdigest() in flat
    assert code in flat

    r = await client.get(f"/certificates/verify/{code}")
    assert r.status_code == 200, r.text
    shown = r.json()["certificate"]
    assert shown["content_sha256"] == hashlib.sha256(got.data).hexdigest()
    assert shown["channel"] == "email" and shown["cc"] == ["carol@example.test"]
    assert shown["rfc_message_id"] == got.message["Message-ID"]
    assert [e["kind"] for e in shown["events"]] == ["sent", "opened"]
    assert "Contrato" not in r.text and "datos.csv" not in r.text

    # An email id is not an SMS certificate.
    r = await client.get(f"/api/rest/sms/certificates/{message_id}", headers=auth)
    assert r.status_code == 404 and r.json()["error"]["code"] == 404


async def test_not_certified_unknown_and_other_accounts_messages_are_404(
        app: Any, client: httpx.AsyncClient, auth: dict[str, str], verified: None, make_account: Any,
        runner: Runner, clock: ManualClock) -> None:
    plain_sms = await send_sms(client, auth, certified=False)
    r = await client.post("/api/rest/mailing", headers=auth, json={
        "to": ["bob@example.test"], "fromEmail": "info@acme.test", "replyTo": "replies@acme.test",
        "subject": "Hi", "body": "<p>hi</p>"})
    plain_mail = r.json()["result"][0]["id"]
    other = await make_account("Other", "owner@other.test")
    other_auth = basic(other.username, other.api_password)
    theirs = await send_sms(client, other_auth)
    mine = await send_sms(client, auth)
    await deliver(runner, clock)

    assert (await client.get(f"/api/rest/sms/certificates/{mine}", headers=auth)).status_code == 200
    cases = [("sms", plain_sms, auth), ("mailing", plain_mail, auth), ("sms", theirs, auth),
             ("sms", mine, other_auth), ("sms", "999999", auth), ("mailing", mine, auth),
             ("sms", "abc", auth), ("sms", "99999999999999999999", auth), ("sms", "-1", auth),
             ("mailing", "1.5", auth)]
    for kind, message_id, who in cases:
        r = await client.get(f"/api/rest/{kind}/certificates/{message_id}", headers=who)
        assert r.status_code == 404, (kind, message_id, r.text)
        assert r.json() == {"error": {"code": 404, "description": "Resource not found"}}, (kind, message_id)

    r = await client.get(f"/api/rest/sms/certificates/{mine}")
    assert r.status_code == 401 and r.json()["error"]["code"] == 103
