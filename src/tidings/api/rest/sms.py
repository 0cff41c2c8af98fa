"""SMS: POST /api/rest/sms (send) and GET /api/rest/sms/{id} (one or several messages, comma-separated)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.rest import render, schemas
from tidings.api.rest.public_ids import decode, show, text
from tidings.api.rest.schemas import SmsBody, sent_responses
from tidings.core.errors import NotFound
from tidings.core.ids import Kind
from tidings.db.models import Contact, Event, Message
from tidings.messaging import otp, reports, tracking
from tidings.messaging.preparers import fill_unsubscribe
from tidings.messaging.sms import service
from tidings.messaging.sms.service import contact_fields
from tidings.tenancy.scoping import scoped
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
Caller = Annotated[AuthSubject, Depends(deps.rest())]
MAX_IDS = 100


@router.post("/sms", status_code=202, responses=sent_responses)
async def send_sms(body: SmsBody, request: Request, session: deps.Session, subject: Caller) -> JSONResponse:
    """202 when every recipient was accepted, 207 when some were refused (each with its error)."""
    queued = await service.send(session, subject, deps.get_settings(request), service.SmsInput(
        to=body.to, sender=body.sender, message=body.message, encoding=body.encoding, parts=body.parts,
        split_parts=body.splitParts, trans=body.trans, flash=body.flash, schedule_date=body.scheduleDate,
        expiration_date=body.expirationDate, notification_url=body.notificationUrl,
        campaign_name=body.campaignName, tags=body.tags, certified=body.certified, sub=body.sub,
        available_times=body.availableTimes, otp_config=body.otpConfig), read_only=True)
    await session.commit()
    result: list[dict[str, Any]] = []
    for item in queued.results:
        message = item.message
        if message is None:
            detail = item.description if isinstance(item, otp.Refused) else None
            result.append({"accepted": False, "to": item.to, "error": render.error(item.error or 102, detail)})
        else:
            result.append({"accepted": True, "to": item.to, "id": text(Kind.MESSAGE, message.id),
                           "parts": message.parts,
                           "scheduledAt": render.plain(message.scheduled_at),
                           "expiresAt": render.plain(message.expires_at)})
    sending = queued.sending
    return render.FastJSONResponse({"campaignId": show(Kind.CAMPAIGN, sending.campaign_id) if sending else None,
                                    "sendingId": show(Kind.SENDING, sending.id) if sending else None,
                                    "result": result}, status_code=207 if queued.partial else 202)


def _as_sent(message: Message, request: Request) -> str | None:
    """The text as it is sent: {UNSUB_URL} is the message's own link (filled in at send time)."""
    body = message.body
    if body and "{UNSUB_URL}" in body:
        body = fill_unsubscribe(body, tracking.unsubscribe_url(deps.get_settings(request).public_url, message.id))
    return body


def _ids(raw: str) -> list[int]:
    """The primary keys of the comma-separated ids that are ours; others are simply not found."""
    pks = [pk for part in raw.split(",")[:MAX_IDS] if (pk := decode(Kind.MESSAGE, part)) is not None]
    return list(dict.fromkeys(pks))


@router.get("/sms/{message_ids}", response_model=schemas.SmsMessageList)
async def show_sms(message_ids: str, request: Request, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """The messages with these ids (comma-separated), with their events and custom fields; 404 when none."""
    ids = _ids(message_ids)
    if not ids:
        raise NotFound("Resource not found")
    stmt = scoped(select(Message), Message, subject).where(Message.id.in_(ids), Message.channel == "sms",
                                                           Message.direction == "out")
    messages = {m.id: m for m in (await session.execute(stmt)).scalars()}
    if not messages:
        raise NotFound("Resource not found")
    found = [messages[i] for i in ids if i in messages]
    events: dict[int, list[Event]] = {m.id: [] for m in found}
    rows = await session.execute(select(Event).where(Event.message_id.in_(list(events)))
                                 .order_by(Event.occurred_at, Event.id))
    for event in rows.scalars():
        events[event.message_id].append(event)
    contact_ids = {m.contact_id for m in found if m.contact_id}
    contacts: dict[int, Contact] = {}
    if contact_ids:
        cstmt = scoped(select(Contact), Contact, subject).where(Contact.id.in_(contact_ids))
        contacts = {c.id: c for c in (await session.execute(cstmt)).scalars()}
    data = []
    for message in found:
        fields: dict[str, Any] = {}
        if message.contact_id in contacts:
            fields.update(contact_fields(contacts[message.contact_id]))
        fields.update((message.extra or {}).get("sub") or {})
        data.append({
            "id": text(Kind.MESSAGE, message.id),
            "from": message.sender,
            "to": message.recipient,
            "message": _as_sent(message, request),
            "campaignId": show(Kind.CAMPAIGN, message.campaign_id),
            "sendingId": show(Kind.SENDING, message.sending_id),
            "isDelivered": message.delivered_at is not None,
            "isClicked": message.clicked_at is not None,
            "events": [{"type": name, "date": render.iso(e.occurred_at),
                        "isMobile": (e.details or {}).get("device") in ("mobile", "tablet"),
                        "browser": (e.details or {}).get("browser", ""), "os": (e.details or {}).get("os", "")}
                       for e in events[message.id] if (name := reports.event_name(e.kind))],
            "customFields": fields,
            "links": {"self": f"{render.base(request)}/sms/{text(Kind.MESSAGE, message.id)}"},
        })
    return {"data": data}
