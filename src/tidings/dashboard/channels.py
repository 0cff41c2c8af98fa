"""Forms (with their page as recipients see it) and the WhatsApp templates and senders of the account."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from tidings.api import deps
from tidings.api.public.forms import render_form
from tidings.core.ids import Kind, to_int
from tidings.dashboard import web
from tidings.messaging.forms import service as forms
from tidings.messaging.whatsapp import service as whatsapp

router = APIRouter(route_class=web.DashboardRoute, include_in_schema=False)
PER_PAGE = 50


@router.get("/forms", response_class=HTMLResponse)
async def forms_page(request: Request, session: deps.Session, p: int = 1) -> Response:
    page = await web.page(request, session)
    rows, total = await forms.list_page(session, page.subject, max(p, 1), PER_PAGE)
    return web.render(request, "forms.html", page, rows=rows, total=total, p=max(p, 1), per_page=PER_PAGE,
                      public=forms.public_id, placeholder=forms.placeholder)


@router.get("/forms/{public_id}", response_class=HTMLResponse)
async def form_page(request: Request, public_id: str, session: deps.Session) -> Response:
    page = await web.page(request, session)
    form = await forms.get(session, page.subject, public_id)
    return web.render(request, "form.html", page, form=form, public_id=public_id,
                      placeholder=forms.placeholder(form), preview=render_form(form, preview=True))


@router.get("/whatsapp", response_class=HTMLResponse)
async def whatsapp_page(request: Request, session: deps.Session) -> Response:
    page = await web.page(request, session)
    return web.render(request, "whatsapp.html", page, templates=await whatsapp.list_templates(session, page.subject),
                      senders=await whatsapp.list_senders(session, page.subject),
                      public=lambda pk: to_int(Kind.WHATSAPP_TEMPLATE, pk))
