"""OTP codes of the messaging dialect: {OTP_CODE} in SMS and mailings, /otp/generate and /otp/check."""

from __future__ import annotations

import asyncio
import email
import re
from datetime import UTC, datetime
from email.message import Message as EmailMessage
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tidings.channels.base import OutboundMessage
from tidings.channels.registry import build_provider
from tidings.core.clock import ManualClock
from tidings.core.ids import Kind
from tidings.db.engine import Database
from tidings.db.models import Message, OtpCode
from tidings.engine.runner import Runner
from tidings.messaging import senders
from tidings.tenancy.service import NewAccount

from helpers import basic, row_id

PHONE = "34666555444"
GENERATE, CHECK = "/api/rest/otp/generate", "/api/rest/otp/check"
SHAPE = ["recipient", "code", "attempts", "maxAttempts", "maxSecondsValidity", "appId", "createdAt", "updatedAt",
         "expiresAt"]


@pytest.fixture
def auth(account: NewAccount) -> dict[str, str]:
    return basic(account.username, account.api_password)


@pytest.fixture
def sms_outbox(app: Any) -> list[OutboundMessage]:
    provider = build_provider("sms", "sandbox://?delivery=delivered")
    app.state.providers.set("sms", provider)
    sent: list[OutboundMessage] = provider.outbox  # type: ignore[attr-defined]
    return sent


async def send_sms(client: httpx.AsyncClient, auth: dict[str, str], **over: Any) -> httpx.Response:
    body: dict[str, Any] = {"to": [PHONE], "from": "TEST", "message": "Your code is {OTP_CODE}"}
    body.update(over)
    return await client.post("/api/rest/sms", json=body, headers=auth)


async def check(client: httpx.AsyncClient, auth: dict[str, str], code: str, recipient: str = PHONE,
                **over: Any) -> dict[str, Any]:
    r = await client.post(CHECK, json={"recipient": recipient, "code": code, **over}, headers=auth)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def generate(client: httpx.AsyncClient, auth: dict[str, str], **over: Any) -> dict[str, Any]:
    r = await client.post(GENERATE, json={"recipient": PHONE, **over}, headers=auth)
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def expect_422(client: httpx.AsyncClient, auth: dict[str, str], url: str, body: dict[str, Any],
                     description: str | None = None, field: str | None = None) -> None:
    r = await client.post(url, json=body, headers=auth)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == 422, r.text
    if description is not None:
        assert error["description"] == description
    if field is not None:
        assert field in error["fields"], r.text


def code_in(text: str, length: int = 4, alpha: bool = False) -> str:
    alphabet = "A-Z0-9" if alpha else "0-9"
    found = re.search(rf"[Yy]our code is ([{alphabet}]{{{length}}})\b", text)
    assert found, text
    return found.group(1)


async def rows(db: Database) -> list[OtpCode]:
    async with db.sessions() as s:
        return list((await s.execute(select(OtpCode).order_by(OtpCode.id))).scalars())


