"""Messaging: the message log with each message's events, and broadcast campaigns with their sendings."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tidings.api import deps
from tidings.core import clock
from tidings.core.errors import DomainError, NotFound
from tidings.core.ids import Kind, from_int, to_int
from tidings.dashboard import charts, series, web
from tidings.messaging import blacklist, reports, scheduled
from tidings.messaging.templates import service as templates

router = APIRouter(route_class=web.DashboardRoute, include_in_schema=False)
PER_PAGE = 50
CHANNELS = ("sms", "email", "voice", "whatsapp")
# Chart label -> the sending counter behind it (event kinds as the engine records them).
MESSAGING_SERIES = {"sent": "sent", "delivered": "delivered", "opened": "opened", "clicked": "clicked",
                    "failed": "undelivered"}


@router.get("/messages", response_class=HTMLResponse)
async def log(request: Request, session: deps.Session, q: str = "", channel: str = "", p: int = 1) -> Response:
    page = await web.page(request, session)
    rows, more = await reports.message_log(session, page.subject, recipient=q[:320],
                                           channel=channel if channel in CHANNELS else "",
                                           limit=PER_PAGE, offset=(max(p, 1) - 1) * PER_PAGE)
    return web.render(request, "messages.html", page, rows=rows, more=more, q=q, channel=channel,
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
async def sendings(request: Request, session: deps.Session, q: str = "", tag: str = "", p: int = 1) -> Response:
    page = await web.page(request, session)
    rows, total = await reports.campaigns_page(session, page.subject, name=q[:255] or None, page=max(p, 1),
                                               limit=PER_PAGE)
    today = clock.now().date()
    start = today - timedelta(days=29)
    daily = await reports.daily_events(session, page.subject, start=start, tag=tag or None)
    days, lines = series.dense(daily, start, today, MESSAGING_SERIES)
    title = f"Messaging events, last 30 days{f' (tag {tag})' if tag else ''}"
    return web.render(request, "sendings.html", page, rows=rows, total=total, q=q, p=max(p, 1), per_page=PER_PAGE,
                      tag=tag, tags=await reports.tags_in_use(session, page.subject), lines=lines,
                      chart=charts.line_chart(days, lines, title))


def _template_id(pk: int) -> int:
    """The id the messaging API shows for a template (templateId / templateV2Id)."""
    return to_int(Kind.TEMPLATE, pk)


@router.get("/templates", response_class=HTMLResponse)
async def templates_page(request: Request, session: deps.Session, version: int = 2, p: int = 1,
                         show: str = "") -> Response:
    page = await web.page(request, session)
    version = 1 if version == 1 else 2
    rows, total = await templates.list_page(session, page.subject, version, max(p, 1), PER_PAGE)
    shown = None
    if show:
        pk = from_int(Kind.TEMPLATE, show)
        if pk is None:
            raise NotFound("Template not found.")
        shown = await templates.get(session, page.subject, version, pk)
    return web.render(request, "templates.html", page, rows=rows, total=total, version=version, p=max(p, 1),
                      per_page=PER_PAGE, shown=shown, error=None, public=_template_id)


@router.post("/templates", response_class=HTMLResponse)
async def create_template(request: Request, session: deps.Session, name: Annotated[str, Form(max_length=255)],
                          html: Annotated[str, Form(max_length=2_000_000)], version: Annotated[int, Form()] = 2,
                          csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    version = 1 if version == 1 else 2
    try:
        created = await templates.create(session, page.subject, version, name, html)
        await session.commit()
    except DomainError as exc:
        await session.rollback()
        rows, total = await templates.list_page(session, page.subject, version, 1, PER_PAGE)
        return web.render(request, "templates.html", page, status_code=exc.status if exc.status < 500 else 400,
                          rows=rows, total=total, version=version, p=1, per_page=PER_PAGE, shown=None,
                          error=exc.message, public=_template_id)
    return RedirectResponse(f"/templates?version={version}&show={_template_id(created.id)}", status_code=303)


@router.get("/scheduled", response_class=HTMLResponse)
async def scheduled_page(request: Request, session: deps.Session) -> Response:
    page = await web.page(request, session)
    rows = await scheduled.find(session, page.subject, scheduled.Filter())
    return web.render(request, "scheduled.html", page, rows=rows[:500], total=len(rows),
                      public=lambda pk: to_int(Kind.MESSAGE, pk))


@router.post("/scheduled/{public_id}/cancel")
async def cancel_scheduled(request: Request, public_id: str, session: deps.Session,
                           csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    pk = from_int(Kind.MESSAGE, public_id)
    if pk is None or not await scheduled.cancel(session, page.subject, scheduled.Filter(guids=[pk])):
        raise NotFound("No such scheduled message.")
    await session.commit()
    return RedirectResponse("/scheduled", status_code=303)


@router.post("/scheduled/{public_id}/move")
async def move_scheduled(request: Request, public_id: str, session: deps.Session,
                         when: Annotated[str, Form(max_length=32)], csrf: Annotated[str, Form()] = "") -> Response:
    """Send a scheduled message at another time (UTC)."""
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    pk = from_int(Kind.MESSAGE, public_id)
    moved_to = scheduled.parse_nrs_date("".join(c for c in when if c.isdigit())[:12].ljust(14, "0"), 121)
    if pk is None or moved_to is None or not await scheduled.reschedule(
            session, page.subject, scheduled.Filter(guids=[pk]), moved_to):
        raise NotFound("No such scheduled message.")
    await session.commit()
    return RedirectResponse("/scheduled", status_code=303)


@router.post("/templates/{public_id}", response_class=HTMLResponse)
async def update_template(request: Request, public_id: str, session: deps.Session,
                          name: Annotated[str, Form(max_length=255)], html: Annotated[str, Form(max_length=2_000_000)],
                          version: Annotated[int, Form()] = 2, csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    version = 1 if version == 1 else 2
    template_id = from_int(Kind.TEMPLATE, public_id)
    if template_id is None:
        raise NotFound("Template not found.")
    try:
        await templates.update(session, page.subject, version, template_id, name, html)
        await session.commit()
    except DomainError as exc:
        await session.rollback()
        rows, total = await templates.list_page(session, page.subject, version, 1, PER_PAGE)
        return web.render(request, "templates.html", page, status_code=exc.status if exc.status < 500 else 400,
                          rows=rows, total=total, version=version, p=1, per_page=PER_PAGE,
                          shown=await templates.get(session, page.subject, version, template_id), error=exc.message,
                          public=_template_id)
    return RedirectResponse(f"/templates?version={version}&show={public_id}", status_code=303)


@router.get("/blacklist", response_class=HTMLResponse)
async def blacklist_page(request: Request, session: deps.Session, type: str = "sms", q: str = "",  # noqa: A002
                         p: int = 1, error: str | None = None) -> Response:
    page = await web.page(request, session)
    kind = type if type in blacklist.TYPES else "sms"
    rows, total = await blacklist.page(session, page.account.id, kind, recipient=q[:320] or None,
                                       page_number=max(p, 1), limit=PER_PAGE)
    return web.render(request, "blacklist.html", page, rows=rows, total=total, kind=kind, kinds=blacklist.TYPES,
                      q=q, p=max(p, 1), per_page=PER_PAGE, error=error)


@router.post("/blacklist", response_class=HTMLResponse)
async def blacklist_change(request: Request, session: deps.Session, recipient: Annotated[str, Form(max_length=320)],
                           type: Annotated[str, Form(max_length=16)] = "sms",  # noqa: A002
                           remove: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    kind = type if type in blacklist.TYPES else "sms"
    try:
        if remove:
            await blacklist.remove(session, page.account.id, kind, recipient)
        else:
            await blacklist.add(session, page.account.id, kind, recipient, reason="dashboard")
        await session.commit()
    except DomainError as exc:
        await session.rollback()
        return await blacklist_page(request, session, type=kind, error=exc.message)
    return RedirectResponse(f"/blacklist?type={kind}", status_code=303)
