"""Helpers shared by the outreach routes: callers per rate-limit group and id parsing."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request

from tidings.api import deps
from tidings.api.outreach_v1.ids import decode
from tidings.core.errors import ValidationFailed
from tidings.core.ids import Kind
from tidings.tenancy.subject import AuthSubject

# One check for every dialect: text that no column can store is a 422 naming the field.
storable_input = deps.require_storable_input


def _checked(group: str) -> Callable[..., Awaitable[AuthSubject]]:
    """An outreach caller of one rate-limit group whose input is checked once authenticated."""
    authenticate = deps.outreach(group)

    # A default, not Annotated: the closure's names are invisible to FastAPI's annotation lookup.
    async def dependency(request: Request, subject: AuthSubject = Depends(authenticate)) -> AuthSubject:
        await storable_input(request)
        return subject

    return dependency


Caller = Annotated[AuthSubject, Depends(_checked("default"))]
ClientsCaller = Annotated[AuthSubject, Depends(_checked("clients"))]
SearchCaller = Annotated[AuthSubject, Depends(_checked("contacts_search"))]
# The import validates its rows one by one and reports unstorable cells per line.
RowsCaller = Annotated[AuthSubject, Depends(deps.outreach("default"))]

# Never a primary key: an id that does not decode matches nothing instead of matching NULL.
NO_ROW = -1


def pk(kind: Kind, public: str | None) -> int | None:
    """The primary key of a public id; None (a 404 in the services) when it does not decode."""
    return decode(kind, public)


def filter_pk(kind: Kind, public: str) -> int:
    """A filter's primary key; an unknown id filters everything out."""
    return decode(kind, public) or NO_ROW


def page(limit: int | None, offset: int | None, *, default: int, maximum: int) -> tuple[int, int]:
    """Documented paging: a limit from 1 to `maximum` (default `default`) and a zero-based offset."""
    size = default if limit is None else limit
    if not 1 <= size <= maximum:
        raise ValidationFailed.on("limit", f"The limit must be between 1 and {maximum}.")
    start = 0 if offset is None else offset
    if start < 0:
        raise ValidationFailed.on("offset", "The offset must be at least 0.")
    return size, start


def flag(value: str | None, name: str) -> bool | None:
    """A 0/1/true/false query flag."""
    if value is None or value == "":
        return None
    lowered = value.strip().lower()
    if lowered in ("1", "true"):
        return True
    if lowered in ("0", "false"):
        return False
    raise ValidationFailed.on(name, f"The {name} field must be true or false.")
