"""Image generator: POST /api/rest/images/generate (base64 jpg/png in, public URLs out)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from tidings.api import deps
from tidings.api.rest.envelopes import responses
from tidings.messaging.images import service
from tidings.tenancy.subject import AuthSubject

router = APIRouter()
Caller = Annotated[AuthSubject, Depends(deps.rest())]


class ImageIn(BaseModel):
    """One image: the caller's id for it, its extension (jpg or png) and its bytes in base64."""

    model_config = ConfigDict(extra="ignore")

    externalId: str = Field(max_length=255)  # noqa: N815 - the documented names
    extension: str = Field(max_length=16)
    base64: str


class GenerateIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    images: list[ImageIn] = Field(min_length=1, max_length=service.MAX_IMAGES)


class ImageOut(BaseModel):
    externalId: str  # noqa: N815
    imageUrl: str | None  # noqa: N815
    error: bool
    reason: str | None = Field(default=None, description="Why the image was refused (only when error is true)")


class GenerateOut(BaseModel):
    data: list[ImageOut]


@router.post("/images/generate", response_model=GenerateOut, response_model_exclude_unset=True,
             responses=responses(400, 401, 413, 422, 429))
async def generate(body: GenerateIn, request: Request, subject: Caller) -> GenerateOut:
    """Store each image re-encoded without metadata; a bad image is `imageUrl: null, error: true` with a reason."""
    settings = deps.get_settings(request)
    uploads = [service.Upload(i.externalId, i.extension, i.base64) for i in body.images]
    results = await service.store(settings, subject.account_id, uploads)
    data = [ImageOut(externalId=r.external_id, imageUrl=r.url, error=False) if r.url is not None
            else ImageOut(externalId=r.external_id, imageUrl=None, error=True, reason=r.reason) for r in results]
    return GenerateOut(data=data)
