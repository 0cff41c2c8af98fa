"""A recipient's form page: GET /f/{token}/{form_id} shows it, POST submits or rejects it (no JavaScript needed)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from tidings.api import deps
from tidings.api.public import pages
from tidings.db.models import Form
from tidings.messaging import devices, tracking
from tidings.messaging.forms import fields, service

router = APIRouter()
MAX_BODY = 256 * 1024
_NOT_VALID = ("Link not valid", "This form link is not valid. Check the message it came in.")
_ANSWERED = ("Already answered", "This form has already been sent. Thank you!")


def render_form(form: Form, *, values: Mapping[str, str] | None = None, errors: Mapping[str, str] | None = None,
                preview: bool = False) -> str:
    """The form's page (it posts to its own URL); the REST preview renders the same page without posting."""
    elements: list[dict[str, Any]] = []
    labels: dict[str, str] = {}
    for i, element in enumerate(form.fields or []):
        item = dict(element)
        if element.get("type") in fields.INPUTS:
            item["key"] = fields.key_of(element, i)
            labels[item["key"]] = str(element.get("label") or item["key"])
        elements.append(item)
    needs_countries = any(e.get("type") == "countrySelector" for e in elements)
    return pages.render("form.html", form=form, elements=elements, labels=labels,
                        values=dict(values or {}), errors=dict(errors or {}), preview=preview,
                        countries=fields.countries() if needs_countries else [],
                        background_url=form.background_url, logo_url=form.logo_url)


def _page(form: Form, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(render_form(form, **context), status_code=status, headers=pages.NO_STORE)


def _notice(form: Form | None, title: str, text: str, status: int = 200) -> HTMLResponse:
    return pages.page("notice.html", status, title=title, text=text,
                      background_url=form.background_url if form else None, logo_url=form.logo_url if form else None)


@router.get("/f/{token}/{form_id}")
async def show(token: str, form_id: str, request: Request, session: deps.Session) -> HTMLResponse:
    visit = await service.visit(session, tracking.message_id(token), form_id)
    if visit is None:
        return _notice(None, *_NOT_VALID, status=404)
    if await service.answered(session, visit):
        return _notice(visit.form, *_ANSWERED)
    await service.opened(session, visit, devices.describe(request.headers.get("user-agent")))
    await session.commit()
    return _page(visit.form)


@router.post("/f/{token}/{form_id}")
async def answer(token: str, form_id: str, request: Request, session: deps.Session) -> HTMLResponse:
    """Submit (checked on the server; the page comes back with the errors) or reject."""
    visit = await service.visit(session, tracking.message_id(token), form_id)
    if visit is None:
        return _notice(None, *_NOT_VALID, status=404)
    if await service.answered(session, visit):
        return _notice(visit.form, *_ANSWERED, status=409)
    raw = await request.body()
    if len(raw) > MAX_BODY:
        return _notice(visit.form, "Answer too long", "The answers are too long to be sent.", status=413)
    posted: dict[str, str] = {}
    for key, value in parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True):
        posted.setdefault(key, value)  # the first value of a name, as a browser sends one per input
    if posted.get("_action") == "reject" and visit.form.reject_button:
        await service.rejected(session, visit)
        await session.commit()
        return _notice(visit.form, "Answer declined", "You chose not to answer. Nothing was saved.")
    checked = await service.submit(session, visit, posted)
    if checked.errors:
        shown = {k: v for k, v in posted.items() if k != "_action"}
        return _page(visit.form, 422, values=shown, errors=checked.errors)
    await session.commit()
    return _notice(visit.form, "Thank you!", "Your answers have been received.")
