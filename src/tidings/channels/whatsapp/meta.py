"""The WhatsApp Cloud API: `meta://:ACCESS_TOKEN@graph.facebook.com?app_secret=SECRET&verify_token=TOKEN`.

Sending is `POST /{version}/{phone-number-id}/messages` with the Bearer token and the Cloud API's JSON
(`messaging_product`, `to`, `type`, `template` or `text`); the phone-number id and the message object come
in the outbound message's options (`phone_number_id`, `wa`). Templates are read with
`GET /{version}/{waba-id}/message_templates`, page by page with the `after` cursor. The webhook's
`X-Hub-Signature-256` is an HMAC-SHA256 of the raw body under the app secret. Options: `version`
(default v21.0), `tls=false` for a local server, `timeout` (15s). The token is never logged or returned.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import httpx

from tidings.channels.base import WHATSAPP, OutboundMessage, ProviderError, ProviderUrl, SendResult, parse_duration
from tidings.channels.registry import register

DEFAULT_VERSION = "v21.0"
MAX_TEMPLATE_PAGES = 50
# Cloud API error codes that are worth trying again: throttling and temporary unavailability.
TRANSIENT_CODES = {"1", "2", "4", "80007", "130429", "131000", "131016", "131048", "131056", "133004"}


class MetaProvider:
    """One HTTP client per provider."""

    channel = WHATSAPP
    url_scheme = "meta"

    def __init__(self, url: ProviderUrl, transport: httpx.AsyncBaseTransport | None = None) -> None:
        token = url.password or url.username
        if not token:
            raise ProviderError("a meta:// WhatsApp URL needs the access token: meta://:ACCESS_TOKEN@graph.facebook.com")
        scheme = "https" if url.flag("tls", True) else "http"
        host = url.host or "graph.facebook.com"
        port = f":{url.port}" if url.port else ""
        self.base = f"{scheme}://{host}{port}{url.path.rstrip('/')}"
        self.version = url.query.get("version") or DEFAULT_VERSION
        self.app_secret = url.query.get("app_secret") or ""
        self.verify_token = url.query.get("verify_token") or ""
        self._token = token
        try:
            timeout = parse_duration(url.query.get("timeout") or "15s")
        except ValueError as exc:
            raise ProviderError("timeout must be a duration such as 15s") from exc
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False,
                                         headers={"Authorization": f"Bearer {token}"})

    def messages_url(self, phone_number_id: str) -> str:
        return f"{self.base}/{self.version}/{phone_number_id}/messages"

    def templates_url(self, waba_id: str) -> str:
        return f"{self.base}/{self.version}/{waba_id}/message_templates"

    async def send(self, message: OutboundMessage) -> SendResult:
        phone_number_id = str(message.options.get("phone_number_id") or "")
        if not phone_number_id.isdigit():
            return SendResult(False, permanent=True, code="sender", detail="the sender has no phone-number id")
        content = message.options.get("wa") or {"type": "text", "text": {"body": message.body}}
        body = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": message.recipient, **content}
        try:
            response = await self._client.post(self.messages_url(phone_number_id), json=body)
        except httpx.HTTPError as exc:
            return SendResult(False, permanent=False, code="connection", detail=type(exc).__name__)
        data = _json(response)
        sent = data.get("messages")
        if response.status_code == 200 and isinstance(sent, list) and sent and isinstance(sent[0], dict) \
                and sent[0].get("id"):
            return SendResult(True, str(sent[0]["id"]))
        error = _dict(data.get("error"))
        code = str(error.get("code") or response.status_code)
        detail = str(error.get("message") or f"HTTP {response.status_code}")[:500]
        permanent = (400 <= response.status_code < 500 and response.status_code not in (401, 403, 429)
                     and code not in TRANSIENT_CODES)
        return SendResult(False, permanent=permanent, code=code, detail=detail)

    async def list_templates(self, waba_id: str) -> list[dict[str, Any]]:
        """Every template of a WhatsApp Business Account, as the API describes them; ProviderError on failure."""
        out: list[dict[str, Any]] = []
        params: dict[str, str] = {"limit": "100"}
        for _ in range(MAX_TEMPLATE_PAGES):
            try:
                response = await self._client.get(self.templates_url(waba_id), params=params)
            except httpx.HTTPError as exc:
                raise ProviderError(f"the template API cannot be reached ({type(exc).__name__})") from None
            data = _json(response)
            if response.status_code != 200:
                error = _dict(data.get("error"))
                raise ProviderError(f"the template API answered {response.status_code}: "
                                    f"{str(error.get('message') or '')[:200]}")
            out.extend(t for t in data.get("data") or [] if isinstance(t, dict))
            paging = _dict(data.get("paging"))
            cursors = _dict(paging.get("cursors"))
            after = cursors.get("after")
            if not paging.get("next") or not after:
                break
            params = {"limit": "100", "after": str(after)}
        return out

    def signature_valid(self, body: bytes, header: str | None) -> bool:
        """Whether `X-Hub-Signature-256` is `sha256=` + the HMAC of the body under the app secret."""
        if not self.app_secret or not header or not header.startswith("sha256="):
            return False
        expected = hmac.new(self.app_secret.encode(), body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(header[7:].strip().lower().encode(), expected.encode())

    def verify_token_valid(self, token: str | None) -> bool:
        return bool(self.verify_token) and token is not None and hmac.compare_digest(
            token.encode(), self.verify_token.encode())

    async def close(self) -> None:
        await self._client.aclose()


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


@register(WHATSAPP, "meta")
def meta_provider(url: ProviderUrl) -> MetaProvider:
    """The meta:// factory."""
    return MetaProvider(url)
