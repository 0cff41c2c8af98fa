"""`[show_link]`: GET /v/{token} shows the message as a web page; `[attachment_{ID}]`: GET /a/{token}/{id}."""

from __future__ import annotations

import html

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from tidings.api import deps
from tidings.api.public import pages
from tidings.db.models import Message
from tidings.messaging import custom_links, stored_attachments, tracking
from tidings.messaging.preparers import fill_unsubscribe
from tidings.tenancy.subject import AuthSubject

router = APIRouter()
# Account-written HTML on our own origin: no scripts, an origin of its own, links still work.
SANDBOX = {**pages.NO_STORE, "Content-Security-Policy": "sandbox allow-forms allow-popups "
           "allow-popups-to-escape-sandbox allow-top-navigation-by-user-activation"}


async def _message(session: deps.Session, token: str) -> Message | None:
    message_id = tracking.message_id(token)
    message = await session.get(Message, message_id) if message_id is not None else None
    return message if message is not None and message.direction == "out" else None


@router.get("/v/{token}")
async def show_message(token: str, request: Request, session: deps.Session) -> Response:
    """The recipient's own message (its links made its own); a landing SMS shows its landing page."""
    message = await _message(session, token)
    if message is None:
        return pages.notice("Link not valid", "This link is not valid.", 404)
    if (message.extra or {}).get("landing"):
        return RedirectResponse(f"/l/{token}", status_code=302, headers=pages.NO_STORE)
    public_url = deps.get_settings(request).public_url
    unsub = tracking.unsubscribe_url(public_url, message.id)
    if message.html:
        body = custom_links.fill(fill_unsubscribe(message.html, unsub), public_url, message.id) or ""
    else:
        text = custom_links.fill(fill_unsubscribe(message.body or "", unsub), public_url, message.id) or ""
        body = ("<!doctype html><meta charset=utf-8><meta name=viewport content='width=device-width'>"
                f"<title>{html.escape(message.subject or 'Message')}</title>"
                f"<pre style='white-space:pre-wrap;font:1rem/1.5 system-ui,sans-serif;max-width:40rem;"
                f"margin:2rem auto;padding:0 1rem'>{html.escape(text)}</pre>")
    return HTMLResponse(body, headers=SANDBOX)


@router.get("/a/{token}/{attachment_id}")
async def download(token: str, attachment_id: str, request: Request, session: deps.Session) -> Response:
    """The file, as a download, when the link's message and the file belong to the same account."""
    message = await _message(session, token)
    row = None
    if message is not None:
        row = await stored_attachments.find(session, AuthSubject(account_id=message.account_id, user_id=0),
                                            attachment_id)
    path = stored_attachments.path_of(deps.get_settings(request).data_dir, row.sha256) if row else None
    if row is None or path is None or not path.is_file():
        return pages.notice("File not found", "This attachment link is not valid.", 404)
    return FileResponse(path, media_type=row.content_type, filename=row.name,
                        headers={**SANDBOX, "Cache-Control": "private, max-age=3600"})
