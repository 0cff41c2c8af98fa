"""The one place that restricts queries to the caller's tenant.

Every repository query on tenant data goes through `scoped`; fetching another tenant's row by id
raises NotFound, never Forbidden, so existence does not leak.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core.errors import NotFound
from tidings.tenancy.subject import AuthSubject

T = TypeVar("T")
S = TypeVar("S", bound=Select[Any])


def scoped(stmt: S, model: Any, subject: AuthSubject) -> S:
    """Add the account filter and, for a client's user, the client filter."""
    stmt = stmt.where(model.account_id == subject.account_id)
    if subject.client_id is not None and hasattr(model, "client_id"):
        stmt = stmt.where(model.client_id == subject.client_id)
    return stmt


async def get_owned(session: AsyncSession, model: type[T], pk: int | None, subject: AuthSubject, what: str) -> T:
    """The row with this id if the subject may see it; NotFound otherwise."""
    if pk is None:
        raise NotFound(f"{what} not found.")
    row = (await session.execute(scoped(select(model), model, subject).where(model.id == pk))).scalar_one_or_none()  # type: ignore[attr-defined]
    if row is None:
        raise NotFound(f"{what} not found.")
    return row
