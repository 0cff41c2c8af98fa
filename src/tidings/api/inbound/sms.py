"""Status callbacks of Twilio-compatible SMS providers: POST /inbound/sms/twilio/{token}.

The token is an HMAC of the install secret, so only a provider we gave the URL to can post; a wrong
token is a 404. delivered, undelivered and failed become events; other statuses are progress.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

from fastapi import APIRouter, Request, Response

from tidings.api import deps
from tidings.core import clock
from tidings.core.errors import NotFound, ValidationFailed
from tidings.db.jobs import enqueue
from tidings.messaging.receipts import apply_receipt, callback_token, receipt_payload, twilio_receipt

router = APIRouter(tags=["inbound"])
MAX_FIELD = 1000


@router.post("/inbound/sms/twilio/{token}", status_code=204)
async def twilio_status(token: str, request: Request, session: deps.Session) -> Response:
    """Record the delivery outcome a provider reports for one of our messages."""
    settings = deps.get_settings(request)
    if not hmac.compare_digest(token.encode(), callback_token(settings.resolved_secret_key()).encode()):
        raise NotFound("Not Found")
    try:
        raw = await request.form(max_files=0, max_fields=100)
    except Exception:  # noqa: BLE001 - a malformed body is the caller's error, never a 500
        raise ValidationFailed("the body must be form fields") from None
    form = {k: v[:MAX_FIELD] for k, v in raw.items() if isinstance(v, str)}
    receipt = twilio_receipt(form)
    if receipt is None:
        raise ValidationFailed("MessageSid and MessageStatus are required")
    if receipt.status is not None and not await apply_receipt(session, receipt):
        # The callback overtook the dispatcher's record of the message: look again shortly.
        payload = {**receipt_payload(receipt), "first_seen": clock.now().isoformat()}
        await enqueue(session, "sms.receipt", payload, due_at=clock.now() + timedelta(seconds=5))
    await session.commit()
    return Response(status_code=204)
