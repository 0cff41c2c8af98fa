"""POST /api/rest/mailing: send an email to one or more recipients."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, WithJsonSchema

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.errors import NRS_DESCRIPTION
from tidings.api.rest.public_ids import decode, show, text
from tidings.api.rest.schemas import OTP_CONFIG, STRING, STRINGS, sent_responses, typed
from tidings.core.ids import Kind
from tidings.messaging import otp
from tidings.messaging.mailing import service
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
Caller = Annotated[AuthSubject, Depends(deps.rest())]


ATTACHMENTS: dict[str, Any] = {"type": "array", "items": {"type": "object", "properties": {
    "name": STRING, "content": {"type": "string", "description": "base64"}, "contentType": STRING}}}


# Entries are checked by the service, one recipient at a time (a bad one is refused with its code).
Strings = Annotated[list[Any] | None, WithJsonSchema(STRINGS)]


class MailingBody(BaseModel):
    """The documented parameters; unknown keys are ignored as the document's clients may send more."""

    model_config = ConfigDict(extra="ignore")

    to: Strings = None
    body: str | None = None
    templateId: int | None = None  # noqa: N815 - the document's names
    templateV2Id: int | None = None  # noqa: N815
    cc: Strings = None
    bcc: Strings = None
    fromEmail: str | None = None  # noqa: N815
    fromName: str | None = None  # noqa: N815
    replyTo: str | None = None  # noqa: N815
    subject: str | None = None
    scheduleDate: str | None = None  # noqa: N815
    campaignName: str | None = None  # noqa: N815
    tags: Strings = None
    sub: list[Any] | None = None
    attachments: Annotated[list[Any] | None, WithJsonSchema(ATTACHMENTS)] = None
    trackOpens: bool = True  # noqa: N815
    trackClicks: bool = True  # noqa: N815
    certified: bool = False
    otpConfig: Any = typed(OTP_CONFIG)  # noqa: N815 - validated by the service, so a bad value is the dialect's 422


def _template(raw: int | None) -> int | None:
    """A template's primary key; an id that is not ours is 0, which the service answers with 140."""
    return None if raw is None else decode(Kind.TEMPLATE, raw) or 0


def _when(result: service.Outcome) -> str | None:
    message = result.message
    at = message.scheduled_at if message is not None else None
    return at.strftime("%Y-%m-%d %H:%M:%S") if at is not None else None


@router.post("/mailing", status_code=202, responses=sent_responses)
async def mailing(body: MailingBody, session: deps.Session, subject: Caller) -> JSONResponse:
    """202 when every recipient was accepted, 207 when some were refused (each with its error)."""
    queued = await service.send(session, subject, service.MailingInput(
        to=body.to, body=body.body, template_id=_template(body.templateId), template_v2_id=_template(body.templateV2Id),
        cc=body.cc,
        bcc=body.bcc, from_email=body.fromEmail, from_name=body.fromName, reply_to=body.replyTo,
        subject=body.subject, schedule_date=body.scheduleDate, campaign_name=body.campaignName, tags=body.tags,
        sub=body.sub, attachments=body.attachments, track_opens=body.trackOpens, track_clicks=body.trackClicks,
        certified=body.certified, otp_config=body.otpConfig))
    await session.commit()
    result: list[dict[str, Any]] = []
    for item in queued.results:
        if item.message is None:
            code = item.error or 102
            description = item.description if isinstance(item, otp.Refused) else NRS_DESCRIPTION.get(code, "")
            result.append({"accepted": False, "to": item.to, "error": {"code": code, "description": description}})
        else:
            result.append({"accepted": True, "to": item.to, "id": text(Kind.MESSAGE, item.message.id),
                           "scheduledAt": _when(item)})
    sending = queued.sending
    return JSONResponse({"campaignId": show(Kind.CAMPAIGN, sending.campaign_id) if sending else None,
                         "sendingId": show(Kind.SENDING, sending.id) if sending else None, "result": result},
                        status_code=207 if queued.partial else 202)
