"""Account information."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from tidings.api import deps
from tidings.core.errors import NotFound
from tidings.tenancy import repository
from tidings.tenancy.subject import AuthSubject

router = APIRouter()
Caller = Annotated[AuthSubject, Depends(deps.rest())]


@router.get("/account")
async def account(session: deps.Session, subject: Caller) -> dict[str, Any]:
    """Username, email, time zone, language, balance, creation date, country and currency."""
    acc = await repository.account_by_id(session, subject.account_id)
    if acc is None:
        raise NotFound("Resource not found")
    return {
        "username": acc.username,
        "email": acc.email,
        "timezone": acc.timezone,
        "language": acc.language,
        "balance": float(acc.balance),
        "creationDate": acc.created_at.strftime("%Y-%m-%d %H:%M:%S"),
        "country": acc.country,
        "currency": acc.currency,
    }
