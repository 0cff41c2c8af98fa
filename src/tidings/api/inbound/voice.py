"""Twilio call status callbacks: POST /inbound/voice/twilio, signed with X-Twilio-Signature."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tidings.api import deps
from tidings.api.inbound.twilio_auth import signed_form
from tidings.channels.base import VOICE
from tidings.channels.voice import PROGRESS, STATUSES, CallUpdate
from tidings.core.errors import ValidationFailed
from tidings.messaging.voice import calls

router = APIRouter(tags=["inbound"])


@router.post("/inbound/voice/twilio", status_code=204)
async def twilio_call_status(request: Request, session: deps.Session) -> Response:
    """Record what a call status means for its message (delivered, retried, undelivered ...)."""
    form = await signed_form(request, VOICE)
    sid, status = form.get("CallSid", "").strip(), form.get("CallStatus", "").strip().lower()
    if not sid or len(sid) > 255 or status not in STATUSES:
        raise ValidationFailed("CallSid and a known CallStatus are required")
    raw = form.get("CallDuration", "").strip()
    duration = int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 7 else 0
    update = CallUpdate(sid, status, duration, form.get("AnsweredBy", "").strip().lower())
    message = await calls.find_call(session, sid)
    if message is not None:
        await calls.apply_updates(session, message, [update])
    elif status not in PROGRESS:
        await calls.later(session, [update])
    await session.commit()
    return Response(status_code=204)
