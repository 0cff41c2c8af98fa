"""Verified senders (not in the 360nrs document; Tidings' own): register an address, list, show, remove.

fromEmail and replyTo of a mailing must be verified senders (errors 115 and 117). A registered
address receives a link; opening it verifies the address. Operators add verified senders with
`tidings sender add`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.rest import pagination, public_ids, schemas
from tidings.api.rest.templates import iso
from tidings.core.ids import Kind
from tidings.db.models import Sender
from tidings.messaging import senders
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
Caller = Annotated[AuthSubject, Depends(deps.rest())]


class SenderBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    email: str | None = None
    name: str | None = None


def _render(sender: Sender) -> dict[str, Any]:
    return {"id": public_ids.show(Kind.SENDER, sender.id), "email": sender.email, "name": sender.name,
            "verified": sender.verified_at is not None,
            "verifiedAt": iso(sender.verified_at), "createdAt": iso(sender.created_at)}


@router.get("/senders", response_model=schemas.SenderList)
async def list_senders(request: Request, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """Every sender of the account, verified or not."""
    rows = await senders.list_senders(session, subject)
    return {"data": [_render(s) for s in rows],
            "meta": pagination.meta(request, total=len(rows), count=len(rows), page=1, per_page=max(1, len(rows)))}


@router.post("/senders", status_code=201, responses={
    200: {"model": schemas.SenderOne, "description": "A known address"},
    201: {"model": schemas.SenderOne, "description": "A new address"}})
async def register_sender(body: SenderBody, request: Request, session: deps.Session, subject: Caller) -> JSONResponse:
    """201 for a new address, 200 for a known one; an unverified address is mailed a (new) link."""
    sender, created = await senders.register(session, subject, deps.get_settings(request), body.email or "",
                                             body.name or "")
    await session.commit()
    return JSONResponse({"data": _render(sender)}, status_code=201 if created else 200)


@router.get("/senders/{sender_id}", response_model=schemas.SenderOne)
async def show_sender(sender_id: str, session: deps.Session, subject: Caller) -> dict[str, Any]:
    return {"data": _render(await senders.get(session, subject, public_ids.parse(Kind.SENDER, sender_id)))}


@router.delete("/senders/{sender_id}", status_code=204)
async def delete_sender(sender_id: str, session: deps.Session, subject: Caller) -> Response:
    await senders.remove(session, subject, public_ids.parse(Kind.SENDER, sender_id))
    await session.commit()
    return Response(status_code=204)
