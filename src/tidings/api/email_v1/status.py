"""Email status search and list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from tidings.api import deps
from tidings.tenancy.subject import AuthSubject

router = APIRouter()
Caller = Annotated[AuthSubject, Depends(deps.wavy("email"))]


@router.post("/status/list")
async def status_list(session: deps.Session, subject: Caller) -> list[dict[str, Any]]:
    """Every email status not yet returned by this call; empty until emails are sent."""
    return []
