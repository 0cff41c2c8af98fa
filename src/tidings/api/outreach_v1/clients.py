"""Clients of an agency, their users and invitations."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.outreach_v1 import render, schemas
from tidings.api.outreach_v1.common import ClientsCaller, pk, storable_input
from tidings.core import ids
from tidings.core.clock import epoch
from tidings.core.ids import Kind
from tidings.tenancy import client_users, clients
from tidings.tenancy.subject import ROLES

router = APIRouter(route_class=ExactRoute)


class ClientIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    max_emails: int = Field(default=3, ge=0, le=100000)


class ClientUserIn(BaseModel):
    email: str = Field(min_length=1, max_length=320)
    view_campaigns: bool | None = None
    create_campaigns: bool | None = None
    export_campaigns: bool | None = None

    def roles(self) -> dict[str, bool]:
        return {r: bool(getattr(self, r)) for r in ROLES if getattr(self, r) is not None}


class AcceptIn(BaseModel):
    token: str = Field(min_length=1, max_length=200)
    name: str = Field(default="", max_length=200)


@router.get("/clients", response_model=schemas.ClientList)
async def list_clients(session: deps.Session, subject: ClientsCaller) -> dict[str, Any]:
    """Display a listing of the agency's clients."""
    return {"data": [render.client(c) for c in await clients.list_clients(session, subject)]}


@router.post("/clients", status_code=201, response_model=schemas.ClientOne)
async def create_client(body: ClientIn, session: deps.Session, subject: ClientsCaller) -> dict[str, Any]:
    """Add a new client to the user's agency."""
    client = await clients.create_client(session, subject, name=body.name, max_emails=body.max_emails)
    await session.commit()
    return {"data": render.client(client)}


@router.get("/clients/{client_id}/users", response_model=schemas.UsersOne)
async def list_users(client_id: str, session: deps.Session, subject: ClientsCaller) -> dict[str, Any]:
    """Active users of a client and pending invitations, with their roles."""
    members, invitations = await client_users.list_members(session, subject, pk(Kind.CLIENT, client_id))
    return {"data": {
        "users": [{"name": m.user.name, "email": m.user.email, "created_at": epoch(m.user.created_at),
                   "roles": m.roles} for m in members],
        "invitations": [{"email": i.email, "created_at": epoch(i.created_at), "roles": list(i.roles or [])}
                        for i in invitations],
    }}


@router.post("/clients/{client_id}/users", response_model=schemas.InvitationSent)
async def add_user(client_id: str, body: ClientUserIn, session: deps.Session, subject: ClientsCaller
                   ) -> dict[str, Any]:
    """Invite a user to a client with roles; the answer carries the one-time invitation token."""
    roles = {r for r, on in body.roles().items() if on}
    invitation, secret = await client_users.invite(session, subject, pk(Kind.CLIENT, client_id),
                                                   email=body.email, roles=roles)
    await session.commit()
    # Tidings sends no invitation mail of its own: the agency forwards the token (native extension).
    return {"message": f"An invitation was sent to {invitation.email}",
            "invitation": {"id": ids.encode(Kind.INVITATION, invitation.id), "token": secret,
                           "accept_url": "/api/v1/invitations/accept"}}


@router.put("/clients/{client_id}/users", response_model=schemas.Message)
async def update_user(client_id: str, body: ClientUserIn, session: deps.Session, subject: ClientsCaller
                      ) -> dict[str, Any]:
    """Change the roles of an active user or an invitation."""
    await client_users.update_roles(session, subject, pk(Kind.CLIENT, client_id), email=body.email,
                                    roles=body.roles())
    await session.commit()
    return {"message": "Success. Updated user roles."}


@router.delete("/clients/{client_id}/users", status_code=204)
async def delete_user(client_id: str, session: deps.Session, subject: ClientsCaller,
                      email: str = Query(default="")) -> Response:
    """Remove a user or an invitation from a client."""
    await client_users.remove(session, subject, pk(Kind.CLIENT, client_id), email=email)
    await session.commit()
    return Response(status_code=204)


@router.post("/invitations/accept", status_code=201, response_model=schemas.AcceptedOne,
             dependencies=[Depends(storable_input)])
async def accept_invitation(body: AcceptIn, session: deps.Session) -> dict[str, Any]:
    """Accept an invitation (native): creates the client user and returns its Bearer token once."""
    accepted = await client_users.accept(session, secret=body.token, name=body.name)
    await session.commit()
    return {"data": {"email": accepted.user.email, "name": accepted.user.name,
                     "client": render.client(accepted.client), "roles": accepted.roles,
                     "token": accepted.api_token}}
