"""A Twilio-compatible HTTP SMS provider: POST {base}/2010-04-01/Accounts/{SID}/Messages.json.

`twilio://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com` (HTTPS; `?tls=false` for a local test server), or any
compatible service at `http(s)://ACCOUNT_SID:AUTH_TOKEN@host[:port][/base]`. Form fields To, From, Body
and StatusCallback (the install's /inbound/sms/twilio route, set by the engine from TIDINGS_PUBLIC_URL,
or `?callback=URL`), whose posts carry X-Twilio-Signature. A 4xx answer is a permanent refusal except 429; 5xx and
network errors are transient. The auth token is sent as Basic auth only, never logged or returned.
"""

from __future__ import annotations

import httpx

from tidings.channels.base import SMS, OutboundMessage, ProviderError, ProviderUrl, SendResult, parse_duration
from tidings.channels.registry import register
from tidings.channels.twilio_api import e164, result_of

API_VERSION = "2010-04-01"


class TwilioProvider:
    """One HTTP client per provider; `status_callback` is where delivery statuses should be posted."""

    channel = SMS

    def __init__(self, url: ProviderUrl, transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not url.username or not url.password:
            raise ProviderError(f"a {url.scheme}:// SMS URL needs ACCOUNT_SID:AUTH_TOKEN@")
        self.url_scheme = url.scheme
        if url.scheme == "twilio":
            scheme = "https" if url.flag("tls", True) else "http"
            host = url.host or "api.twilio.com"
        else:
            if not url.host:
                raise ProviderError(f"a {url.scheme}:// SMS URL needs a host")
            scheme, host = url.scheme, url.host
        port = f":{url.port}" if url.port else ""
        self.base = f"{scheme}://{host}{port}{url.path.rstrip('/')}"
        self.sid, self._token = url.username, url.password
        self.status_callback: str | None = url.query.get("callback") or None
        try:
            timeout = parse_duration(url.query.get("timeout") or "15s")
        except ValueError as exc:
            raise ProviderError("timeout must be a duration such as 15s") from exc
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False)

    @property
    def auth_token(self) -> str:
        """Verifies the signature of the status callbacks (never logged or returned)."""
        return self._token

    @property
    def endpoint(self) -> str:
        return f"{self.base}/{API_VERSION}/Accounts/{self.sid}/Messages.json"

    async def send(self, message: OutboundMessage) -> SendResult:
        form = {"To": e164(message.recipient), "From": e164(message.sender), "Body": message.body}
        if self.status_callback:
            form["StatusCallback"] = self.status_callback
        try:
            response = await self._client.post(self.endpoint, data=form, auth=(self.sid, self._token))
        except httpx.HTTPError as exc:
            return SendResult(False, permanent=False, code="connection", detail=type(exc).__name__)
        return result_of(response)

    async def close(self) -> None:
        await self._client.aclose()



@register(SMS, "twilio")
def twilio_provider(url: ProviderUrl) -> TwilioProvider:
    """The twilio:// factory."""
    return TwilioProvider(url)


@register(SMS, "http")
def http_provider(url: ProviderUrl) -> TwilioProvider:
    """A Twilio-compatible API over plain HTTP (a local gateway)."""
    return TwilioProvider(url)


@register(SMS, "https")
def https_provider(url: ProviderUrl) -> TwilioProvider:
    """A Twilio-compatible API over HTTPS."""
    return TwilioProvider(url)
