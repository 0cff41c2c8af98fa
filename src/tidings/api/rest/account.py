"""Account information and the account's event notification settings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.rest import schemas
from tidings.api.rest.schemas import STRING, STRINGS, typed
from tidings.core.errors import NotFound
from tidings.messaging import event_webhooks
from tidings.tenancy import repository
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
Caller = Annotated[AuthSubject, Depends(deps.rest())]


@router.get("/account", response_model=schemas.Account)
async def account(session: deps.Session, subject: Caller) -> dict[str, Any]:
    """Username, email, time zone, language, balance, creation date, country and currency."""
    acc = await repository.account_by_id(session, subject.account_id)
    if acc is None:
        raise NotFound("Resource not found")
    return {
        "username": acc.username,
        "email": acc.email,
        "timezone": acc.timezone,
        "language": acc.language,
        "balance": float(acc.balance),
        "creationDate": acc.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        "country": acc.country,
        "currency": acc.currency,
    }


class NotificationsBody(BaseModel):
    """PUT body; both fields are checked by the service so that a bad URL is the documented 109."""

    model_config = ConfigDict(extra="ignore")

    url: Any = typed(STRING, "The URL that receives event notifications")
    events: Any = typed(STRINGS, "The events to notify; none means every event")


def _notifications(view: event_webhooks.View | None) -> dict[str, Any]:
    if view is None:
        return {"url": None, "events": None, "hasSecret": False, "updatedAt": None}
    return {"url": view.url, "events": view.events, "hasSecret": view.has_secret, "updatedAt": view.updated_at}


@router.get("/account/notifications", response_model=schemas.NotificationsOne)
async def show_notifications(session: deps.Session, subject: Caller) -> dict[str, Any]:
    """The event notification URL (credentials hidden), the event filter (null: every event), never the secret."""
    return {"data": _notifications(await event_webhooks.show(session, subject))}


@router.put("/account/notifications", response_model=schemas.NotificationsOne)
async def set_notifications(body: NotificationsBody, request: Request, session: deps.Session,
                            subject: Caller) -> dict[str, Any]:
    """Set the URL and filter; answers with a new signing secret, shown this once."""
    view, secret = await event_webhooks.configure(
        session, subject, body.url, body.events, allow_private=deps.get_settings(request).outbound_allow_private)
    await session.commit()
    return {"data": {**_notifications(view), "secret": secret}}


@router.delete("/account/notifications", status_code=204)
async def delete_notifications(session: deps.Session, subject: Caller) -> Response:
    """Stop event notifications (idempotent); queued ones are dropped."""
    await event_webhooks.clear(session, subject)
    await session.commit()
    return Response(status_code=204)