async def test_sms_code_is_sent_checked_once_and_stored_as_a_hash(
        client: httpx.AsyncClient, auth: dict[str, str], db: Database, runner: Runner, clock: ManualClock,
        sms_outbox: list[OutboundMessage]) -> None:
    r = await send_sms(client, auth)
    assert r.status_code == 202, r.text
    [item] = r.json()["result"]
    assert item["accepted"] is True and item["parts"] == 1 and "code" not in item
    await runner.run_until_idle()
    [sent] = sms_outbox
    code = code_in(sent.body)
    assert sent.body == f"Your code is {code}"

    [row] = await rows(db)
    assert row.message_id == row_id(Kind.MESSAGE, item["id"]) and row.status == "pending" and row.recipient == PHONE
    assert code not in row.code_hash and len(row.code_hash) == 64, "only an HMAC of the code is kept"
    async with db.sessions() as s:
        message = await s.get(Message, row_id(Kind.MESSAGE, item["id"]))
        assert message is not None and message.extra["kind"] == "transactional"
        assert "sub" not in message.extra, "the code is not a custom field (reports show those)"

    shown = (await client.get(f"/api/rest/sms/{item['id']}", headers=auth)).json()["data"][0]
    assert shown["message"] == f"Your code is {code}" and shown["customFields"] == {}

    clock.advance(10)
    first = await check(client, auth, code)
    assert list(first) == ["valid", "reason", "otp"]
    assert first["valid"] is True and first["reason"] == "Valid"
    assert list(first["otp"]["data"]) == SHAPE
    assert first["otp"]["data"] == {
        "recipient": PHONE, "code": code, "attempts": 1, "maxAttempts": 3, "maxSecondsValidity": 60, "appId": "",
        "createdAt": "2026-01-05T09:00:00+00:00", "updatedAt": "2026-01-05T09:00:10+00:00",
        "expiresAt": "2026-01-05T09:01:00+00:00"}

    again = await check(client, auth, code)
    assert (again["valid"], again["reason"]) == (False, "Invalid code"), "a code is valid once"
    assert again["otp"]["data"]["attempts"] == 1 and again["otp"]["data"]["code"] is None
    assert (await rows(db))[0].status == "valid"


async def test_documented_examples(client: httpx.AsyncClient, auth: dict[str, str], clock: ManualClock) -> None:
    r = await client.post(GENERATE, json={"recipient": "34666555444"}, headers=auth)
    assert r.status_code == 200, r.text
    data = r.json()["data"]
    assert list(r.json()) == ["data"] and list(data) == SHAPE
    assert re.fullmatch(r"[0-9]{4}", data["code"])
    assert data == {"recipient": "34666555444", "code": data["code"], "attempts": 0, "maxAttempts": 3,
                    "maxSecondsValidity": 60, "appId": "", "createdAt": "2026-01-05T09:00:00+00:00",
                    "updatedAt": "2026-01-05T09:00:00+00:00", "expiresAt": "2026-01-05T09:01:00+00:00"}
    r = await client.post(CHECK, json={"recipient": "34666555444", "code": data["code"]}, headers=auth)
    assert r.status_code == 200, r.text
    assert r.json()["data"]["valid"] is True and r.json()["data"]["otp"]["data"]["code"] == data["code"]
    # The documented error examples, word for word.
    await expect_422(client, auth, GENERATE, {"recipient": "34"}, "The recipient field must be a valid phone or email.")
    await expect_422(client, auth, CHECK, {"code": "1234"}, "The recipient field is required.")


async def test_wrong_codes_count_attempts_up_to_max_attempts(client: httpx.AsyncClient, auth: dict[str, str],
                                                             db: Database, clock: ManualClock) -> None:
    code = (await generate(client, auth, maxAttempts=2))["code"]
    wrong = "0000" if code != "0000" else "1111"
    first = await check(client, auth, wrong)
    assert (first["valid"], first["reason"], first["otp"]["data"]["attempts"]) == (False, "Invalid code", 1)
    assert first["otp"]["data"]["code"] is None
    second = await check(client, auth, wrong)
    assert (second["reason"], second["otp"]["data"]["attempts"]) == ("Invalid code", 2)
    # Past the maximum even the right code is refused, and nothing more is counted or compared.
    for _ in range(3):
        third = await check(client, auth, code)
        assert (third["valid"], third["reason"]) == (False, "Maximum attempts reached")
        assert third["otp"]["data"]["attempts"] == 2 and third["otp"]["data"]["code"] is None
    assert (await rows(db))[0].status == "failed"


