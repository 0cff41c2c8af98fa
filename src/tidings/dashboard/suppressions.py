"""Suppressions: the addresses and domains no campaign writes to."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tidings.api import deps
from tidings.core.errors import DomainError
from tidings.dashboard import web
from tidings.outreach.suppressions import service as suppressions
from tidings.tenancy import clients

router = APIRouter(route_class=web.DashboardRoute, include_in_schema=False)
PER_PAGE = 50


async def _page(request: Request, session: deps.Session, page: web.Page, *, q: str = "", kind: str = "",
                p: int = 1, error: str | None = None, status_code: int = 200) -> Response:
    total, rows = await suppressions.list_suppressions(session, page.subject, kind=kind or None, search=q,
                                                       limit=PER_PAGE, offset=(max(p, 1) - 1) * PER_PAGE)
    owned = await clients.list_clients(session, page.subject)
    return web.render(request, "suppressions.html", page, status_code=status_code, rows=rows, total=total, q=q,
                      kind=kind, p=max(p, 1), per_page=PER_PAGE, clients=owned,
                      client_names={c.id: c.name for c in owned}, error=error)


@router.get("/suppressions", response_class=HTMLResponse)
async def list_page(request: Request, session: deps.Session, q: str = "", kind: str = "", p: int = 1) -> Response:
    page = await web.page(request, session)
    return await _page(request, session, page, q=q, kind=kind, p=p)


@router.post("/suppressions", response_class=HTMLResponse)
async def add(request: Request, session: deps.Session, client_id: Annotated[int, Form()],
              values: Annotated[str, Form(max_length=200_000)], kind: Annotated[str, Form(max_length=8)] = "email",
              csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    items: list[object] = [v for v in values.replace(",", "\n").split() if v]
    try:
        if kind == "domain":
            await suppressions.add_domains(session, page.subject, client_id, items)
        else:
            await suppressions.add_emails(session, page.subject, client_id, items)
        await session.commit()
    except DomainError as exc:
        await session.rollback()
        return await _page(request, session, page, error=exc.message, status_code=exc.status)
    return RedirectResponse("/suppressions", status_code=303)


@router.post("/suppressions/{suppression_id}/delete")
async def remove(request: Request, suppression_id: int, session: deps.Session,
                 csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    await suppressions.remove(session, page.subject, suppression_id)
    await session.commit()
    return RedirectResponse("/suppressions", status_code=303)
