"""Verified senders: the check every email send makes (the API and CLI that add them build on it)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core.emails import email_key
from tidings.db.models import Sender


async def find(session: AsyncSession, account_id: int, email: str) -> Sender | None:
    stmt = select(Sender).where(Sender.account_id == account_id, Sender.email_key == email_key(email))
    return (await session.execute(stmt)).scalar_one_or_none()


async def is_verified(session: AsyncSession, account_id: int, email: str) -> bool:
    """Whether this address (any case) is a verified sender of the account."""
    sender = await find(session, account_id, email)
    return sender is not None and sender.verified_at is not None
