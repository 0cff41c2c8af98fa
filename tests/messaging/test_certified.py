"""Certified messages: the surcharge on the SMS charge, and the certificate PDF's handling of any text."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pypdf
import pytest
from sqlalchemy import select

from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Account, Event, Message, Sending
from tidings.engine.runner import Runner
from tidings.messaging import outbox
from tidings.messaging.certificates import facts, pdf
from tidings.messaging.certificates.service import Certificate
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

from helpers import basic, row_id

TWO_PARTS = "x" * 200  # 2 GSM parts to 34666555444 at 0.065 each


async def _balance(db: Database, account_id: int, value: str | None = None) -> Decimal:
    async with db.transaction() as s:
        account = await s.get(Account, account_id)
        assert account is not None
        if value is not None:
            account.balance = Decimal(value)
        return Decimal(account.balance)


async def _send(client: httpx.AsyncClient, account: NewAccount, certified: bool) -> httpx.Response:
    return await client.post("/api/rest/sms", headers=basic(account.username, account.api_password),
                             json={"to": ["34666555444"], "from": "TIDINGS", "message": TWO_PARTS, "parts": 2,
                                   "certified": certified})


async def test_certified_sms_is_charged_the_surcharge_once(app: Any, client: httpx.AsyncClient, db: Database,
                                                           account: NewAccount, runner: Runner) -> None:
    app.state.settings.certified_surcharge = Decimal("0.05")
    await _balance(db, account.account_id, "1")
    certified = (await _send(client, account, True)).json()
    plain = (await _send(client, account, False)).json()
    await runner.run_until_idle()
    async with db.sessions() as s:
        for sent, cost in ((certified, Decimal("0.18")), (plain, Decimal("0.13"))):
            message = await s.get(Message, row_id(Kind.MESSAGE, sent["result"][0]["id"]))
            sending = await s.get(Sending, row_id(Kind.SENDING, sent["sendingId"]))
            assert message is not None and sending is not None
            assert message.parts == 2 and message.cost == cost and sending.cost == cost
        message = await s.get(Message, row_id(Kind.MESSAGE, certified["result"][0]["id"]))
        assert message is not None and message.extra["pricing"]["surcharge"] == "0.05"
    assert await _balance(db, account.account_id) == Decimal("0.69")


async def test_the_surcharge_counts_in_the_balance_checks(app: Any, client: httpx.AsyncClient, db: Database,
                                                          account: NewAccount, runner: Runner) -> None:
    app.state.settings.certified_surcharge = Decimal("0.05")
    app.state.settings.enforce_balance = True
    await _balance(db, account.account_id, "0.15")
    r = await _send(client, account, True)
    assert r.status_code == 402 and r.json()["error"]["code"] == 111, "0.13 + 0.05 > 0.15 at request time"
    assert (await _send(client, account, False)).status_code == 202
    await runner.run_until_idle()
    assert await _balance(db, account.account_id) == Decimal("0.02")

    # At dispatch too: a certified message the balance covered at request time but no longer does.
    await _balance(db, account.account_id, "0.15")
    async with db.transaction() as s:
        subject = AuthSubject(account_id=account.account_id, user_id=1)
        sending = await outbox.open_sending(s, subject, channel="sms", source="test")
        message = await outbox.queue(s, outbox.new_message(
            account_id=account.account_id, channel="sms", sender="TIDINGS", recipient="34666555444",
            sending=sending, body=TWO_PARTS, extra={"certified": True}))
        queued = message.id
    await runner.run_until_idle()
    async with db.sessions() as s:
        kinds = [(e.kind, e.details.get("code")) for e in
                 (await s.execute(select(Event).where(Event.message_id == queued))).scalars()]
    assert kinds == [("rejected", "111")]
    assert await _balance(db, account.account_id) == Decimal("0.15")


async def test_no_surcharge_by_default(app: Any, client: httpx.AsyncClient, db: Database, account: NewAccount,
                                       runner: Runner) -> None:
    assert app.state.settings.certified_surcharge == Decimal("0")
    sent = (await _send(client, account, True)).json()
    await runner.run_until_idle()
    async with db.sessions() as s:
        message = await s.get(Message, row_id(Kind.MESSAGE, sent["result"][0]["id"]))
        assert message is not None and message.cost == Decimal("0.13") and "surcharge" not in message.extra["pricing"]


def _certificate(text: str) -> Certificate:
    signed: dict[str, Any] = {
        "version": 1, "message_id": 7, "through_event": 3, "account": {"id": 1, "name": "Acme"}, "channel": "sms",
        "sender": "TIDINGS", "sender_name": None, "recipient": "34666555444", "cc": [], "reply_to": None,
        "submitted_at": "2026-01-05T09:00:00Z", "scheduled_at": None, "rfc_message_id": None,
        "content": {"text": text, "encoding": "utf-16", "parts": 1}, "content_sha256": "c" * 64,
        "events": [{"kind": "sent", "at": "2026-01-05T09:00:00Z"}]}
    return Certificate(signed, "7-3-" + "d" * 64, "http://tidings.test/certificates/verify/7-3-" + "d" * 64,
                       datetime(2026, 1, 5, 10, tzinfo=UTC))


def _text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)


def test_printable_spells_out_what_cannot_or_should_not_be_drawn() -> None:
    latin1 = pdf.printable("Zoë ж\u200b\x07\tok\nnext", lambda code: code < 0x100)
    assert latin1 == "Zoë [U+0436][U+200B][U+0007][U+0009]ok\nnext"


def test_without_dejavu_the_core_fonts_print_latin1_and_spell_out_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pdf, "dejavu_dir", lambda: None)
    text = _text(pdf.render(_certificate("Zoë: код 4711")))
    assert "Zoë: [U+043A][U+043E][U+0434] 4711" in text


@pytest.mark.skipif(pdf.dejavu_dir() is None, reason="DejaVu (fonts-dejavu-core) is not installed")
def test_with_dejavu_cyrillic_prints_and_a_long_text_runs_onto_more_pages() -> None:
    data = pdf.render(_certificate("Zoë: код 4711 " + "слово " * 2000))
    assert "Zoë: код 4711" in _text(data)
    assert len(pypdf.PdfReader(io.BytesIO(data)).pages) > 1


def test_codes_parse_strictly() -> None:
    mac = "ab" * 32
    assert facts.parse_code(f"12-0-{mac.upper()}") == (12, 0, mac)
    for bad in (f"0-1-{mac}", f"012-1-{mac}", f"1-01-{mac}", f"1-1-{mac}0", f"1-1-{mac[:-1]}g", f"٣-1-{mac}",
                f"{2**63}-1-{mac}", "", "1-1"):
        assert facts.parse_code(bad) is None, bad
