"""Email mailings of the messaging dialect: validate a request, then queue one message per recipient.

Everything is checked before anything is written, so a refused request leaves no sending behind.
Each `to` address gets its own message (its own unsubscribe link and tracking); cc and bcc go with
every one of them. Sent through the email relay by the shared pipeline (tidings.messaging.preparers).
{OTP_CODE} in the body (or the subject) becomes a new code per `to` address (tidings.messaging.otp).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.core.emails import email_key, normalize_email
from tidings.core.errors import DomainError, ValidationFailed
from tidings.core.templating import render_custom_fields
from tidings.db.models import Message
from tidings.messaging import attachments as attachment_input
from tidings.messaging import otp, outbox, senders
from tidings.messaging.contacts import service as contact_database
from tidings.messaging.outbox import Outcome, Queued
from tidings.messaging.scheduled import parse_nrs_date
from tidings.messaging.templates import service as templates
from tidings.tenancy.subject import AuthSubject

SOURCE = "rest"
MAX_RECIPIENTS = 1000
MAX_COPY_RECIPIENTS = 50
MAX_ADDRESS = 320
MAX_NAME = 200
MAX_SUBJECT = 998


@dataclass
class MailingInput:
    """The request as the dialect received it (names follow the document)."""

    to: list[Any] | None = None
    body: str | None = None
    template_id: int | None = None
    template_v2_id: int | None = None
    cc: list[Any] | None = None
    bcc: list[Any] | None = None
    from_email: str | None = None
    from_name: str | None = None
    reply_to: str | None = None
    subject: str | None = None
    schedule_date: str | None = None
    campaign_name: str | None = None
    tags: list[Any] | None = None
    sub: list[Any] | None = None
    attachments: list[Any] | None = None
    track_opens: bool = True
    track_clicks: bool = True
    certified: bool = False
    otp_config: Any = None


def _nrs(code: int) -> DomainError:
    """A refusal with a documented 360nrs code; the dialect renders its description and status."""
    return DomainError(f"mailing refused (code {code})", nrs_code=code)


def _addresses(raw: list[Any] | None, name: str) -> list[str]:
    out: list[str] = []
    for item in raw or []:
        address = normalize_email(item) if isinstance(item, str) else None
        if address is None:
            raise ValidationFailed.on(name, f"The {name} field must contain valid email addresses.")
        out.append(address)
    if len(out) > MAX_COPY_RECIPIENTS:
        raise ValidationFailed.on(name, f"The {name} field may not have more than {MAX_COPY_RECIPIENTS} items.")
    return out


def _attachments(raw: list[Any] | None) -> list[dict[str, str]]:
    """Document shape {name, content (base64), contentType} to the preparer's {name, type, data}."""
    out: list[dict[str, str]] = []
    total = 0
    attachment_input.check_count(raw or [])
    for i, item in enumerate(raw or []):
        where = f"attachments.{i}"
        if not isinstance(item, Mapping):
            raise ValidationFailed.on(where, "Each attachment must be an object with name, content and contentType.")
        name = attachment_input.checked_name(item.get("name"), f"{where}.name")
        kind = item.get("contentType") or "application/octet-stream"
        if not isinstance(kind, str) or kind.count("/") != 1 or any(c in kind for c in " \r\n;"):
            raise ValidationFailed.on(f"{where}.contentType", "The contentType must be a MIME type such as text/plain.")
        data = attachment_input.decoded(item.get("content"), f"{where}.content", "content", total)
        total += len(data)
        out.append({"name": name, "type": kind.lower(), "data": base64.b64encode(data).decode()})
    return out


def _subs(raw: list[Any] | None, count: int) -> list[dict[str, str]]:
    if raw is None:
        return [{} for _ in range(count)]
    if len(raw) != count:
        raise ValidationFailed.on("sub", "The sub field must have one item per recipient in to.")
    out: list[dict[str, str]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, Mapping):
            raise ValidationFailed.on(f"sub.{i}", "Each sub item must be an object of variables.")
        out.append({str(k): "" if v is None else str(v) for k, v in item.items()
                    if isinstance(v, str | int | float | bool) or v is None})
    return out


def _one_line(text: str) -> str:
    # A substituted value must not break the Subject header into two.
    return " ".join(text.splitlines())


def _tags(raw: list[Any] | None) -> list[str]:
    tags = []
    for tag in raw or []:
        if not isinstance(tag, str | int) or not str(tag).strip() or len(str(tag)) > 100:
            raise ValidationFailed.on("tags", "Each tag must be a non-empty string of at most 100 characters.")
        tags.append(str(tag).strip())
    return tags


async def _verified(session: AsyncSession, subject: AuthSubject, req: MailingInput) -> tuple[str, str]:
    """fromEmail and replyTo, valid and verified (106/107/115, 116/117)."""
    raw_from = (req.from_email or "").strip()
    if not raw_from:
        raise _nrs(106)
    if len(raw_from) > MAX_ADDRESS:
        raise _nrs(107)
    from_email = normalize_email(raw_from)
    if from_email is None:
        raise ValidationFailed.on("fromEmail", "The fromEmail must be a valid email address.")
    raw_reply = (req.reply_to or "").strip()
    reply_to = normalize_email(raw_reply) if raw_reply and len(raw_reply) <= MAX_ADDRESS else None
    if reply_to is None:
        raise _nrs(116)
    if not await senders.is_verified(session, subject.account_id, from_email):
        raise _nrs(115)
    if not await senders.is_verified(session, subject.account_id, reply_to):
        raise _nrs(117)
    return from_email, reply_to


