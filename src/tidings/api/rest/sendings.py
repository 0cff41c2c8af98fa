"""Sendings: GET /api/rest/sendings/{id} and its CSV reports (/reports/events, /reports/keys)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from tidings.api import deps
from tidings.api.contract import ExactRoute, csv_response
from tidings.api.rest import public_ids, render, schemas
from tidings.core import csvsafe
from tidings.core.errors import NotFound
from tidings.core.ids import Kind
from tidings.core.phones import phone_country
from tidings.db.models import Campaign
from tidings.messaging import reports
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
Caller = Annotated[AuthSubject, Depends(deps.rest())]
EVENT_COLUMNS = ["campaignName", "campaignId", "sendingId", "contactId", "event", "phone", "email", "landline",
                 "countryIso", "browser", "os", "url", "createdAt"]
VOICE_COLUMNS = ["campaignName", "campaignId", "sendingId", "contactId", "event", "phone", "email", "landline",
                 "countryIso", "callDurationSeconds", "createdAt"]
KEY_COLUMNS = ["phonenumber", "key", "message"]


def _csv(rows: list[list[Any]], filename: str) -> Response:
    return Response(csvsafe.render(rows, lineterminator="\n"), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@router.get("/sendings/{sending_id}", response_model=schemas.SendingOne)
async def show_sending(sending_id: str, request: Request, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """One sending as the campaigns list shows it, with its event counters."""
    sending = await reports.get_sending(session, subject, public_ids.parse(Kind.SENDING, sending_id))
    stats = await reports.sending_stats(session, [sending])
    campaign = await session.get(Campaign, sending.campaign_id) if sending.campaign_id else None
    return {"data": render.sending(request, sending, stats[sending.id], campaign.name if campaign else None,
                                   list(campaign.tags or []) if campaign else [])}


@router.get("/sendings/{sending_id}/reports/events", response_class=Response,
            responses={**csv_response("Every event of the sending"), **schemas.ERRORS_AS_JSON})
async def events_report(
    sending_id: str, session: deps.Session, subject: Caller, beforeDate: str | None = None,  # noqa: N803
    afterDate: str | None = None, showCustomFields: str | None = None,  # noqa: N803
) -> Response:
    """Every event of the sending as text/csv (the document's columns), optionally with the custom fields used."""
    sending = await reports.get_sending(session, subject, public_ids.parse(Kind.SENDING, sending_id))
    rows = await reports.sending_events(session, sending, before=render.parse_iso(beforeDate, "beforeDate"),
                                        after=render.parse_iso(afterDate, "afterDate"))
    names = await reports.campaign_names(session, [sending.campaign_id])
    voice = sending.channel == "voice"
    header = list(VOICE_COLUMNS if voice else EVENT_COLUMNS)
    custom: list[str] = []
    if showCustomFields == "1":
        custom = list(dict.fromkeys(k for r in rows for k in ((r.message.extra or {}).get("sub") or {})))
        header[-1:-1] = custom
    table: list[list[Any]] = [header]
    for row in rows:
        message, event = row.message, row.event
        is_email = message.channel == "email"
        country = "" if is_email else (phone_country(message.recipient) or "")
        line: list[Any] = [names.get(sending.campaign_id or 0, ""),
                           public_ids.show(Kind.CAMPAIGN, sending.campaign_id) or 0,
                           public_ids.show(Kind.SENDING, sending.id), public_ids.text(Kind.CONTACT, message.contact_id),
                           reports.event_name(event.kind),
                           "" if is_email else message.recipient, message.recipient if is_email else "", "", country]
        details = event.details or {}
        # browser and os: a landing page's or form's visit (tidings.messaging.devices); other events have none.
        line += [details.get("duration", "")] if voice else [
            details.get("browser", ""), details.get("os", ""), reports.details_url(event.details)]
        sub = (message.extra or {}).get("sub") or {}
        line += [sub.get(k, "") for k in custom]
        line.append(render.iso(event.occurred_at))
        table.append(line)
    return _csv(table, f"sending-{public_ids.show(Kind.SENDING, sending.id)}-events.csv")


@router.get("/sendings/{sending_id}/reports/keys", response_class=Response,
            responses={**csv_response("Keystrokes of a voice-interactive sending"), **schemas.ERRORS_AS_JSON})
async def keys_report(
    sending_id: str, session: deps.Session, subject: Caller, beforeDate: str | None = None,  # noqa: N803
    afterDate: str | None = None,  # noqa: N803
) -> Response:
    """Keystrokes of a voice-interactive sending as text/csv; Tidings has no such channel, so 404 for others."""
    sending = await reports.get_sending(session, subject, public_ids.parse(Kind.SENDING, sending_id))
    render.parse_iso(beforeDate, "beforeDate")
    render.parse_iso(afterDate, "afterDate")
    if sending.channel != "voice-interactive":
        raise NotFound("Resource not found")
    return _csv([KEY_COLUMNS], f"sending-{public_ids.show(Kind.SENDING, sending.id)}-keys.csv")
