"""Public verification of a certificate's code: GET /certificates/verify/{code} (no credentials)."""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from tidings.api import deps
from tidings.messaging.certificates import service

router = APIRouter()
_NO_STORE = {"Cache-Control": "no-store, private"}
_LABELS = (("message_id", "Message id"), ("channel", "Channel"), ("sender", "Sender"), ("sender_name", "Sender name"),
           ("recipient", "Recipient"), ("cc", "Cc"), ("reply_to", "Reply-To"), ("submitted_at", "Submitted (UTC)"),
           ("scheduled_at", "Scheduled for (UTC)"), ("rfc_message_id", "Message-ID"),
           ("content_sha256", "Content SHA-256"), ("through_event", "Events attested"))


def _wants_html(request: Request) -> bool:
    """Browsers list text/html first; curl and API clients (*/* or JSON) get JSON."""
    first = request.headers.get("accept", "").split(",")[0].split(";")[0].strip().lower()
    return first == "text/html"


def _code(event: dict[str, Any]) -> str:
    return html.escape(f" (code {event['code']})") if event.get("code") else ""


def _page(facts: dict[str, Any] | None) -> HTMLResponse:
    esc = html.escape
    if facts is None:
        body = "<h1>Certificate not genuine</h1><p>No certificate issued here has this code.</p>"
    else:
        rows = []
        for key, label in _LABELS:
            value = facts.get(key)
            if value in (None, "", []):
                continue
            shown = ", ".join(value) if isinstance(value, list) else str(value)
            rows.append(f"<tr><th>{esc(label)}</th><td>{esc(shown)}</td></tr>")
        account = facts["account"]
        rows.insert(1, f"<tr><th>Account</th><td>{esc(account['name'])} (id {account['id']})</td></tr>")
        events = "".join(f"<li>{esc(e['at'])} {esc(e['kind'])}{_code(e)}</li>" for e in facts["events"])
        body = ("<h1>Certificate genuine</h1><p>This code was issued by this installation for the message below. "
                "The content is not shown; its SHA-256 must match the certificate's.</p>"
                f"<table>{''.join(rows)}</table><h2>Delivery events (UTC)</h2><ul>{events or '<li>none</li>'}</ul>")
    return HTMLResponse(
        "<!doctype html><html><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        "<title>Certificate verification</title><style>body{font-family:system-ui,sans-serif;max-width:46rem;"
        "margin:3rem auto;padding:0 1rem;color:#222}th{text-align:left;padding-right:1rem;vertical-align:top}"
        "td{font-family:ui-monospace,monospace;word-break:break-all}</style></head>"
        f"<body>{body}</body></html>", status_code=200 if facts is not None else 404, headers=_NO_STORE)


@router.get("/certificates/verify/{code}")
async def verify(code: str, request: Request, session: deps.Session) -> Response:
    """200 with the facts (no content) when the code is genuine; 404 for any other code, alike."""
    facts = await service.verify(session, deps.get_settings(request), code)
    if _wants_html(request):
        return _page(facts)
    if facts is None:
        return JSONResponse({"genuine": False}, status_code=404, headers=_NO_STORE)
    return JSONResponse({"genuine": True, "code": code, "certificate": facts}, headers=_NO_STORE)