async def test_expiry_follows_the_clock(client: httpx.AsyncClient, auth: dict[str, str], db: Database,
                                        clock: ManualClock) -> None:
    code = (await generate(client, auth, maxSecondsValidity=30))["code"]
    clock.advance(29)
    wrong = "0000" if code != "0000" else "1111"
    assert (await check(client, auth, wrong))["reason"] == "Invalid code"
    clock.advance(1)
    expired = await check(client, auth, code)
    assert (expired["valid"], expired["reason"]) == (False, "Expired")
    assert expired["otp"]["data"]["attempts"] == 2 and expired["otp"]["data"]["code"] == code
    assert expired["otp"]["data"]["expiresAt"] == "2026-01-05T09:00:30+00:00"
    later = await check(client, auth, code)
    assert later["reason"] == "Expired" and later["otp"]["data"]["attempts"] == 2
    assert (await rows(db))[0].status == "expired"

    code = (await generate(client, auth, maxSecondsValidity=600))["code"]
    clock.advance(599)
    assert (await check(client, auth, code))["valid"] is True


async def test_app_ids_are_separate(client: httpx.AsyncClient, auth: dict[str, str], clock: ManualClock) -> None:
    login = (await generate(client, auth, appId="login"))["code"]
    pay = (await generate(client, auth, appId="payments"))["code"]
    nothing = await check(client, auth, login)
    assert nothing == {"valid": False, "reason": "Invalid code", "otp": None}, "no code for the default appId"
    if login != pay:
        assert (await check(client, auth, login, appId="payments"))["reason"] == "Invalid code"
        assert (await check(client, auth, pay, appId="login"))["reason"] == "Invalid code"
    assert (await check(client, auth, login, appId="login"))["valid"] is True
    assert (await check(client, auth, pay, appId="payments"))["valid"] is True


async def test_a_new_code_replaces_the_pending_one(client: httpx.AsyncClient, auth: dict[str, str], db: Database,
                                                   clock: ManualClock) -> None:
    old = (await generate(client, auth, length=6))["code"]
    new = (await generate(client, auth, length=6))["code"]
    assert [r.status for r in await rows(db)] == ["replaced", "pending"]
    if old != new:
        assert (await check(client, auth, old))["reason"] == "Invalid code"
    assert (await check(client, auth, new))["valid"] is True


async def test_reject_if_pending_code(client: httpx.AsyncClient, auth: dict[str, str], db: Database,
                                      clock: ManualClock, sms_outbox: list[OutboundMessage]) -> None:
    await generate(client, auth, rejectIfPendingCode=True)
    pending = "A pending OTP code already exists for this recipient and appId."
    await expect_422(client, auth, GENERATE, {"recipient": PHONE, "rejectIfPendingCode": True}, pending, "recipient")
    await generate(client, auth, rejectIfPendingCode=True, appId="other")  # another appId is independent
    await generate(client, auth, rejectIfPendingCode=True, recipient="+34 666 555 443")

    # The SMS refuses only the recipients with a pending code (207), and all of them is a 422.
    r = await send_sms(client, auth, to=[PHONE, "34666555442", "34666555442"], otpConfig={"rejectIfPendingCode": True})
    assert r.status_code == 207, r.text
    result = r.json()["result"]
    assert result[0] == {"accepted": False, "to": PHONE, "error": {"code": 422, "description": pending}}
    assert result[1]["accepted"] is True
    assert result[2]["accepted"] is False, "the same number twice in one request gets one code"
    r = await send_sms(client, auth, otpConfig={"rejectIfPendingCode": True})
    assert r.status_code == 422 and r.json()["error"] == {"code": 422, "description": pending}, r.text

    # Without the flag, and once the code has expired, a new code is issued.
    assert (await send_sms(client, auth)).status_code == 202
    clock.advance(61)
    assert (await generate(client, auth, rejectIfPendingCode=True))["attempts"] == 0
    count = len(await rows(db))
    assert count == 6


