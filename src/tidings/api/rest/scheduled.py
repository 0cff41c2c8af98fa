"""Scheduled messages: GET (list, or one with its content), PUT (move) and DELETE (cancel) /api/rest/scheduled.

`guid` is the message id (see tidings.messaging.scheduled). As the document warns, PUT and DELETE
without a guid act on every scheduled message of the account (narrowed by `type` and `sendingId`).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from sqlalchemy.exc import SQLAlchemyError

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.rest import public_ids, render, schemas
from tidings.api.rest.schemas import ScheduledBody
from tidings.core.errors import DomainError, NotFound
from tidings.core.ids import Kind
from tidings.db.models import Message
from tidings.messaging import scheduled
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
Caller = Annotated[AuthSubject, Depends(deps.rest())]


def _sending_id(raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        raise DomainError("sendingId must be an integer", nrs_code=422,
                          description="Input validation error: sendingId must be an integer")
    return public_ids.filter_pk(Kind.SENDING, text)


def _guid_from_query(request: Request) -> Any:
    values = request.query_params.getlist("guid") + request.query_params.getlist("guid[]")
    if not values:
        return None
    return values[0] if len(values) == 1 and "guid[]" not in request.query_params else values


def _filter(guid: Any, type_: Any, sending_id: Any) -> tuple[scheduled.Filter, bool]:
    guids, single = scheduled.parse_guids(guid)
    return scheduled.Filter(guids, scheduled.parse_type(type_), _sending_id(sending_id)), single


def _item(message: Message, *, content: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"guid": public_ids.text(Kind.MESSAGE, message.id),
                           "type": scheduled.TYPE_OF_CHANNEL.get(message.channel, "SMS")}
    if content:
        body: dict[str, Any] = {"to": message.recipient, "from": message.sender}
        if message.channel == "sms":
            body.update({"encoding": message.encoding or (message.extra or {}).get("encoding") or "gsm",
                         "message": message.body})
        else:
            body.update({"fromName": message.sender_name, "subject": message.subject,
                         "message": message.html or message.body})
        body.update({"campaignId": public_ids.show(Kind.CAMPAIGN, message.campaign_id),
                     "sendingId": public_ids.show(Kind.SENDING, message.sending_id)})
        out["content"] = body
    else:
        out["sending_id"] = public_ids.show(Kind.SENDING, message.sending_id)
    out.update({"created_at": render.plain(message.created_at),
                "updated_at": render.plain(message.updated_at or message.created_at),
                "scheduled_at": render.plain(message.scheduled_at)})
    return out


@router.get("/scheduled", response_model=schemas.ScheduledList)
async def list_scheduled(request: Request, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """Every scheduled message (filters guid, type, sendingId); one scalar guid shows that message's content."""
    params = request.query_params
    flt, single = _filter(_guid_from_query(request), params.get("type"), params.get("sendingId"))
    messages = await scheduled.find(session, subject, flt)
    if single:
        if not messages:
            raise NotFound("Resource not found")
        return {"result": _item(messages[0], content=True), "total": 1}
    return {"result": [_item(m, content=False) for m in messages], "total": len(messages)}


def _body_or_query(body: ScheduledBody | None, request: Request) -> ScheduledBody:
    """The JSON body; clients that put the filters in the query string are read the same way."""
    if body is not None:
        return body
    params = request.query_params
    return ScheduledBody(guid=_guid_from_query(request), type=params.get("type"), sendingId=params.get("sendingId"),
                         scheduleDate=params.get("scheduleDate"))


@router.put("/scheduled", response_model=schemas.ScheduledUpdated)
async def update_scheduled(request: Request, session: deps.Session, subject: Caller,
                           body: ScheduledBody | None = None) -> dict[str, Any]:
    """Move the matching scheduled messages (all of them when no guid is given) to scheduleDate."""
    body = _body_or_query(body, request)
    flt, _ = _filter(body.guid, body.type, body.sendingId)
    when = scheduled.parse_nrs_date(body.scheduleDate, 121)
    if when is None:
        raise DomainError("scheduleDate is required", nrs_code=121)
    try:
        updated = await scheduled.reschedule(session, subject, flt, when)
        await session.commit()
    except SQLAlchemyError:
        await session.rollback()
        raise DomainError("update failed", nrs_code=122) from None
    return {"result": True, "updated": updated}


@router.delete("/scheduled", response_model=schemas.ScheduledDeleted)
async def delete_scheduled(request: Request, session: deps.Session, subject: Caller,
                           body: ScheduledBody | None = None) -> dict[str, Any]:
    """Cancel the matching scheduled messages (all of them when no guid is given)."""
    body = _body_or_query(body, request)
    flt, _ = _filter(body.guid, body.type, body.sendingId)
    try:
        deleted = await scheduled.cancel(session, subject, flt)
        await session.commit()
    except SQLAlchemyError:
        await session.rollback()
        raise DomainError("delete failed", nrs_code=123) from None
    return {"result": True, "deleted": deleted}
