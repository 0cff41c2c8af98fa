"""Queries on accounts, users and credentials."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.db.models import Account, ApiCredential, ClientMembership, User


async def account_by_username(session: AsyncSession, username: str) -> Account | None:
    return (await session.execute(select(Account).where(Account.username == username))).scalar_one_or_none()


async def account_by_id(session: AsyncSession, account_id: int) -> Account | None:
    return await session.get(Account, account_id)


async def credential_by_hash(session: AsyncSession, digest: str) -> tuple[ApiCredential, User, Account] | None:
    stmt = (
        select(ApiCredential, User, Account)
        .join(User, User.id == ApiCredential.user_id)
        .join(Account, Account.id == ApiCredential.account_id)
        .where(ApiCredential.secret_hash == digest, ApiCredential.revoked_at.is_(None), User.active.is_(True))
    )
    row = (await session.execute(stmt)).first()
    return None if row is None else (row[0], row[1], row[2])


async def user_by_email(session: AsyncSession, account_id: int, email: str) -> User | None:
    """The account's user with this address, compared case-insensitively (an exact match first)."""
    stmt = (select(User).where(User.account_id == account_id, func.lower(User.email) == email.lower())
            .order_by((User.email != email), User.id).limit(1))
    return (await session.execute(stmt)).scalars().first()


async def membership(session: AsyncSession, user_id: int, client_id: int) -> ClientMembership | None:
    stmt = select(ClientMembership).where(ClientMembership.user_id == user_id, ClientMembership.client_id == client_id)
    return (await session.execute(stmt)).scalar_one_or_none()