async def test_a_code_whose_message_was_refused_does_not_block(
        client: httpx.AsyncClient, auth: dict[str, str], runner: Runner, clock: ManualClock,
        sms_outbox: list[OutboundMessage]) -> None:
    r = await client.put("/api/rest/v2/blacklist/sms", json={"recipient": PHONE}, headers=auth)
    assert r.status_code == 200, r.text
    assert (await send_sms(client, auth, otpConfig={"rejectIfPendingCode": True})).status_code == 202
    assert (await send_sms(client, auth, otpConfig={"rejectIfPendingCode": True})).status_code == 422
    await runner.run_until_idle()
    assert sms_outbox == [], "blacklisted: the message was rejected"
    assert (await send_sms(client, auth, otpConfig={"rejectIfPendingCode": True})).status_code == 202


async def test_alpha_length_and_case_sensitivity(client: httpx.AsyncClient, auth: dict[str, str],
                                                 clock: ManualClock) -> None:
    assert re.fullmatch(r"[0-9]{3}", (await generate(client, auth, length=3))["code"])
    assert re.fullmatch(r"[0-9]{10}", (await generate(client, auth, length="10"))["code"])
    codes = [(await generate(client, auth, alpha=True, length=10, appId=str(i)))["code"] for i in range(20)]
    assert all(re.fullmatch(r"[A-Z0-9]{10}", c) for c in codes)
    assert any(re.search("[A-Z]", c) for c in codes), "alpha codes use letters"
    i, code = next((i, c) for i, c in enumerate(codes) if re.search("[A-Z]", c))
    assert (await check(client, auth, code.lower(), appId=str(i), caseSensitive=True))["reason"] == "Invalid code"
    by_default = await check(client, auth, code.lower(), appId=str(i))
    assert by_default["valid"] is True and by_default["otp"]["data"]["code"] == code


async def test_sms_parts_count_the_code(client: httpx.AsyncClient, auth: dict[str, str], clock: ManualClock,
                                        sms_outbox: list[OutboundMessage]) -> None:
    fits = "x" * 147 + "Your code is {OTP_CODE}"  # 147 + 13 + 10 = 170 characters
    assert (await send_sms(client, auth, message=fits, otpConfig={"length": 10})).json()["error"]["code"] == 105
    r = await send_sms(client, auth, message=fits, parts=2, otpConfig={"length": 10, "alpha": True})
    assert r.status_code == 202 and r.json()["result"][0]["parts"] == 2, r.text
    r = await send_sms(client, auth, message="x" * 147 + "Your code is {OTP_CODE}", otpConfig={"length": 3})
    assert r.status_code == 400 and r.json()["error"]["code"] == 105, "163 characters"
    r = await send_sms(client, auth, message="x" * 144 + "Your code is {OTP_CODE}", otpConfig={"length": 3})
    assert r.status_code == 202 and r.json()["result"][0]["parts"] == 1, "160 characters"


async def test_each_recipient_gets_its_own_code(client: httpx.AsyncClient, auth: dict[str, str], db: Database,
                                                runner: Runner, clock: ManualClock,
                                                sms_outbox: list[OutboundMessage]) -> None:
    numbers = ["34666555441", "34666555442", "34666555443"]
    r = await send_sms(client, auth, to=numbers, message="Hi {name}, your code is {OTP_CODE}",
                       sub=[{"name": "a"}, {"name": "b", "OTP_CODE": "9999"}, {"name": "c"}],
                       otpConfig={"length": 8, "maxAttempts": 5, "maxSecondsValidity": 120, "appId": "web"})
    assert r.status_code == 202, r.text
    await runner.run_until_idle()
    sent = {m.recipient: m.body for m in sms_outbox}
    codes = {n: code_in(sent[n], 8) for n in numbers}
    assert len(set(codes.values())) == 3
    for number, code in codes.items():
        result = await check(client, auth, code, recipient="+" + number, appId="web")
        assert result["valid"] is True
        assert result["otp"]["data"]["maxAttempts"] == 5 and result["otp"]["data"]["maxSecondsValidity"] == 120


