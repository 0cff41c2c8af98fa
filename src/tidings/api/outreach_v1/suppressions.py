"""A client's suppression list: email addresses and whole domains."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.outreach_v1 import schemas
from tidings.api.outreach_v1.common import Caller, pk
from tidings.core.ids import Kind
from tidings.outreach.suppressions import service

router = APIRouter(route_class=ExactRoute)
# Entries are checked one by one by the service (a 422 names `emails.3`); documented as strings.
_STRINGS: dict[str, Any] = {"items": {"type": "string"}}


class EmailsIn(BaseModel):
    client_id: str = Field(max_length=64)
    emails: list[Any] = Field(min_length=1, max_length=service.MAX_ITEMS, json_schema_extra=_STRINGS)


class DomainsIn(BaseModel):
    client_id: str = Field(max_length=64)
    domains: list[Any] = Field(min_length=1, max_length=service.MAX_ITEMS, json_schema_extra=_STRINGS)


@router.post("/suppressions/emails", status_code=201, response_model=schemas.Suppressed)
async def add_emails(body: EmailsIn, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """Suppress addresses; matching contacts become UNSUBSCRIBED."""
    added = await service.add_emails(session, subject, pk(Kind.CLIENT, body.client_id), body.emails)
    await session.commit()
    return {"data": added}


@router.post("/suppressions/domains", status_code=201, response_model=schemas.Suppressed)
async def add_domains(body: DomainsIn, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """Suppress domains; matching contacts become UNSUBSCRIBED."""
    added = await service.add_domains(session, subject, pk(Kind.CLIENT, body.client_id), body.domains)
    await session.commit()
    return {"data": added}
