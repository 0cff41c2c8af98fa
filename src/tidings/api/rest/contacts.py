"""Contact database: /api/rest/contacts (list, show, create or update, update, delete)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.api import deps
from tidings.api.rest import pagination
from tidings.api.rest.contact_schemas import (
    ContactEnvelope,
    ContactOut,
    ContactPage,
    ContactSelfLink,
    CustomFieldList,
    CustomFieldOut,
    DatabaseContactIn,
    GroupList,
    GroupOut,
    ListMeta,
    SavedMeta,
    errors,
)
from tidings.api.rest.render import base
from tidings.api.rest.schemas import Pagination
from tidings.api.rest.templates import iso
from tidings.core import ids
from tidings.core.errors import Conflict, NotFound
from tidings.core.ids import Kind
from tidings.db.models import Contact, Group
from tidings.messaging.contacts import service
from tidings.tenancy.subject import AuthSubject

router = APIRouter()
Caller = Annotated[AuthSubject, Depends(deps.rest())]
Page = Annotated[int, Query(ge=1, le=pagination.MAX_PAGE)]
Limit = Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT, description="Default 100, at most 1000.")]
Include = Annotated[str | None, Query(description="Comma-separated: customFields, groups.")]
T = TypeVar("T")


def _includes(raw: str | None) -> set[str]:
    return {p.strip() for p in (raw or "").split(",") if p.strip()}


def _contact_pk(raw: str) -> int:
    pk = ids.from_int(Kind.CONTACT, raw)
    if pk is None:
        raise NotFound("Resource not found")
    return pk


def render(request: Request, contact: Contact, include: set[str], groups: Sequence[Group] | None = None,
           *, link: bool = False) -> ContactOut:
    public = ids.to_int(Kind.CONTACT, contact.id)
    out = ContactOut(id=public, email=contact.email, phone=contact.phone, countryIso=contact.country_iso,
                     landline=contact.landline, name=contact.first_name, surname=contact.last_name,
                     externalId=contact.external_id, createdAt=iso(contact.created_at) or "",
                     updatedAt=iso(contact.updated_at))
    if "customFields" in include:
        out.customFields = CustomFieldList(data=[CustomFieldOut(key=k, type=t, value=v)
                                                 for k, t, v in service.typed_custom_fields(contact)])
    if "groups" in include:
        out.groups = GroupList(data=[GroupOut(id=ids.to_int(Kind.GROUP, g.id), name=g.name) for g in groups or []])
    if link:
        out.links = ContactSelfLink(self_=f"{base(request)}/contacts/{public}")
    return out


async def _group_ids(session: AsyncSession, subject: AuthSubject, body: DatabaseContactIn, *, required: bool
                     ) -> list[int] | None:
    given = body.model_fields_set
    pks = None if "groupsIds" not in given or body.groupsIds is None else [
        ids.from_int(Kind.GROUP, i) for i in body.groupsIds]
    names = None if "groupsNames" not in given or body.groupsNames is None else list(body.groupsNames)
    return await service.resolve_groups(session, subject, pks, names, required=required)


def _raw(body: DatabaseContactIn) -> dict[str, Any]:
    raw = body.model_dump(exclude_unset=True, exclude={"groupsIds", "groupsNames"})
    if body.customFields is not None:
        raw["customFields"] = [f.model_dump() for f in body.customFields]
    return raw


async def _once_more_on_conflict(session: AsyncSession, work: Callable[[], Awaitable[T]]) -> T:
    """Run and commit; a concurrent request that took the same email, phone or group name wins once, then we retry."""
    for attempt in range(2):
        try:
            result = await work()
            await session.commit()
            return result
        except IntegrityError:
            await session.rollback()
            if attempt:
                break
    raise Conflict("The contact was changed by another request at the same time; try again.")


@router.get("/contacts", response_model=ContactPage, response_model_exclude_unset=True,
            responses=errors(401, 422))
async def list_contacts(
    request: Request, session: deps.Session, subject: Caller, page: Page = 1,
    limit: Limit = pagination.DEFAULT_LIMIT, include: Include = None,
    email: str | None = None, phone: str | None = None, landline: str | None = None,
    countryIso: str | None = None,  # noqa: N803 - the document's names
    externalId: str | None = None,  # noqa: N803
) -> ContactPage:
    """The account's contacts by id; filters email, phone, landline, countryIso, externalId."""
    wanted = _includes(include)
    filters = service.Filters(email=email, phone=phone, landline=landline, country_iso=countryIso,
                              external_id=externalId)
    rows, total = await service.page(session, subject, filters, page, limit)
    groups = await service.groups_of(session, [c.id for c in rows]) if "groups" in wanted else {}
    meta = pagination.meta(request, total=total, count=len(rows), page=page, per_page=limit)
    return ContactPage(data=[render(request, c, wanted, groups.get(c.id)) for c in rows],
                       meta=ListMeta(pagination=Pagination.model_validate(meta["pagination"])))


