"""Short-link redirect: GET /s/{code}."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tidings.api import deps
from tidings.messaging.shortlinks import resolve

router = APIRouter()


@router.get("/s/{code}")
async def follow(code: str, session: deps.Session) -> Response:
    url = await resolve(session, code)
    if url is None:
        return HTMLResponse("<h1>Link not found</h1>", status_code=404)
    await session.commit()
    return RedirectResponse(url, status_code=302, headers={"Cache-Control": "no-store, private"})
