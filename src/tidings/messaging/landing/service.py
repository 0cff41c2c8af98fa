"""Landing SMS: an SMS whose {LAND_URL} is a short link, unique per recipient, to a landing page served by Tidings.

The request is the SMS one (tidings.messaging.sms.service does the validation, parts, pricing and
queueing) plus the page: templateBody, or a template by templateV2Id / templateId, kept with the
sending as it was when sent. After the messages are queued each gets its own short link to
`/l/{token}`; parts were counted with a link of the same length. Opening the page records `opened`
(with device, browser and OS), its links are click-tracked, and its `[unsubscribe_link]` records
`unsubscribed_landing` (the number goes on the SMS blacklist, tidings.messaging.blacklist). Event
notifications report these messages on the channel `landing` (tidings.messaging.event_webhooks).
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.config import Settings
from tidings.core import mime
from tidings.core.errors import DomainError, ValidationFailed
from tidings.core.templating import render_custom_fields
from tidings.db.models import Contact, Message, Sending
from tidings.messaging import custom_links, events, shortlinks, tracking
from tidings.messaging.outbox import Queued
from tidings.messaging.preparers import UNSUB_PLACEHOLDERS
from tidings.messaging.sms import service as sms
from tidings.messaging.templates import service as templates
from tidings.tenancy.subject import AuthSubject

PLACEHOLDER: Final = "{LAND_URL}"
EXTRA_KEY: Final = "landing"  # in message.extra: this SMS carries a landing page (event_webhooks reads it)
MAX_HTML: Final = 2_000_000


@dataclass
class LandingInput:
    """The SMS parameters and the page's source (names follow the document)."""

    sms: sms.SmsInput
    template_body: Any = None
    template_id: Any = None
    template_v2_id: Any = None


def _refusal(code: int, description: str) -> DomainError:
    error = DomainError(description, nrs_code=code, description=description)
    error.status = 400
    return error


def landing_url(public_url: str, message_id: int) -> str:
    return f"{public_url.rstrip('/')}/l/{tracking.token(message_id)}"


def unsubscribe_url(public_url: str, message_id: int) -> str:
    return landing_url(public_url, message_id) + "/unsubscribe"


def _template_id(raw: Any, name: str) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, str) and raw.strip().isascii() and raw.strip().isdigit():
        raw = int(raw.strip())
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ValidationFailed.on(name, f"The {name} field must be an integer.")
    return raw


async def _page(session: AsyncSession, req: LandingInput, subject: AuthSubject) -> str:
    """The landing page's HTML: templateBody, else the template (140 when there is none)."""
    body = req.template_body
    if body is not None and not isinstance(body, str):
        raise ValidationFailed.on("templateBody", "The templateBody field must be a string of HTML.")
    if isinstance(body, str) and body.strip():
        if len(body) > MAX_HTML:
            raise ValidationFailed.on("templateBody", f"The templateBody may not be greater than {MAX_HTML} "
                                      "characters.")
        return body
    template_id = _template_id(req.template_id, "templateId")
    template_v2_id = _template_id(req.template_v2_id, "templateV2Id")
    if template_id is None and template_v2_id is None:
        raise _refusal(140, "Template missing")
    return await templates.body_for_mailing(session, subject, template_id=template_id, template_v2_id=template_v2_id)


async def send(session: AsyncSession, subject: AuthSubject, settings: Settings, req: LandingInput) -> Queued:
    """Validate (the SMS rules, then 141 and 140), queue the SMS, then give each message its own landing link."""
    sms.check(req.sms)  # the SMS codes first (102, 104, 106 ...), as for /sms
    if PLACEHOLDER not in req.sms.message:
        raise _refusal(141, "Missing landing placeholder")
    page = await _page(session, req, subject)
    probe = f"{settings.public_url.rstrip('/')}/s/{'x' * shortlinks.CODE_LENGTH}"
    req.sms.sending_channel = "landing"
    req.sms.sending_options = {EXTRA_KEY: {"html": page}}
    req.sms.message_extra = {EXTRA_KEY: True}
    req.sms.probes = {PLACEHOLDER: probe}
    queued = await sms.send(session, subject, settings, req.sms)
    shortener = shortlinks.Shortener(subject.account_id, settings.public_url)
    for result in queued.results:
        message = result.message
        if message is not None and message.body:
            message.body = message.body.replace(PLACEHOLDER, shortener(landing_url(settings.public_url, message.id)))
    await shortener.save(session)
    await session.flush()
    return queued


# --- the public page ---------------------------------------------------------------------------------------------


async def landing_message(session: AsyncSession, token: str) -> Message | None:
    """The landing SMS a page link names, or None."""
    message_id = tracking.message_id(token)
    message = await session.get(Message, message_id) if message_id is not None else None
    if message is None or message.direction != "out" or not (message.extra or {}).get(EXTRA_KEY):
        return None
    return message


async def page_html(session: AsyncSession, message: Message, public_url: str) -> str | None:
    """The page as this recipient sees it: their values filled in (escaped), their own links, clicks tracked."""
    sending = await session.get(Sending, message.sending_id) if message.sending_id is not None else None
    stored = ((sending.options or {}) if sending is not None else {}).get(EXTRA_KEY) or {}
    if not isinstance(stored.get("html"), str):
        return None
    values: dict[str, str] = {}
    if message.contact_id is not None:
        contact = await session.get(Contact, message.contact_id)
        if contact is not None and contact.account_id == message.account_id:
            values.update(sms.contact_fields(contact))
    values.update({str(k): str(v) for k, v in ((message.extra or {}).get("sub") or {}).items()})
    page = render_custom_fields(stored["html"], {k: html_lib.escape(v) for k, v in values.items()})
    unsub = unsubscribe_url(public_url, message.id)
    for placeholder in UNSUB_PLACEHOLDERS:
        page = page.replace(placeholder, unsub)
    page = custom_links.fill(page, public_url, message.id, show=landing_url(public_url, message.id)) or ""
    own = landing_url(public_url, message.id)
    return mime.rewrite_links(page, lambda url: tracking.click_url(public_url, message.id, url),
                              skip=lambda url: url.startswith(own))


async def opened(session: AsyncSession, message: Message, device: Mapping[str, str]) -> None:
    await events.record(session, message, "opened", details={"via": "landing", **device})


async def unsubscribe(session: AsyncSession, message: Message) -> None:
    await events.record(session, message, "unsubscribed_landing", details={"via": "landing"})
