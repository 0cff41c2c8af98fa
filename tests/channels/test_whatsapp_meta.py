"""The Cloud API provider (meta://) against a fake Cloud API: sends, refusals, the template list, signatures."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tidings.channels.base import OutboundMessage, ProviderError
from tidings.channels.registry import build_provider
from tidings.channels.whatsapp.meta import MetaProvider

from fakes.whatsapp import FakeCloudApi, template


@pytest.fixture
async def cloud() -> AsyncIterator[FakeCloudApi]:
    async with FakeCloudApi(templates=[template("welcome", "Hola {{1}}")]) as server:
        yield server


def _template(to: str = "34666555444", values: tuple[str, ...] = ("Ana",)) -> OutboundMessage:
    wa = {"type": "template", "template": {"name": "welcome", "language": {"code": "es"},
                                           "components": [{"type": "body", "parameters": [
                                               {"type": "text", "text": v} for v in values]}]}}
    return OutboundMessage("whatsapp", "34666777555", to, body="Hola Ana", reference="1",
                           options={"phone_number_id": "1234567890", "wa": wa})


async def _provider(url: str) -> MetaProvider:
    provider = build_provider("whatsapp", url)
    assert isinstance(provider, MetaProvider)
    return provider


def test_url() -> None:
    provider = build_provider("whatsapp", "meta://:EAAx@graph.facebook.com?app_secret=s&verify_token=t")
    assert isinstance(provider, MetaProvider)
    assert provider.messages_url("123") == "https://graph.facebook.com/v21.0/123/messages"
    assert provider.templates_url("9") == "https://graph.facebook.com/v21.0/9/message_templates"
    assert provider.verify_token_valid("t") and not provider.verify_token_valid("x")
    with pytest.raises(ProviderError):
        build_provider("whatsapp", "meta://graph.facebook.com")


async def test_template_send_in_the_cloud_api_format(cloud: FakeCloudApi) -> None:
    provider = await _provider(cloud.url())
    try:
        result = await provider.send(_template())
        text = await provider.send(OutboundMessage("whatsapp", "34666777555", "34666555444", body="hi",
                                                   options={"phone_number_id": "1234567890"}))
    finally:
        await provider.close()
    assert result.accepted and result.provider_id == cloud.received[0]["id"]
    sent = cloud.received[0]
    assert sent["messaging_product"] == "whatsapp" and sent["to"] == "34666555444"
    assert sent["phone_number_id"] == "1234567890" and sent["type"] == "template"
    assert sent["template"]["components"][0]["parameters"] == [{"type": "text", "text": "Ana"}]
    assert text.accepted and cloud.received[1]["text"] == {"body": "hi"}


async def test_refusals_are_permanent_or_transient(cloud: FakeCloudApi) -> None:
    cloud.refuse = {"34600000001": (400, 131030, "Recipient phone number not in allowed list"),
                    "34600000002": (400, 130429, "Rate limit hit")}
    provider = await _provider(cloud.url())
    try:
        bad = await provider.send(_template("34600000001"))
        throttled = await provider.send(_template("34600000002"))
        mismatch = await provider.send(_template(values=()))
        no_id = await provider.send(OutboundMessage("whatsapp", "1", "34666555444", body="x"))
    finally:
        await provider.close()
    assert not bad.accepted and bad.permanent and bad.code == "131030"
    assert not throttled.accepted and not throttled.permanent
    assert not mismatch.accepted and mismatch.permanent and mismatch.code == "132000"
    assert not no_id.accepted and no_id.permanent
    wrong = await _provider(cloud.url().replace(cloud.token, "other"))
    down = await _provider("meta://:t@127.0.0.1:9?tls=false&timeout=1s")
    try:
        denied = await wrong.send(_template())
        unreachable = await down.send(_template())
    finally:
        await wrong.close()
        await down.close()
    assert not denied.accepted and not denied.permanent and "other" not in denied.detail
    assert unreachable.code == "connection" and not unreachable.permanent


async def test_template_list_follows_the_cursor(cloud: FakeCloudApi) -> None:
    cloud.templates = [template(f"t{i}", "x") for i in range(230)]
    provider = await _provider(cloud.url())
    try:
        listed = await provider.list_templates("102290129340398")
    finally:
        await provider.close()
    assert [t["name"] for t in listed] == [f"t{i}" for i in range(230)]
    assert [r.get("after") for r in cloud.template_requests] == [None, "100", "200"]
    wrong = await _provider(cloud.url().replace(cloud.token, "other"))
    try:
        with pytest.raises(ProviderError, match="401"):
            await wrong.list_templates("1")
    finally:
        await wrong.close()


async def test_webhook_signature(cloud: FakeCloudApi) -> None:
    provider = await _provider(cloud.url())
    try:
        body, headers = cloud.webhook("1234567890", statuses=[cloud.status("wamid.1", "read", "34666555444")])
        assert provider.signature_valid(body, headers["X-Hub-Signature-256"])
        assert not provider.signature_valid(body + b" ", headers["X-Hub-Signature-256"])
        assert not provider.signature_valid(body, None)
        assert not provider.signature_valid(body, "sha1=" + headers["X-Hub-Signature-256"][7:])
    finally:
        await provider.close()
