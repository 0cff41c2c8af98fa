"""The Twilio-compatible provider against a fake API, and signed status callbacks through the inbound route."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from tidings.channels.base import OutboundMessage, ProviderError
from tidings.channels.registry import build_provider
from tidings.channels.sms.twilio import TwilioProvider
from tidings.db.engine import Database
from tidings.db.models import Event, Job, Message
from tidings.engine.runner import Runner
from tidings.messaging import outbox
from tidings.messaging.receipts import callback_token, callback_url
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

from fakes.twilio import FakeTwilio


@pytest.fixture
async def twilio() -> AsyncIterator[FakeTwilio]:
    async with FakeTwilio() as server:
        yield server


def _sms(recipient: str = "34666555444", sender: str = "TIDINGS") -> OutboundMessage:
    return OutboundMessage("sms", sender, recipient, body="Hola", parts=["Hola"], encoding="gsm", reference="1")


def test_urls() -> None:
    provider = build_provider("sms", "twilio://AC1:tok@api.twilio.com")
    assert isinstance(provider, TwilioProvider)
    assert provider.endpoint == "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages.json"
    generic = build_provider("sms", "https://AC2:tok@sms.example.test/compat/")
    assert isinstance(generic, TwilioProvider)
    assert generic.endpoint == "https://sms.example.test/compat/2010-04-01/Accounts/AC2/Messages.json"
    with pytest.raises(ProviderError):
        build_provider("sms", "twilio://api.twilio.com")


async def test_send_refusals_and_credentials(twilio: FakeTwilio) -> None:
    twilio.refuse = {"+34600000001": (400, 21211, "Invalid 'To' Phone Number"),
                     "+34600000002": (429, 20429, "Too Many Requests")}
    provider = build_provider("sms", twilio.url(callback="https://tidings.test/cb"))
    try:
        ok = await provider.send(_sms(sender="34911222333"))
        assert ok.accepted and ok.provider_id == twilio.received[0]["sid"]
        assert {k: twilio.received[0][k] for k in ("To", "From", "Body", "StatusCallback")} == {
            "To": "+34666555444", "From": "+34911222333", "Body": "Hola", "StatusCallback": "https://tidings.test/cb"}
        bad = await provider.send(_sms("34600000001"))
        assert not bad.accepted and bad.permanent and bad.code == "21211"
        busy = await provider.send(_sms("34600000002"))
        assert not busy.accepted and not busy.permanent
    finally:
        await provider.close()
    wrong = build_provider("sms", f"twilio://ACtest:wrong@127.0.0.1:{twilio.port}?tls=false")
    try:
        denied = await wrong.send(_sms())
        assert not denied.accepted and not denied.permanent and "wrong" not in denied.detail
    finally:
        await wrong.close()
    down = build_provider("sms", "twilio://AC:tok@127.0.0.1:9?tls=false&timeout=1s")
    try:
        assert (await down.send(_sms())).code == "connection"
    finally:
        await down.close()


async def _queue(db: Database, account: NewAccount) -> int:
    async with db.transaction() as s:
        subject = AuthSubject(account_id=account.account_id, user_id=1)
        sending = await outbox.open_sending(s, subject, channel="sms", source="test")
        message = await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel="sms",
                                                           sender="TIDINGS", recipient="34666555444",
                                                           sending=sending, body="Hola",
                                                           extra={"kind": "transactional"}))
        return message.id


async def test_status_callbacks_become_events(app: Any, client: httpx.AsyncClient, db: Database,
                                              account: NewAccount, runner: Runner, twilio: FakeTwilio) -> None:
    app.state.providers.set("sms", build_provider("sms", twilio.url()))
    mid = await _queue(db, account)
    await runner.run_until_idle()
    (sent,) = twilio.received
    url = sent["StatusCallback"]
    assert url == callback_url(app.state.settings) == "http://tidings.test/inbound/sms/twilio", \
        "the engine set the install's callback, without a secret in it"
    assert (await twilio.post_signed(client, url, {"MessageSid": sent["sid"], "MessageStatus": "sent"})).status_code \
        == 204
    # Unsigned, wrongly signed or signed for other fields: refused, and nothing is recorded.
    forged = {"MessageSid": sent["sid"], "MessageStatus": "delivered"}
    assert (await client.post(url, data=forged)).status_code == 403
    assert (await client.post(url, data=forged, headers={"X-Twilio-Signature": "AAAA"})).status_code == 403
    other = twilio.sign(url, {"MessageSid": sent["sid"], "MessageStatus": "sent"})
    assert (await client.post(url, data=forged, headers={"X-Twilio-Signature": other})).status_code == 403
    r = await twilio.post_signed(client, url, {"MessageSid": sent["sid"], "MessageStatus": "undelivered",
                                               "ErrorCode": "30003"})
    assert r.status_code == 204
    async with db.sessions() as s:
        events = [(e.kind, e.details.get("code")) for e in
                  (await s.execute(select(Event).where(Event.message_id == mid).order_by(Event.id))).scalars()]
        message = await s.get(Message, mid)
    assert events == [("sent", None), ("undelivered", "30003")]
    assert message is not None and message.status == "undelivered"
    # The older URL with a path token still answers for messages sent before, with a signature too.
    old = f"{url}/{callback_token(app.state.settings.resolved_secret_key())}"
    assert (await client.post(old, data=forged)).status_code == 403
    assert (await twilio.post_signed(client, old, {"MessageSid": sent["sid"], "MessageStatus": "sent"})
            ).status_code == 204
    assert (await twilio.post_signed(client, url + "/forged", forged)).status_code == 404
    # A signed body without the fields is a 4xx, never a 500.
    assert (await twilio.post_signed(client, url, {"Foo": "bar"})).status_code == 422
    assert (await client.post(url, content=b"\xff\xfe", headers={"Content-Type": "multipart/form-data"})
            ).status_code in (400, 422)
    # A status for a message not recorded yet waits as a job.
    assert (await twilio.post_signed(client, url, {"MessageSid": "SMunknown", "MessageStatus": "delivered"})
            ).status_code == 204
    async with db.sessions() as s:
        assert (await s.execute(select(Job).where(Job.kind == "sms.receipt"))).scalar_one().payload["provider_id"] \
            == "SMunknown"