async def send(session: AsyncSession, subject: AuthSubject, req: MailingInput) -> Queued:
    """Validate the whole request, then open a sending and queue one message per valid recipient."""
    if not isinstance(req.to, list) or not req.to:
        raise _nrs(102)
    if len(req.to) > MAX_RECIPIENTS:
        raise ValidationFailed.on("to", f"The to field may not have more than {MAX_RECIPIENTS} items.")
    if req.body is not None and req.body.strip():
        html = req.body
    elif req.template_id is not None or req.template_v2_id is not None:
        html = await templates.body_for_mailing(session, subject, template_id=req.template_id,
                                                template_v2_id=req.template_v2_id)
    else:
        raise _nrs(104)
    title = (req.subject or "").strip()
    if not title or len(title) > MAX_SUBJECT or any(c in title for c in "\r\n"):
        raise _nrs(114)
    from_email, reply_to = await _verified(session, subject, req)
    from_name = (req.from_name or "").strip() or None
    if from_name is not None and (len(from_name) > MAX_NAME or any(c in from_name for c in "\r\n")):
        raise ValidationFailed.on("fromName", f"The fromName may not be greater than {MAX_NAME} characters.")
    due = parse_nrs_date(req.schedule_date, 108)
    if due is not None and due <= clock.now():
        due = None  # a date already past means now, as for an immediate mailing
    tags = _tags(req.tags)
    campaign_name = req.campaign_name.strip() if isinstance(req.campaign_name, str) else None
    if (req.campaign_name is not None and not campaign_name) or (tags and not campaign_name):
        raise _nrs(126)
    cc, bcc = _addresses(req.cc, "cc"), _addresses(req.bcc, "bcc")
    attachments = _attachments(req.attachments)
    subs = _subs(req.sub, len(req.to))
    config = otp.parse_config(req.otp_config, "otpConfig.")

    recipients = [normalize_email(to) if isinstance(to, str) else None for to in req.to]
    if not any(recipients):
        raise _nrs(102)
    # A mailing to a known contact is linked to it, and its fields fill the placeholders under the sub values.
    contacts = await contact_database.by_emails(session, subject, [a for a in recipients if a])
    with_otp = otp.PLACEHOLDER in html or otp.PLACEHOLDER in title
    pending: set[str] = set()
    if with_otp and config.reject_if_pending:
        keys = [otp.email(a).key for a in recipients if a]
        pending = await otp.pending_keys(session, subject, keys, config.app_id)
        if pending >= set(keys):
            raise DomainError("every recipient has a pending code", nrs_code=422, description=otp.PENDING_DESCRIPTION)
    sending = await outbox.open_sending(session, subject, channel="email", source=SOURCE, campaign_name=campaign_name,
                                        tags=tags, scheduled_at=due,
                                        options={"certified": req.certified, "trackOpens": req.track_opens,
                                                 "trackClicks": req.track_clicks})
    queued = Queued(sending)
    issued: list[tuple[otp.Recipient, str, Message]] = []
    for raw, address, values in zip(req.to, recipients, subs, strict=True):
        shown = raw if isinstance(raw, str) else str(raw)
        if address is None:
            queued.results.append(Outcome(shown, error=102))
            continue
        contact = contacts.get(email_key(address))
        target, code = None, None
        fields = {**contact_database.template_fields(contact), **values} if contact is not None else values
        if with_otp:
            target = otp.email(address)  # its key validates the address again: only when a code is wanted
            if target.key in pending:
                queued.results.append(otp.Refused(shown, error=422, description=otp.PENDING_DESCRIPTION))
                continue
            code = otp.draw(config)
            # The reserved variable wins over a sub value of the same name; it is not kept with the
            # custom fields, which reports show.
            fields = {**fields, otp.VARIABLE: code}
            if config.reject_if_pending:
                pending.add(target.key)  # the same address twice in one request gets one code
        extra: dict[str, Any] = {"reply_to": reply_to, "cc": cc, "bcc": bcc, "attachments": attachments,
                                 "track_opens": req.track_opens, "track_clicks": req.track_clicks}
        if values:
            extra["sub"] = values
        if req.certified:
            extra["certified"] = True
        if code is not None:
            extra["kind"] = "transactional"
        message = outbox.new_message(
            account_id=subject.account_id, channel="email", sender=from_email, recipient=address, sending=sending,
            due_at=due, sender_name=from_name, subject=_one_line(render_custom_fields(title, fields)),
            html=render_custom_fields(html, fields), contact_id=contact.id if contact is not None else None,
            extra=extra)
        queued.results.append(Outcome(shown, message=await outbox.queue(session, message)))
        if target is not None and code is not None:
            issued.append((target, code, message))
    if issued:
        await otp.issue(session, subject, [(t, c, m.id) for t, c, m in issued], config, starts_at=due)
    rejected = sum(1 for r in queued.results if r.message is None)
    sending.total += rejected
    sending.rejected += rejected
    return queued
