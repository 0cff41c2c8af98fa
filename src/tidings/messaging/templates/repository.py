"""Every template query: always by account and version."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.db.models import Template


async def get(session: AsyncSession, account_id: int, version: int, template_id: int) -> Template | None:
    stmt = select(Template).where(Template.account_id == account_id, Template.version == version,
                                  Template.id == template_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def page(session: AsyncSession, account_id: int, version: int, offset: int, limit: int) -> list[Template]:
    stmt = (select(Template).where(Template.account_id == account_id, Template.version == version)
            .order_by(Template.id).offset(offset).limit(limit))
    return list((await session.execute(stmt)).scalars())


async def count(session: AsyncSession, account_id: int, version: int) -> int:
    stmt = select(func.count()).select_from(Template).where(Template.account_id == account_id,
                                                            Template.version == version)
    return int((await session.execute(stmt)).scalar_one())
