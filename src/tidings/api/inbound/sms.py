"""Status callbacks of Twilio-compatible SMS providers: POST /inbound/sms/twilio, signed with X-Twilio-Signature.

The signature (HMAC-SHA1 of the URL and the form fields with the provider's auth token) is what
authenticates a callback; unsigned or wrongly signed ones are refused with 403. The older URL with a
secret path token (`/inbound/sms/twilio/{token}`) still answers for messages sent before, and needs
the signature too. delivered, undelivered and failed become events; other statuses are progress.
"""

from __future__ import annotations

import hmac
from datetime import timedelta

from fastapi import APIRouter, Request, Response

from tidings.api import deps
from tidings.api.inbound.twilio_auth import signed_form
from tidings.channels.base import SMS
from tidings.core import clock
from tidings.core.errors import NotFound, ValidationFailed
from tidings.db.jobs import enqueue
from tidings.messaging.receipts import apply_receipt, callback_token, receipt_payload, twilio_receipt

router = APIRouter(tags=["inbound"])


@router.post("/inbound/sms/twilio", status_code=204)
async def twilio_status(request: Request, session: deps.Session) -> Response:
    """Record the delivery outcome a provider reports for one of our messages."""
    form = await signed_form(request, SMS)
    receipt = twilio_receipt(form)
    if receipt is None:
        raise ValidationFailed("MessageSid and MessageStatus are required")
    if receipt.status is not None and not await apply_receipt(session, receipt):
        # The callback overtook the dispatcher's record of the message: look again shortly.
        payload = {**receipt_payload(receipt), "first_seen": clock.now().isoformat()}
        await enqueue(session, "sms.receipt", payload, due_at=clock.now() + timedelta(seconds=5))
    await session.commit()
    return Response(status_code=204)


@router.post("/inbound/sms/twilio/{token}", status_code=204)
async def twilio_status_with_token(token: str, request: Request, session: deps.Session) -> Response:
    """The callback URL of messages sent before signatures were checked: its token and a signature."""
    settings = deps.get_settings(request)
    if not hmac.compare_digest(token.encode(), callback_token(settings.resolved_secret_key()).encode()):
        raise NotFound("Not Found")
    return await twilio_status(request, session)
