"""Contact groups: /api/rest/groups (list, show, create, rename, delete)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from tidings.api import deps
from tidings.api.rest import pagination
from tidings.api.rest.contact_schemas import (
    GroupBody,
    GroupEnvelope,
    GroupOut,
    GroupPage,
    ListMeta,
    errors,
)
from tidings.api.rest.contacts import _once_more_on_conflict
from tidings.api.rest.schemas import Pagination
from tidings.core import ids
from tidings.core.errors import NotFound
from tidings.core.ids import Kind
from tidings.db.models import Group
from tidings.messaging.contacts import service
from tidings.tenancy.subject import AuthSubject

router = APIRouter()
Caller = Annotated[AuthSubject, Depends(deps.rest())]
Page = Annotated[int, Query(ge=1, le=pagination.MAX_PAGE)]
Limit = Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT, description="Default 100, at most 1000.")]


def _pk(raw: str) -> int:
    pk = ids.from_int(Kind.GROUP, raw)
    if pk is None:
        raise NotFound("Resource not found")
    return pk


def render(group: Group) -> GroupOut:
    return GroupOut(id=ids.to_int(Kind.GROUP, group.id), name=group.name)


@router.get("/groups", response_model=GroupPage, response_model_exclude_unset=True, responses=errors(401, 422))
async def list_groups(request: Request, session: deps.Session, subject: Caller, page: Page = 1,
                      limit: Limit = pagination.DEFAULT_LIMIT) -> GroupPage:
    """The account's groups, oldest first."""
    rows, total = await service.group_page(session, subject, page, limit)
    meta = pagination.meta(request, total=total, count=len(rows), page=page, per_page=limit)
    return GroupPage(data=[render(g) for g in rows],
                     meta=ListMeta(pagination=Pagination.model_validate(meta["pagination"])))


@router.get("/groups/{group_id}", response_model=GroupEnvelope, responses=errors(401, 404, 422))
async def show_group(group_id: str, session: deps.Session, subject: Caller) -> GroupEnvelope:
    return GroupEnvelope(data=render(await service.get_group(session, subject, _pk(group_id))))


@router.post("/groups", status_code=201, response_model=GroupEnvelope, responses=errors(400, 401, 409, 422))
async def create_group(session: deps.Session, subject: Caller, body: GroupBody | None = None) -> GroupEnvelope:
    """A new group; its name must be unused in the account."""
    async def work() -> GroupEnvelope:
        return GroupEnvelope(data=render(await service.create_group(session, subject, body.name if body else None)))

    return await _once_more_on_conflict(session, work)


@router.put("/groups/{group_id}", response_model=GroupEnvelope, responses=errors(400, 401, 404, 409, 422))
async def update_group(group_id: str, session: deps.Session, subject: Caller,
                       body: GroupBody | None = None) -> GroupEnvelope:
    """Rename a group."""
    pk = _pk(group_id)

    async def work() -> GroupEnvelope:
        return GroupEnvelope(data=render(await service.rename_group(session, subject, pk, body.name if body else None)))

    return await _once_more_on_conflict(session, work)


@router.delete("/groups/{group_id}", status_code=204, response_class=Response, responses=errors(401, 404, 422))
async def delete_group(group_id: str, session: deps.Session, subject: Caller) -> Response:
    """Delete a group; its contacts stay in the database."""
    await service.delete_group(session, subject, _pk(group_id))
    await session.commit()
    return Response(status_code=204)
