"""Authenticating Twilio's webhooks: the X-Twilio-Signature of the URL we gave it and the form fields."""

from __future__ import annotations

from fastapi import Request

from tidings.api import deps
from tidings.channels import twilio_signature
from tidings.core.errors import Forbidden, NotFound, ValidationFailed

MAX_FIELD = 1000


async def signed_form(request: Request, channel: str) -> dict[str, str]:
    """The callback's form fields once its signature checks out with the channel's auth token.

    404 when the channel's provider is not a Twilio one (nobody was given this URL), 403 when the
    signature is missing or wrong. The URL signed is TIDINGS_PUBLIC_URL plus the path and query, as
    the provider was told it.
    """
    try:
        provider = request.app.state.providers.get(channel)
    except Exception:  # noqa: BLE001 - an unusable provider URL: nothing can have been sent there
        raise NotFound("Not Found") from None
    token = getattr(provider, "auth_token", None)
    if not isinstance(token, str) or not token:
        raise NotFound("Not Found")
    try:
        raw = await request.form(max_files=0, max_fields=100)
    except Exception:  # noqa: BLE001 - a malformed body is the caller's error, never a 500
        raise ValidationFailed("the body must be form fields") from None
    fields = [(k, v) for k, v in raw.multi_items() if isinstance(v, str)]
    query = f"?{request.url.query}" if request.url.query else ""
    url = deps.get_settings(request).public_url.rstrip("/") + request.url.path + query
    if not twilio_signature.valid(token, url, fields, request.headers.get(twilio_signature.HEADER)):
        raise Forbidden("invalid or missing X-Twilio-Signature")
    return {k: v[:MAX_FIELD] for k, v in fields}
