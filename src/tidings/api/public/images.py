"""Public images: GET /uploads/{folder}/{name}.{jpg|png}, the URLs /api/rest/images/generate answers with."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response

from tidings.api import deps
from tidings.messaging.images import service

router = APIRouter()


@router.get("/uploads/{folder}/{filename}")
async def image(folder: str, filename: str, request: Request) -> Response:
    path = service.stored_path(deps.get_settings(request), folder, filename)
    if path is None:
        return PlainTextResponse("Not found", status_code=404)
    return FileResponse(path, media_type=service.MEDIA_TYPES[path.suffix.lstrip(".")], headers={
        # The name is a hash of the content: it never changes, so caches may keep it.
        "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'",
    })
