"""Open pixel, click redirect and unsubscribe (page and RFC 8058 one-click POST)."""

from __future__ import annotations

import base64
import html

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from tidings.api import deps
from tidings.db.models import Message
from tidings.messaging import events, tracking

router = APIRouter()
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
_NO_STORE = {"Cache-Control": "no-store, private", "Pragma": "no-cache"}


async def _message(session: deps.Session, token: str) -> Message | None:
    message_id = tracking.message_id(token)
    return None if message_id is None else await session.get(Message, message_id)


@router.get("/t/o/{token}.gif")
async def open_pixel(token: str, session: deps.Session) -> Response:
    message = await _message(session, token)
    if message is not None and message.direction == "out":
        await events.record(session, message, "opened")
        await session.commit()
    return Response(PIXEL, media_type="image/gif", headers=_NO_STORE)


@router.get("/t/c/{token}")
async def click(token: str, u: str, s: str, session: deps.Session) -> Response:
    if not u.startswith(("http://", "https://")) or s != tracking.url_signature(token, u):
        return HTMLResponse("<h1>Link not valid</h1>", status_code=404)
    message = await _message(session, token)
    if message is not None and message.direction == "out":
        await events.record(session, message, "clicked", details={"url": u})
        await session.commit()
    return RedirectResponse(u, status_code=302, headers=_NO_STORE)


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;"
        "margin:4rem auto;padding:0 1rem;color:#222}button{font-size:1rem;padding:.6rem 1.2rem}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>", status_code=status, headers=_NO_STORE)


@router.get("/u/{token}")
async def unsubscribe_page(token: str, session: deps.Session) -> HTMLResponse:
    message = await _message(session, token)
    if message is None:
        return _page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
    who = html.escape(message.recipient)
    return _page("Unsubscribe", f"<p>Stop all messages to <b>{who}</b> from this sender?</p>"
                 "<form method=post><button type=submit>Unsubscribe</button></form>")


@router.post("/u/{token}")
async def unsubscribe(token: str, request: Request, session: deps.Session) -> HTMLResponse:
    """The page's button and the RFC 8058 one-click POST (body List-Unsubscribe=One-Click)."""
    message = await _message(session, token)
    if message is None:
        return _page("Link not valid", "<p>This unsubscribe link is not valid.</p>", 404)
    await events.record(session, message, "unsubscribed", details={"via": "link"})
    await session.commit()
    return _page("Unsubscribed", f"<p>{html.escape(message.recipient)} will receive no more messages from "
                 "this sender.</p>")
