"""Tenant-scoped lookups shared by the outreach services.

Enrollments, threads and messages carry no client_id, so a client's user is scoped through the
campaign they belong to.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core.errors import NotFound
from tidings.db.models import Campaign, Client, Contact, Enrollment
from tidings.tenancy.scoping import get_owned, scoped
from tidings.tenancy.subject import AuthSubject


async def campaign(session: AsyncSession, subject: AuthSubject, campaign_id: int | None) -> Campaign:
    """A sequence campaign the subject may see; NotFound otherwise."""
    found = await get_owned(session, Campaign, campaign_id, subject, "Campaign")
    if found.kind != "sequence":
        raise NotFound("Campaign not found.")
    return found


async def client(session: AsyncSession, subject: AuthSubject, client_id: int | None) -> Client:
    """A client of the subject's agency; a client's user sees only its own client."""
    if subject.client_id is not None and client_id != subject.client_id:
        raise NotFound("Client not found.")
    return await get_owned(session, Client, client_id, subject, "Client")


def in_visible_campaigns(stmt: Any, subject: AuthSubject) -> Any:
    """Restrict a statement that already joins Campaign to the subject's campaigns."""
    return scoped(stmt, Campaign, subject).where(Campaign.kind == "sequence")


async def enrollment(
    session: AsyncSession, subject: AuthSubject, enrollment_id: int | None
) -> tuple[Enrollment, Contact, Campaign]:
    """An outreach contact (enrollment, person, campaign) the subject may see."""
    if enrollment_id is None:
        raise NotFound("Contact not found.")
    stmt = (select(Enrollment, Contact, Campaign)
            .join(Contact, Contact.id == Enrollment.contact_id)
            .join(Campaign, Campaign.id == Enrollment.campaign_id)
            .where(Enrollment.id == enrollment_id))
    row = (await session.execute(in_visible_campaigns(stmt, subject))).first()
    if row is None:
        raise NotFound("Contact not found.")
    return row[0], row[1], row[2]
