"""Sandbox providers of every channel and the SMTP relay provider against a real server."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from tidings.channels.base import CHANNELS, VOICE, OutboundMessage, ProviderError, ProviderUrl, parse_duration
from tidings.channels.email.smtp import SmtpProvider, SmtpSettings
from tidings.channels.registry import Providers, build_provider
from tidings.channels.sandbox import SandboxProvider

from smtp_sink import free_port, smtp_sink


def _email(to: str = "bob@example.test") -> OutboundMessage:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "alice@acme.test", to, "Hello"
    msg.set_content("Hi Bob")
    return OutboundMessage("email", "alice@acme.test", to, raw=msg.as_bytes())


@pytest.mark.parametrize("channel", [c for c in CHANNELS if c != VOICE])  # voice: test_voice_sandbox.py
async def test_sandbox_records_and_reports_the_chosen_outcome(channel: str) -> None:
    provider = build_provider(channel, "sandbox://?delivery=undelivered&delay=2s")
    assert isinstance(provider, SandboxProvider)
    result = await provider.send(OutboundMessage(channel, "me", "34666555444", body="hi"))
    assert result.accepted and result.provider_id
    assert [(e.status, e.after_seconds) for e in result.events] == [("undelivered", 2.0)]
    assert provider.outbox[0].recipient == "34666555444"


async def test_sandbox_refusal_and_transient_failure() -> None:
    refused = await build_provider("sms", "sandbox://?refuse=true").send(OutboundMessage("sms", "a", "b"))
    assert not refused.accepted and refused.permanent
    failing = await build_provider("sms", "sandbox://?fail=1").send(OutboundMessage("sms", "a", "b"))
    assert not failing.accepted and not failing.permanent


def test_bad_provider_urls_are_refused() -> None:
    with pytest.raises(ProviderError):
        build_provider("sms", "sandbox://?delivery=teleported")
    with pytest.raises(ProviderError):
        build_provider("sms", "carrier-pigeon://x")
    with pytest.raises(ProviderError):
        build_provider("fax", "sandbox://")
    assert ProviderUrl.parse("smtp://u:s3cret@relay:587").redacted() == "smtp://u:***@relay:587"
    assert parse_duration("500ms") == 0.5 and parse_duration("2m") == 120


@pytest.mark.parametrize("pipelining", [True, False])
async def test_smtp_relay_delivers_and_reuses_its_connection(pipelining: bool) -> None:
    with smtp_sink(credentials={"relay": "pw"}, pipelining=pipelining) as sink:
        providers = Providers({"email": sink.url("relay", "pw")})
        provider = providers.get("email")
        assert isinstance(provider, SmtpProvider)
        first = await provider.send(_email())
        second = await provider.send(_email("carol@example.test"))
        await providers.close()
    assert first.accepted and second.accepted
    assert [r.recipients for r in sink.received] == [["bob@example.test"], ["carol@example.test"]]
    assert sink.received[0].message["Subject"] == "Hello"


@pytest.mark.parametrize("pipelining", [True, False])
async def test_smtp_5xx_is_permanent_and_4xx_is_transient(pipelining: bool) -> None:
    with smtp_sink(pipelining=pipelining) as sink:
        sink.handler.refuse = {"gone@example.test": "550 5.1.1 no such user",
                               "busy@example.test": "451 4.7.1 try later"}
        provider = SmtpProvider(SmtpSettings("127.0.0.1", sink.port))
        gone = await provider.send(_email("gone@example.test"))
        busy = await provider.send(_email("busy@example.test"))
        await provider.close()
    assert not gone.accepted and gone.permanent and gone.code == "550"
    assert not busy.accepted and not busy.permanent and busy.code == "451"


@pytest.mark.parametrize("pipelining", [True, False])
async def test_smtp_bad_login_and_unreachable_server_are_transient(pipelining: bool) -> None:
    with smtp_sink(credentials={"relay": "pw"}, pipelining=pipelining) as sink:
        provider = SmtpProvider(SmtpSettings("127.0.0.1", sink.port, "relay", "wrong"))
        result = await provider.send(_email())
        await provider.close()
    assert not result.accepted and not result.permanent and "login failed" in result.detail
    down = SmtpProvider(SmtpSettings("127.0.0.1", free_port(), timeout=2))
    result = await down.send(_email())
    assert not result.accepted and not result.permanent and result.code == "connection"
