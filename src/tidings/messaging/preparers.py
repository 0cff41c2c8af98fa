"""Default preparers: email through the relay, SMS and WhatsApp through their providers (voice: messaging.voice.calls).

Message `extra` keys read here (all optional): reply_to, cc, bcc, headers, attachments
([{name, type, data(base64)}]), references, track_opens, track_clicks, list_unsubscribe,
encoding (sms), flash (sms). `[unsubscribe_link]` and `{UNSUB_URL}` become the message's
own unsubscribe link at send time, and an email's custom links (`[form_{ID}]`, `[show_link]`,
`[attachment_{ID}]`) its own links (tidings.messaging.custom_links). A certified message also gets
`as_sent`: the SHA-256 of what its provider was handed (tidings.messaging.certificates).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.channels.base import EMAIL, SMS, WHATSAPP, OutboundMessage
from tidings.config import Settings
from tidings.core import mime, sms
from tidings.core.emails import email_domain
from tidings.db.models import Message
from tidings.messaging import custom_links, tracking
from tidings.messaging.certificates.sealing import record_as_sent
from tidings.messaging.delivery import Prepared, preparer

UNSUB_PLACEHOLDERS = ("[unsubscribe_link]", "{UNSUB_URL}")


def fill_unsubscribe(text: str | None, url: str) -> str | None:
    if text is None:
        return None
    for placeholder in UNSUB_PLACEHOLDERS:
        text = text.replace(placeholder, url)
    return text


def _attachments(raw: list[dict[str, str]] | None) -> list[mime.Attachment]:
    out = []
    for item in raw or []:
        try:
            data = base64.b64decode(item.get("data", ""), validate=False)
        except (binascii.Error, ValueError):
            continue
        out.append(mime.Attachment(item.get("name") or "attachment", item.get("type") or "application/octet-stream",
                                   data))
    return out


def email_mime(message: Message, settings: Settings) -> OutboundMessage:
    """Build the RFC 5322 message: tracking, unsubscribe headers, threading, attachments."""
    outbound = _envelope(message)
    _build(outbound, message, settings)
    return outbound


def email_deferred(message: Message, settings: Settings, then: Callable[[OutboundMessage], None] | None = None,
                   ) -> tuple[OutboundMessage, Callable[[], None] | None]:
    """The email's OutboundMessage and, when building it changes nothing stored, the build (with `then`) left to do.

    A message given its Message-ID when queued (`outbox.message_row`) and not certified is built from what it holds,
    so the dispatcher builds it in the send's lane (`Prepared.finish`), beside other sends, instead of in the claim.
    Otherwise it is built now: the Message-ID it gets, or a certificate's seal, is written with the claim.
    """
    if message.rfc_message_id is None or (message.extra or {}).get("certified"):
        outbound = email_mime(message, settings)
        if then is not None:
            then(outbound)
        return outbound, None
    outbound = _envelope(message)

    def finish() -> None:
        _build(outbound, message, settings)
        if then is not None:
            then(outbound)

    return outbound, finish


def _envelope(message: Message) -> OutboundMessage:
    extra = message.extra or {}
    return OutboundMessage(EMAIL, message.sender, message.recipient, subject=message.subject,
                           reference=str(message.id), options={"cc": list(extra.get("cc") or ()),
                                                                 "bcc": list(extra.get("bcc") or [])})


def _build(outbound: OutboundMessage, message: Message, settings: Settings) -> None:
    """The message's MIME into `outbound.raw`."""
    extra = message.extra or {}
    unsub = tracking.unsubscribe_url(settings.public_url, message.id)
    html = custom_links.fill(fill_unsubscribe(message.html, unsub), settings.public_url, message.id)
    text = custom_links.fill(fill_unsubscribe(message.body, unsub), settings.public_url, message.id)
    if html and extra.get("track_clicks"):
        base = settings.public_url.rstrip("/")
        html = mime.rewrite_links(html, lambda url: tracking.click_url(settings.public_url, message.id, url),
                                  skip=lambda url: url.startswith(base + "/u/"))
    if html and extra.get("track_opens"):
        html = mime.add_open_pixel(html, tracking.open_url(settings.public_url, message.id))
    headers = dict(extra.get("headers") or {})
    if extra.get("list_unsubscribe", True):
        headers["List-Unsubscribe"] = f"<{unsub}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    raw, rfc_id = mime.build_email_bytes(
        from_addr=message.sender, from_name=message.sender_name, to_addr=message.recipient,
        to_name=message.recipient_name, subject=message.subject or "", html=html, text=text,
        reply_to=extra.get("reply_to"), cc=tuple(extra.get("cc") or ()),
        message_id_domain=email_domain(message.sender), in_reply_to=message.in_reply_to,
        references=tuple(extra.get("references") or ()), headers=headers,
        attachments=_attachments(extra.get("attachments")),
        # A retry after a crash keeps the Message-ID, so a receiver can recognise the copy (docs/reliability.md).
        message_id=message.rfc_message_id,
    )
    if message.rfc_message_id != rfc_id:  # usually given when queued (outbox.message_row): no UPDATE then
        message.rfc_message_id = rfc_id
    record_as_sent(message, raw)
    outbound.raw = raw


@preparer(EMAIL)
async def prepare_email(session: AsyncSession, message: Message, settings: Settings) -> Prepared:
    outbound, finish = email_deferred(message, settings)
    return Prepared(outbound, key="channel:email", finish=finish)


@preparer(SMS)
async def prepare_sms(session: AsyncSession, message: Message, settings: Settings) -> Prepared:
    extra = message.extra or {}
    body = message.body or ""
    if any(p in body for p in UNSUB_PLACEHOLDERS):
        body = fill_unsubscribe(body, tracking.unsubscribe_url(settings.public_url, message.id)) or ""
    encoding = extra.get("encoding") or sms.detect_encoding(body)
    if not sms.fits(body, encoding):
        encoding = "utf-16"
    parts = sms.split_parts(body, encoding)
    message.parts, message.encoding = max(1, len(parts)), encoding
    record_as_sent(message, body.encode("utf-8", "surrogatepass"), text=body)
    return Prepared(OutboundMessage(SMS, message.sender, message.recipient, body=body, parts=parts, encoding=encoding,
                                    reference=str(message.id), options={"flash": bool(extra.get("flash"))}),
                    key="channel:sms")


@preparer(WHATSAPP)
async def prepare_whatsapp(session: AsyncSession, message: Message, settings: Settings) -> Prepared:
    return Prepared(OutboundMessage(WHATSAPP, message.sender, message.recipient, body=message.body or "",
                                    reference=str(message.id), options=dict(message.extra or {})),
                    key="channel:whatsapp")
