"""Audio of voice calls at unguessable URLs: kept /voiceAudio files, and a message's text spoken by espeak-ng.

The provider fetches these to play them (`<Play>`), and operators and the dashboard play them as a preview.
"""

from __future__ import annotations

from collections import OrderedDict

import structlog
from fastapi import APIRouter
from fastapi.responses import Response

from tidings.api import deps
from tidings.channels.base import VOICE
from tidings.db.models import Message
from tidings.messaging import tracking
from tidings.messaging.voice import audio, repository
from tidings.messaging.voice.languages import DEFAULT_GENDER, DEFAULT_LANGUAGE

router = APIRouter()
log = structlog.get_logger("tidings.audio")
_HEADERS = {"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"}
_NOT_FOUND = Response("Not Found", status_code=404, media_type="text/plain")
# Recently spoken texts: a provider and a preview fetch the same WAV; espeak-ng takes a moment per text.
_SPOKEN: OrderedDict[tuple[str, str, str], bytes] = OrderedDict()
_SPOKEN_MAX = 32


@router.get("/audio/tts/{token}.wav")
async def spoken(token: str, session: deps.Session) -> Response:
    """A voice message's text as a WAV, rendered on first use."""
    message_id = tracking.message_id(token)
    message = await session.get(Message, message_id) if message_id is not None else None
    if message is None or message.channel != VOICE or not message.body:
        return _NOT_FOUND
    extra = message.extra or {}
    key = (message.body, str(extra.get("language") or DEFAULT_LANGUAGE), str(extra.get("gender") or DEFAULT_GENDER))
    wav = _SPOKEN.get(key)
    if wav is None:
        try:
            wav = await audio.speak(*key)
        except RuntimeError as exc:
            log.warning("text to speech failed", message_id=message.id, error=str(exc))
            return Response("Text to speech is unavailable", status_code=503, media_type="text/plain")
        _SPOKEN[key] = wav
        while len(_SPOKEN) > _SPOKEN_MAX:
            _SPOKEN.popitem(last=False)
    _SPOKEN.move_to_end(key)
    return Response(wav, media_type="audio/wav", headers=_HEADERS)


@router.get("/audio/{token}.{ext}")
async def kept(token: str, ext: str, session: deps.Session) -> Response:
    """A /voiceAudio file as it was fetched."""
    row = await repository.audio_by_token(session, token) if len(token) <= 64 else None
    if row is None or audio.EXTENSIONS.get(row.content_type) != ext:
        return _NOT_FOUND
    return Response(row.data, media_type=row.content_type, headers=_HEADERS)
