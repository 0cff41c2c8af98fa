"""The link mailed to a registered sender: opening it verifies the address."""

from __future__ import annotations

import html

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from tidings.api import deps
from tidings.messaging import senders

router = APIRouter()
_NO_STORE = {"Cache-Control": "no-store, private"}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(
        "<!doctype html><html><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        f"<title>{html.escape(title)}</title><style>body{{font-family:system-ui,sans-serif;max-width:32rem;"
        "margin:4rem auto;padding:0 1rem;color:#222}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>", status_code=status, headers=_NO_STORE)


@router.get("/senders/verify/{token}")
async def verify_sender(token: str, session: deps.Session) -> HTMLResponse:
    sender = await senders.verify(session, token)
    if sender is None:
        return _page("Link not valid", "<p>This verification link is not valid or has expired.</p>", 404)
    await session.commit()
    return _page("Sender verified", f"<p><b>{html.escape(sender.email)}</b> can now be used as a sender.</p>")