async def test_scheduled_sms_code_is_valid_from_its_schedule(client: httpx.AsyncClient, auth: dict[str, str],
                                                             runner: Runner, clock: ManualClock,
                                                             sms_outbox: list[OutboundMessage]) -> None:
    r = await send_sms(client, auth, scheduleDate="20260105100000")
    assert r.status_code == 202, r.text
    clock.set(datetime(2026, 1, 5, 10, 0, 30, tzinfo=UTC))
    await runner.run_until_idle()
    [sent] = sms_outbox
    result = await check(client, auth, code_in(sent.body))
    assert result["valid"] is True and result["otp"]["data"]["expiresAt"] == "2026-01-05T10:01:00+00:00"


async def test_otp_sms_is_transactional_in_quiet_hours(client: httpx.AsyncClient, auth: dict[str, str],
                                                       runner: Runner, clock: ManualClock,
                                                       sms_outbox: list[OutboundMessage]) -> None:
    clock.set(datetime(2026, 1, 5, 23, 30, tzinfo=UTC))  # half past midnight in Paris
    assert (await send_sms(client, auth, to=["33612345678"], message="promo")).status_code == 202
    assert (await send_sms(client, auth, to=["33612345678"])).status_code == 202
    await runner.run_until_idle()
    [sent] = sms_outbox  # only the code went out at night
    code_in(sent.body)


def _html(raw: bytes) -> str:
    parsed = email.message_from_bytes(raw)
    for part in parsed.walk():
        if part.get_content_type() == "text/html":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no html part")


async def test_mailing_with_otp_code(app: Any, client: httpx.AsyncClient, auth: dict[str, str], db: Database,
                                     account: NewAccount, runner: Runner, clock: ManualClock) -> None:
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "info@acme.test")
    provider = build_provider("email", "sandbox://")
    app.state.providers.set("email", provider)
    body = {"to": ["Bob@Example.test", "ann@example.test"], "fromEmail": "info@acme.test",
            "replyTo": "info@acme.test", "subject": "Code {OTP_CODE}", "body": "<p>Your code is {OTP_CODE}</p>",
            "otpConfig": {"alpha": True, "length": 6, "appId": "mail"}}
    r = await client.post("/api/rest/mailing", json=body, headers=auth)
    assert r.status_code == 202, r.text
    await runner.run_until_idle()
    sent: list[OutboundMessage] = provider.outbox  # type: ignore[attr-defined]
    assert len(sent) == 2
    by_to = {m.recipient: m for m in sent}
    bob = by_to["Bob@example.test"]
    code = code_in(_html(bob.raw or b""), 6, alpha=True)
    assert bob.subject == f"Code {code}"
    parsed: EmailMessage = email.message_from_bytes(bob.raw or b"")
    assert parsed["Subject"] == f"Code {code}"
    result = await check(client, auth, code, recipient="bob@EXAMPLE.test", appId="mail")
    assert result["valid"] is True and result["otp"]["data"]["recipient"] == "Bob@example.test"
    ann = code_in(_html(by_to["ann@example.test"].raw or b""), 6, alpha=True)
    assert (await check(client, auth, ann, recipient="ann@example.test"))["reason"] == "Invalid code", "appId"
    assert (await check(client, auth, ann, recipient="ann@example.test", appId="mail"))["valid"] is True

    # rejectIfPendingCode: ann has none now; bob neither (used); a fresh request then blocks the second one.
    body["otpConfig"] = {"rejectIfPendingCode": True, "appId": "mail"}
    assert (await client.post("/api/rest/mailing", json=body, headers=auth)).status_code == 202
    r = await client.post("/api/rest/mailing", json=body, headers=auth)
    assert r.status_code == 422 and r.json()["error"]["code"] == 422, r.text
    body["to"] = ["bob@example.test", "carl@example.test"]
    r = await client.post("/api/rest/mailing", json=body, headers=auth)
    assert r.status_code == 207, r.text
    assert [x["accepted"] for x in r.json()["result"]] == [False, True]
    assert r.json()["result"][0]["error"]["code"] == 422


