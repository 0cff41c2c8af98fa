"""Clients of an agency."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from tidings.api import deps
from tidings.api.outreach_v1 import render
from tidings.tenancy import clients
from tidings.tenancy.subject import AuthSubject

router = APIRouter()
Caller = Annotated[AuthSubject, Depends(deps.outreach("clients"))]


class ClientIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    max_emails: int = Field(default=3, ge=0, le=100000)


@router.get("/clients")
async def list_clients(session: deps.Session, subject: Caller) -> dict[str, Any]:
    """Display a listing of the agency's clients."""
    return {"data": [render.client(c) for c in await clients.list_clients(session, subject)]}


@router.post("/clients")
async def create_client(body: ClientIn, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """Add a new client to the user's agency."""
    client = await clients.create_client(session, subject, name=body.name, max_emails=body.max_emails)
    await session.commit()
    return {"data": render.client(client)}
