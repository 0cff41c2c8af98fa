"""Sending mailboxes of clients (native): passwords are write-only."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.outreach_v1 import render, schemas
from tidings.api.outreach_v1.common import Caller, filter_pk, pk
from tidings.core.errors import NotFound
from tidings.core.ids import Kind
from tidings.outreach.mailboxes import service

router = APIRouter(route_class=ExactRoute)
Security = Literal["none", "starttls", "tls"]


class MailboxBody(BaseModel):
    client_id: str | None = Field(default=None, max_length=64)
    email: str = Field(max_length=320)
    name: str = Field(default="", max_length=200)
    smtp_host: str = Field(min_length=1, max_length=255)
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str = Field(default="", max_length=320)
    smtp_password: str = Field(default="", max_length=1000)
    smtp_security: Security = "starttls"
    imap_host: str | None = Field(default=None, max_length=255)
    imap_port: int | None = Field(default=None, ge=1, le=65535)
    imap_username: str | None = Field(default=None, max_length=320)
    imap_password: str | None = Field(default=None, max_length=1000)
    imap_security: Security | None = None
    daily_limit: int = Field(default=50, ge=1, le=100_000)
    min_interval_seconds: int = Field(default=60, ge=0, le=86_400)


@router.post("/mailboxes", status_code=201, response_model=schemas.MailboxOne)
async def create_mailbox(body: MailboxBody, request: Request, session: deps.Session, subject: Caller
                         ) -> dict[str, Any]:
    """Add a mailbox to a client, within the client's max_emails."""
    client_id = None
    if body.client_id:
        client_id = pk(Kind.CLIENT, body.client_id)
        if client_id is None:
            raise NotFound("Client not found.")
    data = service.MailboxIn(**{**body.model_dump(), "client_id": client_id})
    box = await service.create(session, subject, data,
                               allow_private=deps.get_settings(request).outbound_allow_private)
    await session.commit()
    return {"data": render.mailbox(box)}


@router.get("/mailboxes", response_model=schemas.MailboxList)
async def list_mailboxes(session: deps.Session, subject: Caller, client_id: str | None = Query(default=None)
                         ) -> dict[str, Any]:
    boxes = await service.list_mailboxes(session, subject, filter_pk(Kind.CLIENT, client_id) if client_id else None,
                                         filter_client=bool(client_id))
    return {"data": [render.mailbox(b) for b in boxes]}


@router.get("/mailboxes/{mailbox_id}", response_model=schemas.MailboxOne)
async def show_mailbox(mailbox_id: str, session: deps.Session, subject: Caller) -> dict[str, Any]:
    return {"data": render.mailbox(await service.get(session, subject, pk(Kind.MAILBOX, mailbox_id)))}


@router.delete("/mailboxes/{mailbox_id}", status_code=204)
async def delete_mailbox(mailbox_id: str, session: deps.Session, subject: Caller) -> Response:
    await service.delete(session, subject, pk(Kind.MAILBOX, mailbox_id))
    await session.commit()
    return Response(status_code=204)
