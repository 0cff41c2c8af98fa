"""Providers built from their URLs, one per channel route, cached for the process."""

from __future__ import annotations

from collections.abc import Callable

from tidings.channels.base import CHANNELS, EMAIL, VOICE, Provider, ProviderError, ProviderUrl
from tidings.channels.email.smtp import SmtpProvider, SmtpSettings
from tidings.channels.sandbox import SandboxProvider
from tidings.channels.voice.sandbox import VoiceSandbox


def build_provider(channel: str, url: str) -> Provider:
    """A provider for `channel` from its URL; raises ProviderError for an unusable URL."""
    if channel not in CHANNELS:
        raise ProviderError(f"unknown channel {channel}")
    parsed = ProviderUrl.parse(url)
    if parsed.scheme == "sandbox":
        if channel == VOICE:
            return VoiceSandbox(parsed)
        return SandboxProvider(channel, parsed)
    if channel == EMAIL and parsed.scheme in ("smtp", "smtps"):
        return SmtpProvider(SmtpSettings.from_url(parsed))
    factory = _EXTRA.get((channel, parsed.scheme))
    if factory is None:
        raise ProviderError(f"no {channel} provider for {parsed.scheme}://")
    return factory(parsed)


ProviderFactory = Callable[[ProviderUrl], Provider]
_EXTRA: dict[tuple[str, str], ProviderFactory] = {}


def register(channel: str, scheme: str) -> Callable[[ProviderFactory], ProviderFactory]:
    """Make a provider available under a URL scheme for one channel (smpp://, twilio:// ...)."""

    def decorate(factory: ProviderFactory) -> ProviderFactory:
        _EXTRA[(channel, scheme)] = factory
        return factory

    return decorate


class Providers:
    """The configured provider of each channel."""

    def __init__(self, urls: dict[str, str]) -> None:
        self.urls = urls
        self._cache: dict[str, Provider] = {}

    def get(self, channel: str) -> Provider:
        if channel not in self._cache:
            self._cache[channel] = build_provider(channel, self.urls.get(channel, "sandbox://"))
        return self._cache[channel]

    def set(self, channel: str, provider: Provider) -> None:
        self._cache[channel] = provider

    def keyed(self, key: str, factory: Callable[[], Provider] | None) -> Provider:
        """The provider kept under `key` ("channel:sms", "mailbox:12"), built on first use."""
        if key.startswith("channel:"):
            return self.get(key.split(":", 1)[1])
        if key not in self._cache:
            if factory is None:
                raise ProviderError(f"no provider for {key}")
            self._cache[key] = factory()
        return self._cache[key]

    async def drop(self, key: str) -> None:
        """Close and forget a keyed provider (its settings changed or it broke)."""
        provider = self._cache.pop(key, None)
        if provider is not None:
            await provider.close()

    async def close(self) -> None:
        for provider in self._cache.values():
            await provider.close()
        self._cache.clear()


# Providers that register themselves under a URL scheme; imported here so every process has them.
from tidings.channels.sms import smpp as _smpp  # noqa: E402, F401
from tidings.channels.sms import twilio as _twilio  # noqa: E402, F401
from tidings.channels.voice import twilio as _twilio_voice  # noqa: E402, F401
from tidings.channels.whatsapp import meta as _meta  # noqa: E402, F401
