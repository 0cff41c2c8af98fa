"""Contacts and groups of the messaging database: search, add, group membership, details."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tidings.api import deps
from tidings.core.errors import DomainError, NotFound
from tidings.core.ids import Kind, from_int, to_int
from tidings.dashboard import web
from tidings.messaging.contacts import service as contacts

router = APIRouter(route_class=web.DashboardRoute, include_in_schema=False)
PER_PAGE = 50


def _group_pk(public: str) -> int | None:
    return from_int(Kind.GROUP, public) if public else None


async def _page(request: Request, session: deps.Session, page: web.Page, *, q: str = "", group: str = "",
                p: int = 1, error: str | None = None, notice: str | None = None, status_code: int = 200,
                form: dict[str, str] | None = None) -> Response:
    text = q.strip()
    filters = contacts.Filters(group_id=_group_pk(group))
    if text:
        if "@" in text:
            filters.email = text
        else:
            filters.phone = text
    rows, total = await contacts.page(session, page.subject, filters, max(p, 1), PER_PAGE)
    groups, _ = await contacts.group_page(session, page.subject, 1, 1000)
    member_of = await contacts.groups_of(session, [c.id for c in rows])
    return web.render(request, "contacts.html", page, status_code=status_code, rows=rows, total=total, q=q,
                      group=group, groups=groups, member_of=member_of, p=max(p, 1), per_page=PER_PAGE, error=error,
                      notice=notice, form=form or {}, gid=lambda pk: to_int(Kind.GROUP, pk),
                      cid=lambda pk: to_int(Kind.CONTACT, pk))


@router.get("/contacts", response_class=HTMLResponse)
async def list_page(request: Request, session: deps.Session, q: str = "", group: str = "", p: int = 1) -> Response:
    page = await web.page(request, session)
    return await _page(request, session, page, q=q, group=group, p=p)


@router.post("/contacts", response_class=HTMLResponse)
async def add(request: Request, session: deps.Session, email: Annotated[str, Form(max_length=320)] = "",
              phone: Annotated[str, Form(max_length=64)] = "", country: Annotated[str, Form(max_length=2)] = "",
              name: Annotated[str, Form(max_length=200)] = "", surname: Annotated[str, Form(max_length=200)] = "",
              group: Annotated[str, Form(max_length=24)] = "", csrf: Annotated[str, Form()] = "") -> Response:
    """Add a contact (or update the one with the same email or phone, as the API does)."""
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    raw = {k: v for k, v in (("email", email), ("phone", phone), ("countryIso", country), ("name", name),
                             ("surname", surname)) if v.strip()}
    try:
        data = contacts.clean(raw)
        contacts.require_reachable(data.email, data.phone, data.landline)
        group_pk = _group_pk(group)
        _, saved = await contacts.create(session, page.subject, data, [group_pk] if group_pk else [])
        await session.commit()
    except DomainError as exc:
        await session.rollback()
        return await _page(request, session, page, error=exc.message, status_code=exc.status,
                           form={"email": email, "phone": phone, "country": country, "name": name,
                                 "surname": surname})
    return await _page(request, session, page, notice="Contact added." if saved.created
                       else f"Contact updated (same {saved.matched_by}).")


@router.post("/contacts/groups", response_class=HTMLResponse)
async def add_group(request: Request, session: deps.Session, name: Annotated[str, Form(max_length=200)],
                    csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    try:
        created = await contacts.create_group(session, page.subject, name)
        await session.commit()
    except DomainError as exc:
        await session.rollback()
        return await _page(request, session, page, error=exc.message, status_code=exc.status)
    return RedirectResponse(f"/contacts?group={to_int(Kind.GROUP, created.id)}", status_code=303)


@router.post("/contacts/groups/{public_id}/delete")
async def delete_group(request: Request, public_id: str, session: deps.Session,
                       csrf: Annotated[str, Form()] = "") -> Response:
    """Delete a group; its contacts stay in the database."""
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    await contacts.delete_group(session, page.subject, _group_pk(public_id))
    await session.commit()
    return RedirectResponse("/contacts", status_code=303)


@router.get("/contacts/{public_id}", response_class=HTMLResponse)
async def show(request: Request, public_id: str, session: deps.Session) -> Response:
    page = await web.page(request, session)
    contact = await contacts.get(session, page.subject, from_int(Kind.CONTACT, public_id))
    member_of = (await contacts.groups_of(session, [contact.id])).get(contact.id, [])
    return web.render(request, "contact.html", page, contact=contact, public_id=public_id, groups=member_of,
                      custom=contacts.typed_custom_fields(contact))


@router.post("/contacts/{public_id}/delete")
async def delete(request: Request, public_id: str, session: deps.Session,
                 csrf: Annotated[str, Form()] = "") -> Response:
    page = await web.page(request, session)
    web.check_csrf(request, csrf)
    pk = from_int(Kind.CONTACT, public_id)
    if pk is None:
        raise NotFound("Contact not found.")
    await contacts.delete(session, page.subject, pk)
    await session.commit()
    return RedirectResponse("/contacts", status_code=303)
