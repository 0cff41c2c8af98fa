"""A landing SMS's page: GET /l/{token} (counts the open), GET and POST /l/{token}/unsubscribe."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tidings.api import deps
from tidings.api.public import pages
from tidings.api.public.views import SANDBOX
from tidings.messaging import devices
from tidings.messaging.landing import service

router = APIRouter()
_NOT_VALID = ("Page not found", "This link is not valid or the page is no longer available.")


@router.get("/l/{token}")
async def landing(token: str, request: Request, session: deps.Session) -> HTMLResponse:
    message = await service.landing_message(session, token)
    page = await service.page_html(session, message, deps.get_settings(request).public_url) if message else None
    if message is None or page is None:
        return pages.notice(*_NOT_VALID, status=404)
    await service.opened(session, message, devices.describe(request.headers.get("user-agent")))
    await session.commit()
    return HTMLResponse(page, headers=SANDBOX)


@router.get("/l/{token}/unsubscribe")
async def unsubscribe_page(token: str, session: deps.Session) -> HTMLResponse:
    """A confirmation first: link scanners and previews must not unsubscribe anyone."""
    message = await service.landing_message(session, token)
    if message is None:
        return pages.notice(*_NOT_VALID, status=404)
    return pages.page("unsubscribe.html", title="Unsubscribe", recipient=message.recipient)


@router.post("/l/{token}/unsubscribe")
async def unsubscribe(token: str, session: deps.Session) -> HTMLResponse:
    message = await service.landing_message(session, token)
    if message is None:
        return pages.notice(*_NOT_VALID, status=404)
    await service.unsubscribe(session, message)
    await session.commit()
    return pages.notice("Unsubscribed", f"{message.recipient} will receive no more messages from this sender.")
