"""Upserts of stats counters, portable across SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.db.models import StatCounter


async def bump(
    session: AsyncSession,
    *,
    account_id: int,
    scope: str,
    scope_id: int,
    day: date,
    metric: str,
    step: int = 0,
    by: int = 1,
) -> None:
    """Add `by` to one counter, creating it at zero first; runs inside the caller's transaction."""
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    stmt = insert(StatCounter).values(
        account_id=account_id, scope=scope, scope_id=scope_id, step=step, day=day, metric=metric, value=by
    )
    stmt = stmt.on_conflict_do_update(
        index_elements=["scope", "scope_id", "step", "day", "metric"],
        set_={"value": StatCounter.value + by},
    )
    await session.execute(stmt)
