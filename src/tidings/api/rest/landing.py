"""Landing SMS: POST /api/rest/landingsms (an SMS with a per-recipient link to a landing page)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from tidings.api import deps
from tidings.api.rest import public_ids, render
from tidings.api.rest.schemas import NrsError
from tidings.core import ids
from tidings.core.ids import Kind
from tidings.messaging.landing import service
from tidings.messaging.sms.service import SmsInput
from tidings.tenancy.subject import AuthSubject

router = APIRouter()
Caller = Annotated[AuthSubject, Depends(deps.rest())]


class LandingBody(BaseModel):
    """The documented parameters; values are checked by the service so that each wrong one gets its code."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    to: list[str | int] | str | int | None = Field(default=None, description="Recipients with their prefix")
    sender: str | int | None = Field(default=None, alias="from", description="15 digits or 11 characters")
    message: str | None = Field(default=None, description="The SMS text; must hold {LAND_URL}")
    encoding: str | None = None
    parts: int | str | None = None
    splitParts: bool | str | int | None = None  # noqa: N815 - the document's names
    trans: int | str | None = None
    flash: bool | str | int | None = None
    scheduleDate: str | None = None  # noqa: N815
    expirationDate: str | None = None  # noqa: N815
    notificationUrl: str | list[str] | None = None  # noqa: N815
    campaignName: str | None = None  # noqa: N815
    tags: list[str | int] | None = None
    certified: bool | str | int | None = None
    sub: list[dict[str, str | int | float | bool | None]] | None = None
    templateBody: str | None = Field(default=None, description="The landing page in HTML")  # noqa: N815
    templateId: int | str | None = None  # noqa: N815
    templateV2Id: int | str | None = None  # noqa: N815


class RefusalDetail(BaseModel):
    code: int
    description: str


class LandingAccepted(BaseModel):
    accepted: bool
    to: str
    id: str | None = None
    parts: int | None = None
    scheduledAt: str | None = None  # noqa: N815
    expiresAt: str | None = None  # noqa: N815
    error: RefusalDetail | None = None


class LandingResult(BaseModel):
    campaignId: int | None  # noqa: N815
    sendingId: int | None  # noqa: N815
    result: list[LandingAccepted]


ERRORS: dict[int | str, dict[str, Any]] = {
    207: {"model": LandingResult, "description": "Some recipients were refused, each with its error"},
    400: {"model": NrsError, "description": "102, 104-110, 113, 119, 125 Invalid JSON, 126, 140 Template missing, "
                                             "141 Missing landing placeholder"},
    401: {"model": NrsError, "description": "103 Username or password unknown, 112 IP address not allowed"},
    402: {"model": NrsError, "description": "111 Not enough credits"},
    422: {"model": NrsError, "description": "Input validation error, the fields named"},
    429: {"model": NrsError, "description": "Too many requests"},
}


@router.post("/landingsms", status_code=202, response_model=LandingResult, responses=ERRORS)
async def send_landing(body: LandingBody, request: Request, session: deps.Session, subject: Caller) -> JSONResponse:
    """202 when every recipient was accepted, 207 when some were refused."""
    sms = SmsInput(to=body.to, sender=body.sender, message=body.message, encoding=body.encoding, parts=body.parts,
                   split_parts=body.splitParts, trans=body.trans, flash=body.flash, schedule_date=body.scheduleDate,
                   expiration_date=body.expirationDate, notification_url=body.notificationUrl,
                   campaign_name=body.campaignName, tags=body.tags, certified=body.certified, sub=body.sub)
    queued = await service.send(session, subject, deps.get_settings(request), service.LandingInput(
        sms=sms, template_body=body.templateBody, template_id=_template(body.templateId),
        template_v2_id=_template(body.templateV2Id)))
    await session.commit()
    result: list[dict[str, Any]] = []
    for item in queued.results:
        message = item.message
        if message is None:
            result.append({"accepted": False, "to": item.to, "error": render.error(item.error or 102)})
        else:
            result.append({"accepted": True, "to": item.to, "id": str(ids.to_int(Kind.MESSAGE, message.id)),
                           "parts": message.parts, "scheduledAt": render.plain(message.scheduled_at),
                           "expiresAt": render.plain(message.expires_at)})
    sending = queued.sending
    return JSONResponse({
        "campaignId": ids.to_int(Kind.CAMPAIGN, sending.campaign_id) if sending and sending.campaign_id else None,
        "sendingId": ids.to_int(Kind.SENDING, sending.id) if sending else None, "result": result},
        status_code=207 if queued.partial else 202)


def _template(raw: int | str | None) -> int | str | None:
    """A template's primary key from its public id (0, answered with 140, when it is not ours); other values
    go to the service as they are, which names the field."""
    text = raw.strip() if isinstance(raw, str) else raw
    if isinstance(text, str) and text.isascii() and text.isdigit():
        text = int(text)
    if isinstance(text, int) and not isinstance(text, bool):
        return public_ids.decode(Kind.TEMPLATE, text) or 0
    return raw
