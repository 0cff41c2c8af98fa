"""The contract between the engine and a provider of one channel.

A provider takes one outbound message and answers at once whether it was accepted; outcomes that
arrive later (a delivery receipt, a bounce) come back as `ProviderEvent`s, either scheduled by
the provider in its result (the sandbox) or reported through the inbound callbacks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, unquote, urlsplit

EMAIL, SMS, VOICE, WHATSAPP = "email", "sms", "voice", "whatsapp"
CHANNELS = (EMAIL, SMS, VOICE, WHATSAPP)


@dataclass
class OutboundMessage:
    """What a provider needs to send one message; `raw` is the full RFC 5322 bytes for email."""

    channel: str
    sender: str
    recipient: str
    body: str = ""
    subject: str | None = None
    raw: bytes | None = None
    parts: list[str] = field(default_factory=list)
    encoding: str | None = None
    reference: str = ""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class ProviderEvent:
    """A later outcome: `status` is delivered, undelivered, expired, rejected, bounced or failed."""

    status: str
    after_seconds: float = 0.0
    detail: str = ""
    code: str | None = None


LOGIN_FAILED = "login failed"


@dataclass
class SendResult:
    accepted: bool
    provider_id: str | None = None
    # For a refusal: permanent (bounce, reject) or worth retrying later.
    permanent: bool = False
    code: str | None = None
    detail: str = ""
    events: list[ProviderEvent] = field(default_factory=list)

    @property
    def login_failed(self) -> bool:
        """The provider refused our own credentials (the mailbox's fault, not the recipient's)."""
        return not self.accepted and self.detail.startswith(LOGIN_FAILED)


class Provider(Protocol):
    channel: str
    url_scheme: str

    async def send(self, message: OutboundMessage) -> SendResult: ...

    async def close(self) -> None: ...


class ProviderError(Exception):
    """A provider URL or configuration that cannot work."""


@dataclass(frozen=True)
class ProviderUrl:
    """A parsed provider URL such as smtp://user:pass@relay:587?starttls=true."""

    scheme: str
    username: str | None
    password: str | None
    host: str | None
    port: int | None
    path: str
    query: dict[str, str]

    @classmethod
    def parse(cls, url: str) -> ProviderUrl:
        parts = urlsplit(url)
        if not parts.scheme:
            raise ProviderError("a provider URL needs a scheme, e.g. sandbox:// or smtp://")
        try:
            port = parts.port
        except ValueError as exc:
            raise ProviderError("the provider URL has an invalid port") from exc
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        return cls(parts.scheme.lower(), unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None, parts.hostname, port, parts.path, query)

    def flag(self, name: str, default: bool = False) -> bool:
        value = self.query.get(name)
        return default if value is None else value.lower() in ("1", "true", "yes", "on")

    def redacted(self) -> str:
        """The URL without its secret, safe for logs."""
        auth = f"{self.username}:***@" if self.username else ""
        port = f":{self.port}" if self.port else ""
        return f"{self.scheme}://{auth}{self.host or ''}{port}{self.path}"


def parse_duration(text: str | None) -> float:
    """'1s', '500ms', '2m', '1h' or a bare number of seconds."""
    if not text:
        return 0.0
    text = text.strip().lower()
    for suffix, factor in (("ms", 0.001), ("s", 1.0), ("m", 60.0), ("h", 3600.0)):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)
