"""Twilio's Calls API: POST {base}/2010-04-01/Accounts/{SID}/Calls.json, one call per message.

`twilio://ACCOUNT_SID:AUTH_TOKEN@api.twilio.com?from=%2B34911222333` (HTTPS; `?tls=false` for a
local test server). Form fields To, From (the message's caller, else `from`), Twiml (`<Say>` in the
requested language with a voice of the requested gender, or `<Play>` of an audio URL),
MachineDetection=Enable when the request asked for AMD, and StatusCallback with StatusCallbackEvent
initiated ringing answered completed (the engine sets the callback URL from TIDINGS_PUBLIC_URL).
`?tts=espeak` plays Tidings' own espeak-ng rendering instead of Twilio's `<Say>`.
A 4xx answer is a permanent refusal except 401, 403 and 429; 5xx and network errors are transient.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape, quoteattr

import httpx

from tidings.channels.base import VOICE, OutboundMessage, ProviderError, ProviderUrl, SendResult, parse_duration
from tidings.channels.registry import register
from tidings.channels.twilio_api import e164, result_of

API_VERSION = "2010-04-01"
EVENTS = ("initiated", "ringing", "answered", "completed")
# Twilio <Say> language codes, and an Amazon Polly voice of each gender (None: the language has no male voice).
SAY_VOICES: dict[str, tuple[str, str, str | None]] = {
    "en_GB": ("en-GB", "Polly.Amy", "Polly.Brian"),
    "en_US": ("en-US", "Polly.Joanna", "Polly.Matthew"),
    "es_ES": ("es-ES", "Polly.Lucia", "Polly.Enrique"),
    "es_US": ("es-US", "Polly.Lupe", "Polly.Miguel"),
    "pt_PT": ("pt-PT", "Polly.Ines", "Polly.Cristiano"),
    "pt_BR": ("pt-BR", "Polly.Camila", "Polly.Ricardo"),
    "cmn_CN": ("cmn-CN", "Polly.Zhiyu", None),
    "arb": ("arb", "Polly.Zeina", None),
    "de_DE": ("de-DE", "Polly.Marlene", "Polly.Hans"),
    "fr_FR": ("fr-FR", "Polly.Celine", "Polly.Mathieu"),
    "it_IT": ("it-IT", "Polly.Carla", "Polly.Giorgio"),
    "hi_IN": ("hi-IN", "Polly.Aditi", None),
}


def twiml(options: dict[str, Any], text: str, *, own_tts: bool = False) -> str:
    """The call's TwiML: play the audio URL, or say the text in its language and gender."""
    audio = options.get("audio_url") or (options.get("tts_url") if own_tts else None)
    if audio:
        return f"<Response><Play>{escape(str(audio))}</Play></Response>"
    language, female, male = SAY_VOICES.get(str(options.get("language") or ""), SAY_VOICES["en_US"])
    voice = male if options.get("gender") == "M" and male else female
    return f"<Response><Say language={quoteattr(language)} voice={quoteattr(voice)}>{escape(text)}</Say></Response>"


class TwilioVoiceProvider:
    """One HTTP client per provider; the auth token also verifies the status callbacks' signatures."""

    channel = VOICE
    url_scheme = "twilio"

    def __init__(self, url: ProviderUrl, transport: httpx.AsyncBaseTransport | None = None) -> None:
        if not url.username or not url.password:
            raise ProviderError("a twilio:// voice URL needs ACCOUNT_SID:AUTH_TOKEN@")
        scheme = "https" if url.flag("tls", True) else "http"
        port = f":{url.port}" if url.port else ""
        self.base = f"{scheme}://{url.host or 'api.twilio.com'}{port}{url.path.rstrip('/')}"
        self.sid, self.auth_token = url.username, url.password
        self.default_caller = (url.query.get("from") or "").strip()
        self.status_callback: str | None = url.query.get("callback") or None
        self.own_tts = url.query.get("tts", "").lower() == "espeak"
        try:
            timeout = parse_duration(url.query.get("timeout") or "15s")
        except ValueError as exc:
            raise ProviderError("timeout must be a duration such as 15s") from exc
        self._client = httpx.AsyncClient(timeout=timeout, transport=transport, follow_redirects=False)

    @property
    def endpoint(self) -> str:
        return f"{self.base}/{API_VERSION}/Accounts/{self.sid}/Calls.json"

    async def send(self, message: OutboundMessage) -> SendResult:
        caller = message.sender or self.default_caller
        if not caller:
            return SendResult(False, permanent=True, code="caller", detail="no caller: set ?from= on TIDINGS_VOICE_URL")
        options = message.options
        form: dict[str, str | list[str]] = {"To": e164(message.recipient), "From": e164(caller),
                                            "Twiml": twiml(options, message.body, own_tts=self.own_tts)}
        callback = self.status_callback or options.get("status_callback")
        if callback:
            form.update(StatusCallback=str(callback), StatusCallbackMethod="POST", StatusCallbackEvent=list(EVENTS))
        if options.get("amd"):
            form["MachineDetection"] = "Enable"
        return await self._post(self.endpoint, form, created=True)

    async def hangup(self, call_sid: str) -> SendResult:
        """End a call in progress (an answering machine picked up and the request asked for AMD)."""
        url = f"{self.base}/{API_VERSION}/Accounts/{self.sid}/Calls/{call_sid}.json"
        return await self._post(url, {"Status": "completed"}, created=False)

    async def _post(self, url: str, form: dict[str, str | list[str]], *, created: bool) -> SendResult:
        try:
            response = await self._client.post(url, data=form, auth=(self.sid, self.auth_token))
        except httpx.HTTPError as exc:
            return SendResult(False, permanent=False, code="connection", detail=type(exc).__name__)
        return result_of(response, (200, 201) if created else (200,))

    async def close(self) -> None:
        await self._client.aclose()



@register(VOICE, "twilio")
def twilio_voice_provider(url: ProviderUrl) -> TwilioVoiceProvider:
    """The twilio:// factory of the voice channel."""
    return TwilioVoiceProvider(url)
