"""Clients of an agency, their users with roles, and invitations."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tidings.api import deps
from tidings.core.errors import DomainError, NotFound
from tidings.core.ids import Kind, decode, encode
from tidings.dashboard import web
from tidings.tenancy import client_users, clients
from tidings.tenancy.subject import ROLES

router = APIRouter(route_class=web.DashboardRoute, include_in_schema=False)


def _pk(public: str) -> int:
    pk = decode(Kind.CLIENT, public)
    if pk is None:
        raise NotFound("Client not found.")
    return pk


@router.get("/clients", response_class=HTMLResponse)
async def list_page(request: Request, session: deps.Session, error: str | None = None) -> Response:
    page = await web.page(request, session)
    rows = [(encode(Kind.CLIENT, c.id), c) for c in await clients.list_clients(session, page.subject)]
    return web.render(request, "clients.html", page, rows=rows, error=error)


@router.post("/clients")
async def create(request: Request, session: deps.Session, name: Annotated[str, Form(max_length=200)],
                 max_emails: Annotated[int, Form(ge=0, le=100000)] = 3, csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    try:
        client = await clients.create_client(session, page.subject, name=name, max_emails=max_emails)
        await session.commit()
    except DomainError as exc:
        return RedirectResponse(f"/clients?error={exc.message}", status_code=303)
    return RedirectResponse(f"/clients/{encode(Kind.CLIENT, client.id)}", status_code=303)


async def _client_page(request: Request, session: deps.Session, page: web.Page, public_id: str, *,
                       error: str | None = None, invitation_link: str | None = None) -> Response:
    pk = _pk(public_id)
    found = next((c for c in await clients.list_clients(session, page.subject) if c.id == pk), None)
    if found is None:
        raise NotFound("Client not found.")
    members, invitations = (await client_users.list_members(session, page.subject, pk) if page.is_agency
                            else ([], []))
    return web.render(request, "client.html", page, client=found, public_id=public_id, members=members,
                      invitations=invitations, roles=ROLES, error=error, invitation_link=invitation_link)


@router.get("/clients/{public_id}", response_class=HTMLResponse)
async def show(request: Request, public_id: str, session: deps.Session, error: str | None = None) -> Response:
    page = await web.page(request, session)
    return await _client_page(request, session, page, public_id, error=error)


@router.post("/clients/{public_id}")
async def update(request: Request, public_id: str, session: deps.Session, name: Annotated[str, Form(max_length=200)],
                 max_emails: Annotated[int, Form(ge=0, le=100000)], csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    try:
        await clients.update_client(session, page.subject, _pk(public_id), name=name, max_emails=max_emails)
        await session.commit()
    except DomainError as exc:
        return RedirectResponse(f"/clients/{public_id}?error={exc.message}", status_code=303)
    return RedirectResponse(f"/clients/{public_id}", status_code=303)


@router.post("/clients/{public_id}/invitations", response_class=HTMLResponse)
async def invite(request: Request, public_id: str, session: deps.Session, email: Annotated[str, Form(max_length=320)],
                 role: Annotated[list[str] | None, Form()] = None, csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    try:
        _, secret = await client_users.invite(session, page.subject, _pk(public_id), email=email,
                                              roles={r for r in role or [] if r in ROLES})
        await session.commit()
    except DomainError as exc:
        return RedirectResponse(f"/clients/{public_id}?error={exc.message}", status_code=303)
    # The link carries the one-time secret: shown in this answer only (never in a URL we redirect to, nor logged).
    link = f"{deps.get_settings(request).public_url.rstrip('/')}/invitations/{secret}"
    return await _client_page(request, session, page, public_id, invitation_link=link)


@router.post("/clients/{public_id}/users")
async def set_roles(request: Request, public_id: str, session: deps.Session,
                    email: Annotated[str, Form(max_length=320)],
                    role: Annotated[list[str] | None, Form()] = None, remove: Annotated[str, Form()] = "",
                    csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    try:
        if remove:
            await client_users.remove(session, page.subject, _pk(public_id), email=email)
        else:
            chosen = set(role or [])
            await client_users.update_roles(session, page.subject, _pk(public_id), email=email,
                                            roles={r: r in chosen for r in ROLES})
        await session.commit()
    except DomainError as exc:
        return RedirectResponse(f"/clients/{public_id}?error={exc.message}", status_code=303)
    return RedirectResponse(f"/clients/{public_id}", status_code=303)
