"""URL shortener: POST /api/rest/shortener/shorten."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.rest import schemas
from tidings.messaging.shortlinks import Shortener, valid_url
from tidings.tenancy.subject import AuthSubject

router = APIRouter(route_class=ExactRoute)
Caller = Annotated[AuthSubject, Depends(deps.rest())]


class LongUrl(BaseModel):
    longUrl: str = Field(max_length=8192)  # noqa: N815 - the documented key


class ShortenIn(BaseModel):
    urls: list[LongUrl] = Field(min_length=1, max_length=1000)


@router.post("/shortener/shorten", response_model=schemas.ShortenedList)
async def shorten(body: ShortenIn, request: Request, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """Short links under TIDINGS_PUBLIC_URL/s/; an invalid URL answers `shortUrl: null, error: true`."""
    shortener = Shortener(subject.account_id, deps.get_settings(request).public_url)
    data = []
    for item in body.urls:
        ok = valid_url(item.longUrl)
        data.append({"longUrl": item.longUrl, "shortUrl": shortener(item.longUrl) if ok else None, "error": not ok})
    await shortener.save(session)
    await session.commit()
    return {"data": data}
