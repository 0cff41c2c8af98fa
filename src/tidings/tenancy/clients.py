"""Use cases on an agency's white-label clients."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core.errors import Forbidden, ValidationFailed
from tidings.db.models import Client
from tidings.tenancy.scoping import get_owned, scoped
from tidings.tenancy.subject import AuthSubject


async def list_clients(session: AsyncSession, subject: AuthSubject) -> list[Client]:
    """The clients the caller may see: all of the agency's, or its own client only."""
    stmt = scoped(select(Client), Client, subject)
    if subject.client_id is not None:
        stmt = stmt.where(Client.id == subject.client_id)
    return list((await session.execute(stmt.order_by(Client.id))).scalars())


async def create_client(session: AsyncSession, subject: AuthSubject, *, name: str, max_emails: int) -> Client:
    """Add a client to the caller's agency; client users cannot create clients."""
    if not subject.is_agency:
        raise Forbidden("Only agency users can create clients.")
    if not name.strip():
        raise ValidationFailed.on("name", "The name field is required.")
    if max_emails < 0:
        raise ValidationFailed.on("max_emails", "The max emails must be at least 0.")
    client = Client(account_id=subject.account_id, name=name.strip(), max_emails=max_emails)
    session.add(client)
    await session.flush()
    return client


async def update_client(session: AsyncSession, subject: AuthSubject, client_id: int | None, *, name: str,
                        max_emails: int) -> Client:
    """Rename a client or change how many mailboxes it may add; agency users only."""
    if not subject.is_agency:
        raise Forbidden("Only agency users can change clients.")
    client = await get_owned(session, Client, client_id, subject, "Client")
    if not name.strip() or len(name.strip()) > 200:
        raise ValidationFailed.on("name", "The name is required and may not be greater than 200 characters.")
    if not 0 <= max_emails <= 100000:
        raise ValidationFailed.on("max_emails", "The max emails must be between 0 and 100000.")
    client.name, client.max_emails = name.strip(), max_emails
    await session.flush()
    return client
