"""Voice: POST /api/rest/voice (text to speech) and POST /api/rest/voiceAudio (an audio file)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from tidings.api import deps
from tidings.api.rest import render
from tidings.api.rest.schemas import NrsError, Refusal
from tidings.core import ids
from tidings.core.ids import Kind
from tidings.messaging.outbox import Queued
from tidings.messaging.voice import service
from tidings.messaging.voice.languages import LANGUAGES
from tidings.tenancy.subject import AuthSubject

router = APIRouter()
Caller = Annotated[AuthSubject, Depends(deps.rest())]

# Values are validated by the service so that a wrong one gets its documented code (130-134 ...), not a
# generic 422; the schemas below are what the document specifies.
_Recipients = Annotated[Any, WithJsonSchema({"type": "array", "items": {"type": "string"},
                                             "description": "International numbers, e.g. 34666666666."})]
_Text = Annotated[Any, WithJsonSchema({"type": "string", "maxLength": service.MAX_TEXT})]
_Language = Annotated[Any, WithJsonSchema({"type": "string", "enum": list(LANGUAGES),
                                           "description": "cmn_CN, arb and hi_IN: female voice only."})]
_Gender = Annotated[Any, WithJsonSchema({"type": "string", "enum": ["F", "M"]})]
_Callers = Annotated[Any, WithJsonSchema({"type": "object", "additionalProperties": {"type": "string"},
                                          "description": "Caller by country, e.g. {\"ES\": \"34911222333\"}; "
                                                         "each must be registered for the account."})]
_Date = Annotated[Any, WithJsonSchema({"type": "string", "pattern": "^[0-9]{14}$",
                                       "description": "YYYYmmddHHiiss, UTC."})]
_Retries = Annotated[Any, WithJsonSchema({"type": "integer", "minimum": 0, "maximum": service.MAX_RETRIES})]
_String = Annotated[Any, WithJsonSchema({"type": "string"})]
_Tags = Annotated[Any, WithJsonSchema({"type": "array", "items": {"type": "string"}})]
_Subs = Annotated[Any, WithJsonSchema({"type": "array", "items": {"type": "object",
                                                                  "additionalProperties": {"type": "string"}}})]
_Flag = Annotated[Any, WithJsonSchema({"type": "boolean", "default": False})]
_Url = Annotated[Any, WithJsonSchema({"type": "string", "format": "uri"})]


class _Common(BaseModel):
    model_config = ConfigDict(extra="ignore")

    to: _Recipients = None
    callers: _Callers = None
    scheduleDate: _Date = None  # noqa: N815 - the document's names
    retries: _Retries = None
    expirationDate: _Date = None  # noqa: N815
    campaignName: _String = None  # noqa: N815
    tags: _Tags = None
    amd: _Flag = None
    notificationUrl: _Url = None  # noqa: N815


class VoiceBody(_Common):
    """POST /api/rest/voice."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"required": ["to", "message", "language", "gender"]})

    message: _Text = None
    language: _Language = None
    gender: _Gender = None
    sub: _Subs = None


class VoiceAudioBody(_Common):
    """POST /api/rest/voiceAudio."""

    model_config = ConfigDict(extra="ignore", json_schema_extra={"required": ["to", "audioUrl"]})

    audioUrl: _Url = None  # noqa: N815


class VoiceRecipientResult(BaseModel):
    """An accepted recipient has id, scheduledAt and expiresAt; a refused one has error."""

    accepted: bool
    to: str
    id: str | None = Field(default=None, description="The message id (accepted recipients).")
    scheduledAt: str | None = None  # noqa: N815
    expiresAt: str | None = None  # noqa: N815
    error: Refusal | None = Field(default=None, description="Why the recipient was refused.")


class VoiceResponse(BaseModel):
    campaignId: int | None = Field(description="null without campaignName.")  # noqa: N815
    sendingId: int  # noqa: N815
    result: list[VoiceRecipientResult]


ERRORS: dict[int | str, dict[str, Any]] = {
    207: {"model": VoiceResponse, "description": "Some recipients were refused (each with its error)."},
    400: {"model": NrsError, "description": "102, 104, 105, 108, 109, 119, 125 (malformed JSON), 126, 130-134."},
    401: {"model": NrsError, "description": "103 unknown credentials, 112 IP address not allowed."},
    402: {"model": NrsError, "description": "111 not enough credits."},
    422: {"model": NrsError, "description": "Input validation error (retries, tags, sub, amd ...)."},
}


def _answer(queued: Queued) -> JSONResponse:
    result: list[dict[str, Any]] = []
    for item in queued.results:
        message = item.message
        if message is None:
            result.append({"accepted": False, "to": item.to, "error": render.error(item.error or 102)})
        else:
            result.append({"accepted": True, "to": item.to, "id": str(ids.to_int(Kind.MESSAGE, message.id)),
                           "scheduledAt": render.plain(message.scheduled_at),
                           "expiresAt": render.plain(message.expires_at)})
    sending = queued.sending
    assert sending is not None
    return JSONResponse({"campaignId": ids.to_int(Kind.CAMPAIGN, sending.campaign_id) if sending.campaign_id else None,
                         "sendingId": ids.to_int(Kind.SENDING, sending.id), "result": result},
                        status_code=207 if queued.partial else 202)


@router.post("/voice", status_code=202, response_model=VoiceResponse, responses=ERRORS)
async def send_voice(body: VoiceBody, request: Request, session: deps.Session, subject: Caller) -> JSONResponse:
    """Call each recipient and speak the message; 202 when all were accepted, 207 when some were refused."""
    queued = await service.send_tts(session, subject, deps.get_settings(request), service.VoiceInput(
        to=body.to, message=body.message, language=body.language, gender=body.gender, callers=body.callers,
        schedule_date=body.scheduleDate, retries=body.retries, expiration_date=body.expirationDate,
        campaign_name=body.campaignName, tags=body.tags, sub=body.sub, amd=body.amd,
        notification_url=body.notificationUrl))
    await session.commit()
    return _answer(queued)


@router.post("/voiceAudio", status_code=202, response_model=VoiceResponse, responses=ERRORS)
async def send_voice_audio(body: VoiceAudioBody, request: Request, session: deps.Session,
                           subject: Caller) -> JSONResponse:
    """Call each recipient and play the audio file (fetched once and kept); 202, or 207 when some were refused."""
    queued = await service.send_audio(session, subject, deps.get_settings(request), service.VoiceInput(
        to=body.to, audio_url=body.audioUrl, callers=body.callers, schedule_date=body.scheduleDate,
        retries=body.retries, expiration_date=body.expirationDate, campaign_name=body.campaignName, tags=body.tags,
        amd=body.amd, notification_url=body.notificationUrl))
    await session.commit()
    return _answer(queued)
