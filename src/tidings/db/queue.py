"""The due-queue claim: rows with a due time, taken in batches under a lease.

On PostgreSQL the inner select uses FOR UPDATE SKIP LOCKED so concurrent workers never take the
same row; SQLite has one writer at a time (BEGIN IMMEDIATE), which gives the same guarantee.
A worker that dies keeps its lease only until `locked_until`; then any worker may take the row.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import ARRAY, BigInteger, ColumnElement, Update, any_, cast, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.db.base import DueMixin
from tidings.db.tracked import columns_of, tracked

T = TypeVar("T", bound=DueMixin)


async def claim(
    session: AsyncSession,
    model: type[T],
    *,
    worker: str,
    limit: int,
    lease_seconds: float,
    where: list[ColumnElement[bool]] | None = None,
    claimed_status: str | None = "running",
    as_tracked: bool = False,
) -> list[T]:
    """Lease up to `limit` due rows of `model` to `worker`, in (due_at, id) order; the caller commits.

    `as_tracked`: the rows as tracked rows (`db.tracked`) rather than objects of the session.
    """
    stmt = _claim_statement(session, model, worker, limit, lease_seconds, where, claimed_status)
    rows: list[Any]
    if as_tracked:
        rows = tracked(model, (await session.execute(stmt.returning(*columns_of(model)))).tuples())
    else:
        cls: Any = model
        rows = list((await session.execute(stmt.returning(cls))).scalars())
    return sorted(rows, key=lambda r: (r.due_at, r.id))


def _claim_statement(session: AsyncSession, model: type[T], worker: str, limit: int, lease_seconds: float,
                     where: list[ColumnElement[bool]] | None, claimed_status: str | None) -> Update:
    now = clock.now()
    cls: Any = model
    conditions: list[ColumnElement[bool]] = [
        cls.due_at.is_not(None),
        cls.due_at <= now,
        or_(cls.locked_until.is_(None), cls.locked_until < now),
        *(where or []),
    ]
    inner = select(cls.id).where(*conditions).order_by(cls.due_at, cls.id).limit(limit)
    batch: ColumnElement[bool] = cls.id.in_(inner.scalar_subquery())
    if session.get_bind().dialect.name == "postgresql":
        taken = inner.with_for_update(skip_locked=True).subquery()
        # The batch's ids as one array: PostgreSQL then finds them by primary key whatever the table's size. With
        # IN (subquery) it may hash-join them against every row of the table (with 100,000 messages it did).
        ids = cast(select(func.array_agg(taken.c.id)).scalar_subquery(), ARRAY(BigInteger))  # an array, not a set
        batch = cls.id == any_(ids)
    values: dict[str, Any] = {
        "locked_by": worker,
        "locked_until": now + timedelta(seconds=lease_seconds),
        "attempts": cls.attempts + 1,
    }
    if claimed_status is not None:
        values["status"] = claimed_status
    return update(cls).where(batch).values(**values).execution_options(synchronize_session=False)
