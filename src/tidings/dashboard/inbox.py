"""The unified inbox: every reply across campaigns and mailboxes, the thread, and the contact's interest."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tidings.api import deps
from tidings.core.errors import NotFound, ValidationFailed
from tidings.core.ids import Kind, decode, encode
from tidings.dashboard import web
from tidings.outreach.campaigns import service as campaigns
from tidings.outreach.contacts import service as contacts
from tidings.outreach.replies import service as replies

router = APIRouter(route_class=web.DashboardRoute, include_in_schema=False)
PER_PAGE = 25
INTERESTS = ("POSITIVE", "NEUTRAL", "NEGATIVE", "UNMARKED")


@router.get("/inbox", response_class=HTMLResponse)
async def inbox(request: Request, session: deps.Session, campaign: str = "", interest: str = "",
                p: int = 1) -> Response:
    page = await web.page(request, session)
    campaign_pk = decode(Kind.CAMPAIGN, campaign) if campaign else None
    rows, more = await replies.inbox(session, page.subject, campaign_id=campaign_pk,
                                     interest=interest if interest in INTERESTS else None,
                                     limit=PER_PAGE, offset=(max(p, 1) - 1) * PER_PAGE)
    listed = await campaigns.list_campaigns(session, page.subject)
    return web.render(request, "inbox.html", page, rows=rows, more=more, p=max(p, 1), per_page=PER_PAGE,
                      campaigns=[(encode(Kind.CAMPAIGN, c.id), c.name) for c, _ in listed], campaign=campaign,
                      interest=interest, interests=INTERESTS, thread_id=lambda pk: encode(Kind.THREAD, pk))


async def _thread_page(request: Request, session: deps.Session, page: web.Page, thread_public: str, *,
                       error: str | None = None, notice: str | None = None, status_code: int = 200) -> Response:
    found, messages, contact, mailbox = await replies.thread(session, page.subject, decode(Kind.THREAD, thread_public))
    enrollment = None
    if found.enrollment_id is not None:
        enrollment, _, _ = await contacts.show(session, page.subject, found.enrollment_id)
    return web.render(request, "thread.html", page, status_code=status_code, thread=found, messages=messages,
                      contact=contact, mailbox=mailbox, enrollment=enrollment, thread_public=thread_public,
                      interests=INTERESTS, error=error, notice=notice)


@router.get("/inbox/{thread_public}", response_class=HTMLResponse)
async def thread(request: Request, thread_public: str, session: deps.Session, sent: str = "") -> Response:
    page = await web.page(request, session)
    return await _thread_page(request, session, page, thread_public,
                              notice="Your answer is on its way." if sent else None)


@router.post("/inbox/{thread_public}/interest")
async def mark_interest(request: Request, thread_public: str, session: deps.Session,
                        interest: Annotated[str, Form(max_length=16)], csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    found, _, _, _ = await replies.thread(session, page.subject, decode(Kind.THREAD, thread_public))
    if found.enrollment_id is None:
        raise NotFound("This thread has no contact to mark.")
    await contacts.set_interest(session, page.subject, found.enrollment_id, interest)
    await session.commit()
    return RedirectResponse(f"/inbox/{thread_public}", status_code=303)


@router.post("/inbox/{thread_public}/answer", response_class=HTMLResponse)
async def answer(request: Request, thread_public: str, session: deps.Session,
                 body: Annotated[str, Form(max_length=100_000)], csrf: Annotated[str, Form()] = "") -> Response:
    """Send our answer through the mailbox that wrote the thread."""
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    try:
        await replies.answer(session, page.subject, decode(Kind.THREAD, thread_public), body)
        await session.commit()
    except ValidationFailed as exc:
        await session.rollback()
        return await _thread_page(request, session, page, thread_public, error=exc.message, status_code=422)
    return RedirectResponse(f"/inbox/{thread_public}?sent=1", status_code=303)
