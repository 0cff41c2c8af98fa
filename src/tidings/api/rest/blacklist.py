"""Blacklist v2: /api/rest/v2/blacklist/{sms|mailing|voice}: list, add (PUT) and remove (DELETE)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.rest import pagination, public_ids, schemas
from tidings.api.rest.templates import iso
from tidings.core.errors import DomainError, NotFound
from tidings.core.ids import Kind
from tidings.db.models import Suppression
from tidings.messaging import blacklist
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
Caller = Annotated[AuthSubject, Depends(deps.rest())]


class BlacklistBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    recipient: str | int | None = None


def _render(type_: str, row: Suppression, campaign_name: str | None, *, sending: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"type": type_, "recipient": row.value, "isDefinitive": False}
    if sending:
        out["sendingId"] = public_ids.show(Kind.SENDING, row.sending_id)
    out["campaignName"] = campaign_name
    out["createdAt"] = iso(row.created_at)
    return out


def _recipient(type_: str, body: BlacklistBody | None) -> str:
    if type_ not in blacklist.TYPES:
        raise NotFound("Resource not found")
    if body is None or body.recipient is None or not str(body.recipient).strip():
        raise DomainError("No valid recipients", nrs_code=102)
    return str(body.recipient)


@router.get("/v2/blacklist/{type_}", response_model=schemas.BlacklistList)
async def list_blacklist(
    type_: str, request: Request, session: deps.Session, subject: Caller,
    page: Annotated[int, Query(ge=1, le=pagination.MAX_PAGE)] = 1,
    limit: Annotated[int, Query(ge=1, le=pagination.MAX_LIMIT)] = pagination.DEFAULT_LIMIT,
    recipient: str | None = None,
    sendingId: Annotated[int | None, Query(ge=1, le=public_ids.MAX_PUBLIC)] = None,  # noqa: N803 - documented name
) -> dict[str, Any]:
    """Newest first; filters `recipient` and `sendingId`; `limit` up to 1000 (default 100)."""
    sending = None if sendingId is None else public_ids.filter_pk(Kind.SENDING, sendingId)
    rows, total = await blacklist.page(session, subject.account_id, type_, recipient=recipient, sending_id=sending,
                                       page_number=page, limit=limit)
    data = [_render(type_, e.row, e.campaign_name) for e in rows]
    return {"data": data, "meta": pagination.meta(request, total=total, count=len(data), page=page, per_page=limit)}


@router.put("/v2/blacklist/{type_}", response_model=schemas.BlacklistOne)
async def add_to_blacklist(type_: str, session: deps.Session, subject: Caller,
                          body: BlacklistBody | None = None) -> dict[str, Any]:
    """Add a recipient (idempotent: adding it again answers with the existing entry)."""
    row = await blacklist.add(session, subject.account_id, type_, _recipient(type_, body))
    name = await blacklist.campaign_name(session, row)
    await session.commit()
    return {"data": _render(type_, row, name, sending=False)}


@router.delete("/v2/blacklist/{type_}", status_code=204)
async def remove_from_blacklist(type_: str, session: deps.Session, subject: Caller,
                                body: BlacklistBody | None = None) -> Response:
    """Remove a recipient; 404 when it is not on this blacklist."""
    await blacklist.remove(session, subject.account_id, type_, _recipient(type_, body))
    await session.commit()
    return Response(status_code=204)
