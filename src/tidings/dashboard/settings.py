"""Settings: the account's profile, Third Party Integrations (API credentials), allow-list, notifications."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tidings.api import deps
from tidings.core.errors import DomainError
from tidings.dashboard import web
from tidings.messaging import event_webhooks, senders
from tidings.tenancy import credentials
from tidings.tenancy import service as tenancy
from tidings.tenancy.service import API_PASSWORD, TOKEN

router = APIRouter(route_class=web.DashboardRoute, include_in_schema=False)
KIND_NAMES = {TOKEN: "API token (Bearer / AuthenticationToken)", API_PASSWORD: "Messaging API password (Basic)"}


async def _settings_page(request: Request, session: deps.Session, page: web.Page, *, status_code: int = 200,
                         error: str | None = None, notice: str | None = None) -> Response:
    notifications = await event_webhooks.show(session, page.subject) if page.is_agency else None
    return web.render(request, "settings.html", page, status_code=status_code, error=error, notice=notice,
                      notifications=notifications, allowed_ips="\n".join(page.account.allowed_ips or []),
                      senders=await senders.list_senders(session, page.subject))


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(request: Request, session: deps.Session) -> Response:
    page = await web.page(request, session)
    return await _settings_page(request, session, page)


@router.post("/settings/profile", response_class=HTMLResponse)
async def save_profile(request: Request, session: deps.Session, name: Annotated[str, Form(max_length=200)],
                       timezone: Annotated[str, Form(max_length=64)], csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    try:
        await tenancy.update_profile(session, page.subject, name=name, timezone=timezone)
        await session.commit()
    except DomainError as exc:
        return await _settings_page(request, session, page, status_code=exc.status, error=exc.message)
    return RedirectResponse("/settings?saved=profile", status_code=303)


@router.post("/settings/allowed-ips", response_class=HTMLResponse)
async def save_allowed_ips(request: Request, session: deps.Session, ips: Annotated[str, Form(max_length=20000)] = "",
                           csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    if not page.is_agency:
        return await _settings_page(request, session, page, status_code=403,
                                    error="Only the agency's users change the allow-list.")
    try:
        await tenancy.set_allowed_ips(session, page.account.id, [p for p in ips.replace(",", " ").split() if p])
        await session.commit()
    except DomainError as exc:
        return await _settings_page(request, session, page, status_code=exc.status, error=exc.message)
    return RedirectResponse("/settings?saved=ips", status_code=303)


@router.post("/settings/notifications", response_class=HTMLResponse)
async def save_notifications(request: Request, session: deps.Session, url: Annotated[str, Form(max_length=2000)] = "",
                             csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    try:
        if url.strip():
            _, secret = await event_webhooks.configure(session, page.subject, url.strip(), None,
                                                       allow_private=deps.get_settings(request).outbound_allow_private)
            await session.commit()
            return await _settings_page(request, session, page, notice=f"Notifications are signed with {secret} "
                                        "(shown once: keep it now).")
        await event_webhooks.clear(session, page.subject)
        await session.commit()
    except DomainError as exc:
        return await _settings_page(request, session, page, status_code=exc.status, error=exc.message)
    return RedirectResponse("/settings?saved=notifications", status_code=303)


@router.post("/settings/notifications/test", response_class=HTMLResponse)
async def test_notification(request: Request, session: deps.Session, csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    try:
        await event_webhooks.send_test(session, page.subject)
        await session.commit()
    except DomainError as exc:
        return await _settings_page(request, session, page, status_code=exc.status, error=exc.message)
    return await _settings_page(request, session, page, notice="A test event is on its way to your URL.")


@router.post("/settings/senders", response_class=HTMLResponse)
async def add_sender(request: Request, session: deps.Session, email: Annotated[str, Form(max_length=320)],
                     name: Annotated[str, Form(max_length=200)] = "", csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    try:
        await senders.register(session, page.subject, deps.get_settings(request), email, name)
        await session.commit()
    except DomainError as exc:
        await session.rollback()
        return await _settings_page(request, session, page, status_code=exc.status, error=exc.message)
    return await _settings_page(request, session, page, notice=f"A verification link was mailed to {email}.")


@router.post("/settings/senders/{sender_id}/delete")
async def remove_sender(request: Request, sender_id: int, session: deps.Session,
                        csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    await senders.remove(session, page.subject, sender_id)
    await session.commit()
    return RedirectResponse("/settings", status_code=303)


@router.get("/settings/integrations", response_class=HTMLResponse)
async def integrations(request: Request, session: deps.Session) -> Response:
    page = await web.page(request, session)
    creds = await credentials.list_credentials(session, page.subject)
    return web.render(request, "integrations.html", page, creds=creds, kinds=KIND_NAMES, secret=None, error=None)


@router.post("/settings/integrations", response_class=HTMLResponse)
async def generate(request: Request, session: deps.Session, kind: Annotated[str, Form(max_length=20)],
                   label: Annotated[str, Form(max_length=200)] = "", csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    secret, error, status = None, None, 200
    try:
        secret = await credentials.generate(session, page.subject, kind, label)
        await session.commit()
    except DomainError as exc:
        error, status = exc.message, exc.status
    # The secret is rendered once in this response and never again (only its hash is stored).
    return web.render(request, "integrations.html", page, status_code=status, kinds=KIND_NAMES,
                      creds=await credentials.list_credentials(session, page.subject), secret=secret,
                      secret_kind=kind, username=page.account.username, error=error)


@router.post("/settings/integrations/{credential_id}/revoke")
async def revoke(request: Request, credential_id: int, session: deps.Session,
                 csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    await credentials.revoke(session, page.subject, credential_id)
    await session.commit()
    return RedirectResponse("/settings/integrations", status_code=303)
