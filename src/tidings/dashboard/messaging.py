"""Messaging: the message log with each message's events, and broadcast campaigns with their sendings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tidings.api import deps
from tidings.core.errors import NotFound
from tidings.core.ids import Kind, from_int, to_int
from tidings.dashboard import web
from tidings.messaging import reports

router = APIRouter(route_class=web.DashboardRoute, include_in_schema=False)
PER_PAGE = 50
CHANNELS = ("sms", "email", "voice", "whatsapp")


@router.get("/messages", response_class=HTMLResponse)
async def log(request: Request, session: deps.Session, q: str = "", channel: str = "", p: int = 1) -> Response:
    page = await web.page(request, session)
    total, rows = await reports.message_log(session, page.subject, recipient=q[:320],
                                            channel=channel if channel in CHANNELS else "",
                                            limit=PER_PAGE, offset=(max(p, 1) - 1) * PER_PAGE)
    return web.render(request, "messages.html", page, rows=rows, total=total, q=q, channel=channel,
                      channels=CHANNELS, p=max(p, 1), per_page=PER_PAGE, public=lambda pk: to_int(Kind.MESSAGE, pk))


@router.get("/messages/{public_id}", response_class=HTMLResponse)
async def show(request: Request, public_id: str, session: deps.Session) -> Response:
    page = await web.page(request, session)
    pk = from_int(Kind.MESSAGE, public_id)
    if pk is None:
        raise NotFound("Message not found.")
    message, events = await reports.message_events(session, page.subject, pk)
    return web.render(request, "message.html", page, message=message, events=events)


@router.get("/sendings", response_class=HTMLResponse)
async def sendings(request: Request, session: deps.Session, q: str = "", p: int = 1) -> Response:
    page = await web.page(request, session)
    rows, total = await reports.campaigns_page(session, page.subject, name=q[:255] or None, page=max(p, 1),
                                               limit=PER_PAGE)
    return web.render(request, "sendings.html", page, rows=rows, total=total, q=q, p=max(p, 1), per_page=PER_PAGE)
