"""Mailboxes: add one with its SMTP and IMAP settings, test the connection for real, see status and errors."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tidings.api import deps
from tidings.channels.email.smtp import SmtpProvider
from tidings.core.errors import DomainError, NotFound
from tidings.core.ids import Kind, decode, encode
from tidings.dashboard import web
from tidings.engine import imap_poller
from tidings.outreach.engine.sending import smtp_settings
from tidings.outreach.mailboxes import service as mailboxes
from tidings.tenancy import clients

router = APIRouter(route_class=web.DashboardRoute, include_in_schema=False)
SECURITY = ("starttls", "tls", "none")


async def _page(request: Request, session: deps.Session, page: web.Page, *, error: str | None = None,
                checked: dict[int, list[tuple[str, str | None]]] | None = None, status_code: int = 200,
                form: dict[str, str] | None = None) -> Response:
    boxes = await mailboxes.list_mailboxes(session, page.subject)
    owned = await clients.list_clients(session, page.subject)
    return web.render(request, "mailboxes.html", page, status_code=status_code, boxes=boxes, clients=owned,
                      client_names={c.id: c.name for c in owned}, error=error, checked=checked or {},
                      security=SECURITY, form=form or {}, public=lambda pk: encode(Kind.MAILBOX, pk))


@router.get("/mailboxes", response_class=HTMLResponse)
async def list_page(request: Request, session: deps.Session) -> Response:
    page = await web.page(request, session)
    return await _page(request, session, page)


@router.post("/mailboxes", response_class=HTMLResponse)
async def create(request: Request, session: deps.Session) -> Response:
    page = await web.page(request, session)
    form = {k: str(v) for k, v in (await request.form()).items()}
    web.check_csrf(request, form.get("csrf"))

    def number(name: str, default: int) -> int:
        raw = form.get(name, "").strip()
        if not raw:
            return default
        if not raw.isdigit() or int(raw) > 10**6:
            raise DomainError(f"The {name.replace('_', ' ')} must be a whole number.")
        return int(raw)

    try:
        data = mailboxes.MailboxIn(
            email=form.get("email", ""), name=form.get("name", ""), client_id=number("client_id", 0) or None,
            smtp_host=form.get("smtp_host", ""), smtp_port=number("smtp_port", 587),
            smtp_username=form.get("smtp_username", ""), smtp_password=form.get("smtp_password", ""),
            smtp_security=form.get("smtp_security", "starttls"), imap_host=form.get("imap_host") or None,
            imap_port=number("imap_port", 0) or None, imap_username=form.get("imap_username") or None,
            imap_password=form.get("imap_password") or None, imap_security=form.get("imap_security") or None,
            daily_limit=number("daily_limit", 50), min_interval_seconds=number("min_interval_seconds", 60))
        await mailboxes.create(session, page.subject, data,
                               allow_private=deps.get_settings(request).outbound_allow_private)
        await session.commit()
    except DomainError as exc:
        await session.rollback()
        kept = {k: v for k, v in form.items() if "password" not in k and k != "csrf"}
        return await _page(request, session, page, error=exc.message, status_code=exc.status, form=kept)
    return RedirectResponse("/mailboxes", status_code=303)


@router.post("/mailboxes/{public_id}/test", response_class=HTMLResponse)
async def test_connection(request: Request, public_id: str, session: deps.Session,
                          csrf: Annotated[str, Form()] = "") -> Response:
    """Connects to the mailbox's SMTP (and IMAP) servers now and says what happened."""
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    box = await mailboxes.get(session, page.subject, decode(Kind.MAILBOX, public_id))
    allow_private = deps.get_settings(request).outbound_allow_private
    results: list[tuple[str, str | None]] = [("SMTP", await SmtpProvider(smtp_settings(box, allow_private)).check())]
    if box.imap_host:
        results.append(("IMAP", await imap_poller.check(box, allow_private)))
    return await _page(request, session, page, checked={box.id: results})


@router.post("/mailboxes/{public_id}/delete")
async def delete(request: Request, public_id: str, session: deps.Session,
                 csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    pk = decode(Kind.MAILBOX, public_id)
    if pk is None:
        raise NotFound("Mailbox not found.")
    await mailboxes.delete(session, page.subject, pk)
    await session.commit()
    return RedirectResponse("/mailboxes", status_code=303)
