"""POST /v1/omni/send (start a fallback flow per contact) and GET /v1/omni/{id} (where each one is)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.omni_v1.schemas import Flow, OmniSendBody, Started, render_flow
from tidings.config import Settings
from tidings.core.errors import NotFound, ValidationFailed
from tidings.core.ids import Kind, codec
from tidings.flows import service
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
Caller = Annotated[AuthSubject, Depends(deps.wavy("omni"))]
AppSettings = Annotated[Settings, Depends(deps.get_settings)]


def _text(value: str | int | None) -> str | None:
    return None if value is None else str(value)


@router.post("/send", response_model=Started)
async def send(body: OmniSendBody, session: deps.Session, subject: Caller, settings: AppSettings) -> dict[str, Any]:
    """Start the template's first step for every contact; answers the batch id and one id per contact."""
    template = body.template
    if isinstance(template, list):
        if len(template) != 1:
            raise ValidationFailed.on("template", "The template must be one object (or an array of exactly one).")
        template = template[0]
    started = await service.start(session, subject, service.FlowInput(
        campaign_alias=template.campaignAlias,
        steps=[service.StepInput(type=s.type, subject=s.subject, from_email=s.fromEmail, from_name=s.fromName,
                                 email_html=s.emailHTML, message_text=s.messageText, tts_message=s.ttsMessage,
                                 destination_field=s.destinationField, sender=s.sender,
                                 timeout_seconds=s.timeoutSeconds) for s in template.steps],
        contacts=[service.ContactInput(phone=_text(c.phone), email=c.email, email_name=c.emailName,
                                       correlation_id=_text(c.correlationId), info=c.contactInfo or {})
                  for c in body.contacts]), step_timeout=settings.omni_step_timeout)
    await session.commit()
    ids = codec()
    return {"id": ids.to_uuid(Kind.BATCH, started.flow.id),
            "messages": [{"id": ids.to_uuid(Kind.FLOW, c.id), "correlationId": c.correlation_id}
                         for c in started.contacts]}


@router.get("/{public_id}", response_model=Flow)
async def get_flow(public_id: str, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """A batch id shows every contact; a message id (one contact's flow) shows that contact alone."""
    ids = codec()
    flow_id, contact_id = ids.from_uuid(Kind.BATCH, public_id), ids.from_uuid(Kind.FLOW, public_id)
    if flow_id is None and contact_id is None:
        raise NotFound("Flow not found.")
    return render_flow(await service.get(session, subject, flow_id=flow_id, contact_id=contact_id))
