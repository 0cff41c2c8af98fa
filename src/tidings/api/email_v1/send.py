"""POST /v1/email/send: one email per recipient, with {{tag}} substitution and attachments."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.email_v1.schemas import EmailSendBody, EmailSent
from tidings.core.ids import Kind, codec
from tidings.messaging.email_api import service
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
Caller = Annotated[AuthSubject, Depends(deps.wavy("email"))]


def _text(value: str | int | None) -> str | None:
    return None if value is None else str(value)


@router.post("/send", response_model=EmailSent)
async def send(body: EmailSendBody, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """Queue the request; answers its id and each recipient's id with its correlationId."""
    sent = await service.send(session, subject, service.SendInput(
        from_email=body.fromEmail, from_name=body.fromName, reply_to=body.replyTo, subject=body.subject,
        campaign_alias=body.campaignAlias, html=body.emailHtml, text=body.emailText,
        substitution=body.substitutionData or {}, track_opens=body.trackOpens, track_clicks=body.trackClicks,
        attachments=[a.model_dump() for a in body.attachments or []],
        recipients=[service.Recipient(email=r.emailAddress, name=r.emailName, correlation_id=_text(r.correlationId),
                                      extra_info=r.extraInfo, substitution=r.substitutionData or {})
                    for r in body.recipients]))
    await session.commit()
    ids = codec()
    return {"id": ids.to_uuid(Kind.SENDING, sent.sending.id),
            "recipients": [{"correlationId": m.correlation_id, "id": ids.to_uuid(Kind.MESSAGE, m.id)}
                           for m in sent.messages]}
