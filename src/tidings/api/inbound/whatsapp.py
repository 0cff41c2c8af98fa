"""WhatsApp webhooks: the Cloud API's at /inbound/whatsapp/meta, and the sandbox's simulated replies.

The Cloud API first verifies the URL with a GET (`hub.mode=subscribe`, `hub.verify_token`, `hub.challenge`);
its POSTs are accepted only with an `X-Hub-Signature-256` made with the configured app secret. Both
routes answer 404 unless TIDINGS_WHATSAPP_URL is a provider of their kind.
"""

from __future__ import annotations

import json
import secrets
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, ConfigDict, Field

from tidings.api import deps
from tidings.channels.base import Provider
from tidings.channels.sandbox import SandboxProvider
from tidings.channels.whatsapp.meta import MetaProvider
from tidings.core import ids
from tidings.core.errors import Forbidden, NotFound, Unauthenticated, ValidationFailed
from tidings.core.phones import normalize_phone
from tidings.messaging.whatsapp import repository, webhook
from tidings.messaging.whatsapp.service import Inbound, receive
from tidings.tenancy.subject import AuthSubject

router = APIRouter(tags=["inbound"])
MAX_BODY = 1_000_000


def _provider(request: Request) -> Provider:
    try:
        provider: Provider = request.app.state.providers.get("whatsapp")
    except Exception:  # noqa: BLE001 - a misconfigured provider URL: this route does not exist
        raise NotFound("Not Found") from None
    return provider


def _meta(request: Request) -> MetaProvider:
    provider = _provider(request)
    if not isinstance(provider, MetaProvider):
        raise NotFound("Not Found")
    return provider


@router.get("/inbound/whatsapp/meta", response_class=PlainTextResponse)
async def verify(
    request: Request,
    mode: Annotated[str | None, Query(alias="hub.mode")] = None,
    token: Annotated[str | None, Query(alias="hub.verify_token")] = None,
    challenge: Annotated[str | None, Query(alias="hub.challenge", max_length=200)] = None,
) -> PlainTextResponse:
    """Answer the subscription check with the challenge when the verify token is ours."""
    provider = _meta(request)
    if mode != "subscribe" or not provider.verify_token_valid(token) or not challenge:
        raise Forbidden("verification failed")
    return PlainTextResponse(challenge)


@router.post("/inbound/whatsapp/meta")
async def cloud_api_webhook(request: Request, session: deps.Session) -> Response:
    """Record the inbound messages and status updates of one signed webhook POST."""
    provider = _meta(request)
    body = await request.body()
    if len(body) > MAX_BODY:
        raise ValidationFailed("the body is too large")
    if not provider.signature_valid(body, request.headers.get("x-hub-signature-256")):
        raise Unauthenticated("missing or invalid X-Hub-Signature-256")
    try:
        payload = json.loads(body)
    except ValueError:
        raise ValidationFailed("the body must be JSON") from None
    inbound, statuses = webhook.parse(payload)
    await webhook.apply(session, inbound, statuses)
    await session.commit()
    return PlainTextResponse("ok")


class SandboxReply(BaseModel):
    """A user's message to simulate: text, or a press of a template's quick-reply button."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    user: str = Field(alias="from", max_length=32, description="The user's number.")
    to: str = Field(max_length=32, description="The account's registered WhatsApp number.")
    content: str | None = Field(default=None, max_length=4096)
    button: str | None = Field(default=None, max_length=256, description="The pressed button's text.")


class SandboxAccepted(BaseModel):
    id: str | None = Field(description="The inbound message's UUID (null when it changed nothing).")


@router.post("/inbound/whatsapp/sandbox", response_model=SandboxAccepted)
async def sandbox_reply(body: SandboxReply, request: Request, session: deps.Session,
                        subject: Annotated[AuthSubject, Depends(deps.rest())]) -> SandboxAccepted:
    """With the sandbox provider, make a user write to one of the account's numbers (Basic auth of the account)."""
    if not isinstance(_provider(request), SandboxProvider):
        raise NotFound("Not Found")
    if not (body.content and body.content.strip()) and not body.button:
        raise ValidationFailed.on("content", "content or button is required")
    number = normalize_phone(body.to)
    sender = await repository.sender_by_number(session, subject, number) if number else None
    if sender is None:
        raise NotFound("No such WhatsApp sender in this account")
    user = normalize_phone(body.user)
    if user is None:
        raise ValidationFailed.on("from", "from must be a valid international phone number")
    message = await receive(session, Inbound(
        phone_number_id=sender.phone_number_id, user=user, external_id=f"sbx-in-{secrets.token_hex(12)}",
        type="button" if body.button else "text", text=(body.content or "") if not body.button else "",
        button_text=body.button))
    await session.commit()
    return SandboxAccepted(id=ids.codec().to_uuid(ids.Kind.MESSAGE, message.id) if message is not None else None)



