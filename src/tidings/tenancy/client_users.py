"""A client's users and invitations: listing, inviting, role changes, removal and acceptance.

Only agency users manage a client's users. An invitation carries a one-time secret (stored as a
hash); accepting it creates the user, its membership with the invited roles, and a Bearer token.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.core.emails import normalize_email
from tidings.core.errors import Forbidden, NotFound, ValidationFailed
from tidings.core.secrets import hash_secret, new_token
from tidings.db.models import ApiCredential, Client, ClientInvitation, ClientMembership, User
from tidings.tenancy import repository, service
from tidings.tenancy.scoping import get_owned
from tidings.tenancy.subject import ROLES, AuthSubject


@dataclass(frozen=True)
class Member:
    user: User
    roles: list[str]


@dataclass(frozen=True)
class Accepted:
    user: User
    client: Client
    roles: list[str]
    api_token: str


def _ordered(roles: set[str] | list[str]) -> list[str]:
    return [r for r in ROLES if r in roles]


def _email(raw: str) -> str:
    normalized = normalize_email(raw or "")
    if normalized is None:
        raise ValidationFailed.on("email", "The email must be a valid email address.")
    return normalized


async def _managed_client(session: AsyncSession, subject: AuthSubject, client_id: int | None) -> Client:
    if subject.client_id is not None and client_id != subject.client_id:
        raise NotFound("Client not found.")
    client = await get_owned(session, Client, client_id, subject, "Client")
    if not subject.is_agency:
        raise Forbidden("Only agency users can manage a client's users.")
    return client


async def list_members(
    session: AsyncSession, subject: AuthSubject, client_id: int | None
) -> tuple[list[Member], list[ClientInvitation]]:
    """Active users of the client with their roles, and its pending invitations."""
    client = await _managed_client(session, subject, client_id)
    rows = (await session.execute(
        select(User, ClientMembership)
        .join(ClientMembership, ClientMembership.user_id == User.id)
        .where(ClientMembership.client_id == client.id, User.account_id == subject.account_id, User.active.is_(True))
        .order_by(User.id)
    )).all()
    members = [Member(user, _ordered(list(m.roles or []))) for user, m in rows]
    invitations = list((await session.execute(
        select(ClientInvitation)
        .where(ClientInvitation.client_id == client.id, ClientInvitation.account_id == subject.account_id,
               ClientInvitation.accepted_at.is_(None))
        .order_by(ClientInvitation.id)
    )).scalars())
    return members, invitations


async def invite(
    session: AsyncSession, subject: AuthSubject, client_id: int | None, *, email: str, roles: set[str]
) -> tuple[ClientInvitation, str]:
    """A pending invitation and its one-time secret; re-inviting replaces the earlier one."""
    client = await _managed_client(session, subject, client_id)
    address = _email(email)
    if await repository.user_by_email(session, subject.account_id, address) is not None:
        raise ValidationFailed.on("email", "A user with this email address already exists.")
    pending = (await session.execute(
        select(ClientInvitation).where(ClientInvitation.account_id == subject.account_id,
                                       ClientInvitation.client_id == client.id,
                                       func.lower(ClientInvitation.email) == address.lower(),
                                       ClientInvitation.accepted_at.is_(None))
    )).scalars().all()
    for old in pending:
        await session.delete(old)
    secret = new_token("inv")
    invitation = ClientInvitation(account_id=subject.account_id, client_id=client.id, email=address,
                                  roles=_ordered(roles), token_hash=hash_secret(secret))
    session.add(invitation)
    await session.flush()
    return invitation, secret


async def update_roles(
    session: AsyncSession, subject: AuthSubject, client_id: int | None, *, email: str, roles: dict[str, bool]
) -> None:
    """Change the roles of an active user or a pending invitation; unspecified roles stay as they are."""
    client = await _managed_client(session, subject, client_id)
    address = _email(email)

    def merged(current: list[str]) -> list[str]:
        have = set(current)
        for role, on in roles.items():
            (have.add if on else have.discard)(role)
        return _ordered(have)

    found = False
    user = await repository.user_by_email(session, subject.account_id, address)
    if user is not None and user.active:
        member = await repository.membership(session, user.id, client.id)
        if member is not None:
            member.roles = merged(list(member.roles or []))
            found = True
    for invitation in await _pending(session, subject, client.id, address):
        invitation.roles = merged(list(invitation.roles or []))
        found = True
    if not found:
        raise NotFound("User not found.")


async def _pending(session: AsyncSession, subject: AuthSubject, client_id: int, email: str) -> list[ClientInvitation]:
    stmt = select(ClientInvitation).where(
        ClientInvitation.account_id == subject.account_id, ClientInvitation.client_id == client_id,
        ClientInvitation.accepted_at.is_(None), func.lower(ClientInvitation.email) == email.lower())
    return list((await session.execute(stmt)).scalars())


async def remove(session: AsyncSession, subject: AuthSubject, client_id: int | None, *, email: str) -> None:
    """Remove a user (its membership and tokens) or a pending invitation from a client."""
    client = await _managed_client(session, subject, client_id)
    address = _email(email)
    found = False
    user = await repository.user_by_email(session, subject.account_id, address)
    if user is not None:
        member = await repository.membership(session, user.id, client.id)
        if member is not None:
            await session.delete(member)
            found = True
            if user.client_id == client.id:
                # A client's user exists only for that client: without it, it can no longer sign in.
                user.active = False
                await session.execute(update(ApiCredential).where(ApiCredential.user_id == user.id,
                                                                  ApiCredential.revoked_at.is_(None))
                                      .values(revoked_at=clock.now()))
    for invitation in await _pending(session, subject, client.id, address):
        await session.delete(invitation)
        found = True
    if not found:
        raise NotFound("User not found.")
    await session.flush()


async def accept(session: AsyncSession, *, secret: str, name: str = "") -> Accepted:
    """Accept an invitation by its secret: the user, its membership and a Bearer token."""
    invitation = (await session.execute(
        select(ClientInvitation).where(ClientInvitation.token_hash == hash_secret(secret or ""),
                                       ClientInvitation.accepted_at.is_(None))
    )).scalar_one_or_none()
    if invitation is None:
        raise NotFound("Invitation not found.")
    client = await session.get(Client, invitation.client_id)
    if client is None:
        raise NotFound("Invitation not found.")
    existing = await repository.user_by_email(session, invitation.account_id, invitation.email)
    if existing is not None and existing.active:
        raise ValidationFailed.on("email", "A user with this email address already exists.")
    if existing is not None:
        # A removed user of this account is invited again: reactivate it for this client.
        existing.active, existing.client_id = True, client.id
        existing.name = name.strip() or existing.name
        user = existing
    else:
        user = User(account_id=invitation.account_id, email=invitation.email, name=name.strip()[:200],
                    client_id=client.id, roles=[])
        session.add(user)
        await session.flush()
    roles = _ordered(list(invitation.roles or []))
    member = await repository.membership(session, user.id, client.id)
    if member is None:
        session.add(ClientMembership(account_id=invitation.account_id, client_id=client.id, user_id=user.id,
                                     roles=roles))
    else:
        member.roles = roles
    invitation.accepted_at = clock.now()
    token = await service.issue_credential(session, user, service.TOKEN, label="invitation")
    return Accepted(user, client, roles, token)