@router.get("/contacts/{contact_id}", response_model=ContactEnvelope, response_model_exclude_unset=True,
            responses=errors(401, 404, 422))
async def show_contact(contact_id: str, request: Request, session: deps.Session, subject: Caller,
                       include: Include = None) -> ContactEnvelope:
    """One contact, with include=customFields,groups."""
    wanted = _includes(include)
    contact = await service.get(session, subject, _contact_pk(contact_id))
    groups = (await service.groups_of(session, [contact.id]))[contact.id] if "groups" in wanted else None
    return ContactEnvelope(data=render(request, contact, wanted, groups))


@router.post("/contacts", status_code=201, response_model=ContactEnvelope, response_model_exclude_unset=True,
             responses={200: {"model": ContactEnvelope,
                              "description": "A contact with this email or phone existed: it was updated."},
                        **errors(400, 401, 409, 422)})
async def create_contact(body: DatabaseContactIn, request: Request, response: Response, session: deps.Session,
                         subject: Caller) -> ContactEnvelope:
    """Create a contact in groups; the same email or phone updates that contact instead (HTTP 200, meta.updated)."""
    async def work() -> ContactEnvelope:
        data = service.clean(_raw(body))
        group_ids = await _group_ids(session, subject, body, required=True) or []
        contact, saved = await service.create(session, subject, data, group_ids)
        envelope = ContactEnvelope(data=render(request, contact, set(), link=True))
        if not saved.created:
            envelope.meta = SavedMeta(updated=True, matchedBy=saved.matched_by)
        return envelope

    envelope = await _once_more_on_conflict(session, work)
    if envelope.meta is not None:
        response.status_code = 200
    return envelope


@router.put("/contacts/{contact_id}", response_model=ContactEnvelope, response_model_exclude_unset=True,
            responses=errors(400, 401, 404, 409, 422))
async def update_contact(contact_id: str, body: DatabaseContactIn, request: Request, session: deps.Session,
                         subject: Caller) -> ContactEnvelope:
    """Fields given replace the stored ones (null clears); groupsIds / groupsNames, when given, replace the groups."""
    pk = _contact_pk(contact_id)

    async def work() -> ContactEnvelope:
        group_ids = await _group_ids(session, subject, body, required=False)
        contact = await service.update(session, subject, pk, _raw(body), group_ids)
        return ContactEnvelope(data=render(request, contact, set(), link=True))

    return await _once_more_on_conflict(session, work)


@router.delete("/contacts/{contact_id}", status_code=204, response_class=Response,
               responses=errors(401, 404, 422))
async def delete_contact(contact_id: str, session: deps.Session, subject: Caller) -> Response:
    """Delete a contact (its messages stay, without the link to it)."""
    await service.delete(session, subject, _contact_pk(contact_id))
    await session.commit()
    return Response(status_code=204)