@pytest.mark.parametrize("config, field", [
    ({"length": 2}, "length"), ({"length": 11}, "length"), ({"length": "four"}, "length"),
    ({"maxAttempts": 0}, "maxAttempts"), ({"maxAttempts": 11}, "maxAttempts"),
    ({"maxSecondsValidity": 29}, "maxSecondsValidity"), ({"maxSecondsValidity": 601}, "maxSecondsValidity"),
    ({"alpha": "yes"}, "alpha"), ({"rejectIfPendingCode": 2}, "rejectIfPendingCode"),
    ({"appId": ["x"]}, "appId"), ({"appId": "x" * 256}, "appId"), ({"length": True}, "length"),
])
async def test_validation_errors(client: httpx.AsyncClient, auth: dict[str, str], db: Database,
                                 account: NewAccount, config: dict[str, Any], field: str) -> None:
    await expect_422(client, auth, GENERATE, {"recipient": PHONE, **config}, field=field)
    r = await send_sms(client, auth, otpConfig=config)
    assert r.status_code == 422 and r.json()["error"]["code"] == 422, r.text
    assert f"otpConfig.{field}" in r.json()["error"]["fields"]
    async with db.transaction() as s:
        await senders.add_verified(s, account.account_id, "info@acme.test")
    r = await client.post("/api/rest/mailing", headers=auth, json={
        "to": ["bob@example.test"], "fromEmail": "info@acme.test", "replyTo": "info@acme.test", "subject": "s",
        "body": "{OTP_CODE}", "otpConfig": config})
    assert r.status_code == 422 and f"otpConfig.{field}" in r.json()["error"]["fields"], r.text
    assert await rows(db) == []
    async with db.sessions() as s:
        assert (await s.execute(select(Message))).first() is None, "nothing is written"


async def test_request_errors(client: httpx.AsyncClient, auth: dict[str, str]) -> None:
    for recipient in (None, "", "   "):
        await expect_422(client, auth, GENERATE, {"recipient": recipient}, "The recipient field is required.")
    for recipient in ("34", "abc", "bob@", ["34666555444"], True):
        await expect_422(client, auth, GENERATE, {"recipient": recipient},
                         "The recipient field must be a valid phone or email.")
    await expect_422(client, auth, CHECK, {"recipient": PHONE}, "The code field is required.")
    await expect_422(client, auth, CHECK, {"recipient": PHONE, "code": ["1"]}, field="code")
    await expect_422(client, auth, CHECK, {"recipient": PHONE, "code": "1", "caseSensitive": "maybe"},
                     field="caseSensitive")
    r = await client.post(CHECK, content=b"{not json", headers={**auth, "Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == 125
    r = await client.post(CHECK, json={"recipient": PHONE, "code": "1"})
    assert r.status_code == 401 and r.json()["error"]["code"] == 103
    r = await send_sms(client, auth, otpConfig="yes")
    assert r.status_code == 422 and "otpConfig" in r.json()["error"]["fields"]


async def test_another_account_cannot_check_or_see_your_code(
        client: httpx.AsyncClient, auth: dict[str, str], db: Database, make_account: Any,
        clock: ManualClock) -> None:
    other = await make_account("Other", "owner@other.test")
    other_auth = basic(other.username, other.api_password)
    code = (await generate(client, auth))["code"]
    for _ in range(5):
        assert await check(client, other_auth, code) == {"valid": False, "reason": "Invalid code", "otp": None}
    [row] = await rows(db)
    assert row.attempts == 0 and row.status == "pending"
    # The other account's codes and pending state are its own.
    await generate(client, other_auth, rejectIfPendingCode=True)
    assert (await check(client, auth, code))["valid"] is True


async def test_concurrent_checks_validate_a_code_once(client: httpx.AsyncClient, auth: dict[str, str],
                                                      clock: ManualClock) -> None:
    code = (await generate(client, auth, maxAttempts=10))["code"]
    results = await asyncio.gather(*(check(client, auth, code) for _ in range(6)))
    assert sorted(r["reason"] for r in results) == ["Invalid code"] * 5 + ["Valid"]
