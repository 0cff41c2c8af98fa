"""The addresses of contact groups, for validations given `groupsIds` (the contacts capability owns groups)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.messaging.contacts import service as contacts
from tidings.tenancy.subject import AuthSubject


async def group_addresses(session: AsyncSession, subject: AuthSubject, group_pks: list[int]) -> list[str]:
    """The email addresses of the contacts in these groups of the caller's; NotFound when one is not theirs."""
    return await contacts.emails_in_groups(session, subject, group_pks) if group_pks else []
