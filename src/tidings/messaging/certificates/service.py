"""Issue the certificate of a certified message, and verify a certificate's code."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.config import Settings
from tidings.core import clock, ids
from tidings.core.errors import NotFound
from tidings.core.ids import Kind
from tidings.core.mime import html_to_text
from tidings.db.models import Message
from tidings.messaging import tracking
from tidings.messaging.certificates import facts, repository
from tidings.messaging.preparers import fill_unsubscribe
from tidings.tenancy.subject import AuthSubject

NOT_SENT = "The certificate is available once the message has been sent."


@dataclass(frozen=True)
class Certificate:
    """Signed facts, their code, and what the PDF shows besides them."""

    facts: dict[str, Any]
    code: str
    verify_url: str
    issued_at: datetime
    body_text: str | None = None  # email: a text rendering of the body as sent


def verify_url(public_url: str, code: str) -> str:
    return f"{public_url.rstrip('/')}/certificates/verify/{code}"


def _readable_body(message: Message, public_url: str) -> str:
    """The email body as the recipient reads it: unsubscribe link filled in, HTML rendered as text."""
    unsubscribe = tracking.unsubscribe_url(public_url, message.id)
    if message.html is not None:
        return html_to_text(fill_unsubscribe(message.html, unsubscribe) or "")
    return fill_unsubscribe(message.body, unsubscribe) or ""


async def issue(session: AsyncSession, subject: AuthSubject, settings: Settings, message_id: int,
                channel: str) -> Certificate:
    """The certificate of the subject's certified message of this channel, as of now; NotFound otherwise."""
    message = await repository.outbound_message(session, subject, message_id, channel)
    if message is None or not facts.is_certified(message):
        raise NotFound("Resource not found")
    if message.sent_at is None:
        # Before sending, the content as sent does not exist yet, so there is nothing to attest.
        raise NotFound(NOT_SENT, description=NOT_SENT)
    account = await repository.account(session, subject)
    if account is None:
        raise NotFound("Resource not found")
    events = await repository.events(session, subject, message.id)
    signed = facts.build(message, account, events, through=len(events), public_url=settings.public_url)
    code = facts.code_for(signed)
    body = _readable_body(message, settings.public_url) if message.channel == "email" else None
    return Certificate(signed, code, verify_url(settings.public_url, code), clock.now(), body)


async def verify(session: AsyncSession, settings: Settings, code: str) -> dict[str, Any] | None:
    """The public facts (no content) of the certificate with this code; None unless the code is genuine."""
    parsed = facts.parse_code(code)
    if parsed is None:
        return None
    shown, through, mac = parsed
    public_pk = ids.from_int(Kind.MESSAGE, shown)
    if public_pk is not None:
        found = await _rebuild(session, settings, public_pk, through, mac, facts.VERSION)
        if found is not None:
            return found
    return await _rebuild(session, settings, shown, through, mac, 1)


async def _rebuild(session: AsyncSession, settings: Settings, message_id: int, through: int, mac: str,
                   version: int) -> dict[str, Any] | None:
    message = await repository.message_named_by_code(session, message_id)
    if message is None or message.direction != "out" or not facts.is_certified(message):
        return None
    # The code names the message, so the rebuild acts within that message's own account.
    owner = AuthSubject(account_id=message.account_id, user_id=0)
    account = await repository.account(session, owner)
    if account is None:
        return None
    if version == 1:
        events = await repository.events(session, owner, message.id, through=through)
    else:
        events = await repository.events(session, owner, message.id)
        if len(events) < through:
            return None
        events = events[:through]
    signed = facts.build(message, account, events, through=through, public_url=settings.public_url, version=version)
    return facts.public_view(signed) if facts.matches(signed, mac) else None
