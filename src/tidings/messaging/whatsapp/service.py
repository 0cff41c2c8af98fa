"""WhatsApp use cases: the sender and template registry, template sends, conversations and inbound traffic.

A template send is validated whole before anything is written (140 for a template that is not the
account's or not approved, 115 for a sender not registered for WhatsApp); a recipient whose number or
values do not fit is refused alone (HTTP 207). Each message is a queued row sent by the dispatcher, with
the Cloud API message object in `extra["wa"]`. Free text goes only to a user who wrote within the last
24 hours (WhatsApp's customer service window); inbound messages open that window and get the automatic
answers of the last template sent to them (`defaultAnswer` to their first message, `buttonAnswers` to
button presses).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock, ids
from tidings.core.errors import Conflict, DomainError, NotFound, ValidationFailed
from tidings.core.phones import normalize_phone
from tidings.db.models import Message, Sending, WhatsappConversation, WhatsappSender, WhatsappTemplate
from tidings.messaging import events, outbox
from tidings.messaging.outbox import Outcome, Queued
from tidings.messaging.whatsapp import repository, templates
from tidings.tenancy.subject import AuthSubject

CHANNEL = "whatsapp"
SOURCE = "rest"
SESSION_WINDOW = timedelta(hours=24)
MAX_MESSAGES = 10_000
MAX_TEXT = 4096  # the Cloud API's limit for a text message body
MAX_FIELD = 1024
APPROVED = "APPROVED"
TEMPLATE_STATUSES = ("APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "DELETED")
CATEGORIES = ("MARKETING", "UTILITY", "AUTHENTICATION")


def nrs(code: int, description: str | None = None) -> DomainError:
    extra: dict[str, Any] = {"nrs_code": code}
    if description:
        extra["description"] = description
    return DomainError(description or f"request refused (code {code})", **extra)


def invalid_template() -> DomainError:
    return nrs(140, "Invalid template")


# --- registry (operators) ----------------------------------------------------------------------------


def _number(raw: str, what: str) -> str:
    number = normalize_phone(str(raw))
    if number is None:
        raise ValidationFailed.on(what, f"{raw!r} is not a valid international phone number")
    return number


async def add_sender(session: AsyncSession, account_id: int, number: str, phone_number_id: str, *,
                     waba_id: str | None = None, name: str = "") -> WhatsappSender:
    """Register (or update) a number the account sends from, with the provider's ids of it."""
    digits = _number(number, "number")
    if not phone_number_id.strip().isdigit():
        raise ValidationFailed.on("phone_number_id", "the phone-number id is the provider's numeric id")
    if waba_id is not None and not waba_id.strip().isdigit():
        raise ValidationFailed.on("waba_id", "the WhatsApp Business Account id is numeric")
    subject = AuthSubject(account_id=account_id, user_id=0)
    other = await repository.sender_by_phone_number_id(session, phone_number_id.strip())
    if other is not None and (other.account_id != account_id or other.number != digits):
        raise Conflict("this phone-number id is already registered for another number")
    sender = await repository.sender_by_number(session, subject, digits)
    if sender is None:
        sender = WhatsappSender(account_id=account_id, number=digits, phone_number_id=phone_number_id.strip())
        session.add(sender)
    sender.phone_number_id = phone_number_id.strip()
    sender.waba_id = waba_id.strip() if waba_id else sender.waba_id
    sender.name = name or sender.name or ""
    await session.flush()
    return sender


async def list_senders(session: AsyncSession, subject: AuthSubject) -> Sequence[WhatsappSender]:
    return await repository.senders(session, subject)


async def save_template(session: AsyncSession, account_id: int, values: dict[str, Any],
                        ) -> tuple[WhatsappTemplate, bool]:
    """Create or update the account's template of this name and language; True when it was created."""
    status = str(values.get("status") or APPROVED).upper()
    if status not in TEMPLATE_STATUSES:
        raise ValidationFailed.on("status", f"status must be one of {', '.join(TEMPLATE_STATUSES)}")
    name, language = str(values.get("name") or "").strip(), str(values.get("language") or "").strip()
    if not name or not language:
        raise ValidationFailed.on("name", "a template needs a name and a language")
    row = await repository.template_by_name(session, account_id, name, language)
    created = row is None
    if row is None:
        row = WhatsappTemplate(account_id=account_id, name=name, language=language)
        session.add(row)
    row.category = str(values.get("category") or row.category or "MARKETING").upper()
    row.status = status
    row.header = dict(values.get("header") or {})
    row.body = str(values.get("body") or "")
    row.footer = values.get("footer") or None
    row.buttons = list(values.get("buttons") or [])
    row.provider_id = values.get("provider_id") or row.provider_id
    row.waba_id = values.get("waba_id") or row.waba_id
    row.updated_at = clock.now()
    await session.flush()
    return row, created


async def list_templates(session: AsyncSession, subject: AuthSubject) -> Sequence[WhatsappTemplate]:
    return await repository.templates(session, subject)


@dataclass
class Synced:
    created: int = 0
    updated: int = 0
    removed: int = 0


async def sync_templates(session: AsyncSession, account_id: int, waba_id: str,
                         listed: list[dict[str, Any]]) -> Synced:
    """Make the account's templates of one business account what the provider lists; missing ones become DELETED."""
    result = Synced()
    seen: set[int] = set()
    for raw in listed:
        values = templates.from_provider(raw)
        if values is None:
            continue
        if values["status"] not in TEMPLATE_STATUSES:
            values["status"] = "PENDING"  # IN_APPEAL and the like: not sendable yet
        row, created = await save_template(session, account_id, {**values, "waba_id": waba_id})
        seen.add(row.id)
        if created:
            result.created += 1
        else:
            result.updated += 1
    subject = AuthSubject(account_id=account_id, user_id=0)
    for row in await repository.templates(session, subject, waba_id):
        if row.id not in seen and row.status != "DELETED":
            row.status, row.updated_at = "DELETED", clock.now()
            result.removed += 1
    return result


# --- template sends ----------------------------------------------------------------------------------


@dataclass
class Location:
    lat: str
    long: str
    name: str | None = None
    address: str | None = None


@dataclass
class MessageInput:
    to: str | None
    header_fields: list[str] | None = None
    body_fields: list[str] | None = None
    call_to_action_fields: list[str] | None = None
    default_answer: list[str] | None = None
    button_answers: list[str] | None = None
    location: Location | None = None


@dataclass
class SendInput:
    template_id: int | None
    sender: str | None
    messages: list[MessageInput] | None
    campaign_name: str | None = None
    tags: list[str] | None = None


@dataclass
class Refused(Outcome):
    description: str | None = None


def _fields(values: list[str] | None, wanted: int, name: str, index: int) -> str | None:
    """Why a list of positional values does not fit the template (None when it does)."""
    got = len(values or [])
    if got != wanted:
        return (f"The messages.{index}.{name} field must have {wanted} value{'s' if wanted != 1 else ''} "
                f"(the template's variables), not {got}")
    if any(not v.strip() or len(v) > MAX_FIELD for v in values or []):
        return f"The messages.{index}.{name} values must be non-empty texts of at most {MAX_FIELD} characters"
    return None


def _is_https(url: str) -> bool:
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname) and not any(c.isspace() for c in url.strip())


def _coordinate(value: str, bound: float) -> bool:
    try:
        number = float(value)
    except ValueError:
        return False
    return -bound <= number <= bound


@dataclass
class _Plan:
    """One recipient's number and values, or why it is refused (code, description)."""

    number: str = ""
    values: templates.Values | None = None
    code: int = 0
    description: str = ""


def _refuse(code: int, description: str) -> _Plan:
    return _Plan(code=code, description=description)


def _plan(needs: templates.Needs, item: MessageInput, index: int) -> _Plan:
    number = normalize_phone(item.to) if isinstance(item.to, str) and item.to.strip() else None
    if number is None:
        return _refuse(102, f"The messages.{index}.to field does not contain a valid phone number")
    for values, wanted, name in ((item.header_fields, needs.header, "headerFields"),
                                 (item.body_fields, needs.body, "bodyFields"),
                                 (item.call_to_action_fields, needs.actions, "callToActionFields")):
        problem = _fields(values, wanted, name, index)
        if problem:
            return _refuse(422, problem)
    if needs.media and not _is_https(item.header_fields[0] if item.header_fields else ""):
        return _refuse(422, f"The messages.{index}.headerFields value must be the https URL of the header's media")
    location = None
    if needs.location:
        loc = item.location
        if loc is None:
            return _refuse(422, f"The messages.{index}.location field is required for this template")
        if not _coordinate(loc.lat, 90) or not _coordinate(loc.long, 180):
            return _refuse(422, f"The messages.{index}.location lat and long must be coordinates")
        location = {"lat": loc.lat.strip(), "long": loc.long.strip()}
        location.update({k: v[:MAX_FIELD] for k, v in (("name", loc.name), ("address", loc.address)) if v})
    answers = item.button_answers or []
    if len(answers) > needs.quick_replies:
        return _refuse(422, f"The messages.{index}.buttonAnswers field has {len(answers)} answers; "
                            f"the template has {needs.quick_replies} quick-reply buttons")
    for text in [*(item.default_answer or []), *answers]:
        if not text.strip() or len(text) > MAX_TEXT:
            return _refuse(422, f"Automatic answers of messages.{index} must be texts of 1 to {MAX_TEXT} characters")
    return _Plan(number, templates.Values(header=list(item.header_fields or []), body=list(item.body_fields or []),
                                          actions=list(item.call_to_action_fields or []), location=location,
                                          with_payloads=bool(answers)))


def _campaign(req: SendInput) -> tuple[str | None, list[str]]:
    tags = list(dict.fromkeys(t.strip() for t in req.tags or [] if t.strip()))
    if any(len(t) > 100 for t in tags):
        raise ValidationFailed.on("tags", "Each tag must be at most 100 characters.")
    name = req.campaign_name.strip() if req.campaign_name is not None else None
    if (req.campaign_name is not None and not name) or (req.tags and not name):
        raise nrs(126)
    if name is not None and len(name) > 255:
        raise ValidationFailed.on("campaignName", "The campaignName may not be greater than 255 characters.")
    return name, tags


async def check_template(session: AsyncSession, subject: AuthSubject, template_id: int | None) -> WhatsappTemplate:
    """The account's approved template behind a public id, else 140."""
    if template_id is None:
        raise nrs(140)
    pk = ids.from_int(ids.Kind.WHATSAPP_TEMPLATE, template_id) if template_id > 0 else None
    row = await repository.template(session, subject, pk) if pk is not None else None
    if row is None or row.status != APPROVED:
        raise invalid_template()
    return row


async def check_sender(session: AsyncSession, subject: AuthSubject, raw: str | None) -> WhatsappSender:
    if raw is None or not raw.strip():
        raise nrs(106)
    number = normalize_phone(raw)
    sender = await repository.sender_by_number(session, subject, number) if number else None
    if sender is None:
        raise nrs(115, "Sender is not registered for WhatsApp")
    return sender


async def send(session: AsyncSession, subject: AuthSubject, req: SendInput) -> Queued:
    """Validate the whole request, then open a sending and queue one template message per valid recipient."""
    template = await check_template(session, subject, req.template_id)
    sender = await check_sender(session, subject, req.sender)
    if not req.messages:
        raise nrs(102)
    if len(req.messages) > MAX_MESSAGES:
        raise ValidationFailed.on("messages", f"The messages field may not have more than {MAX_MESSAGES} items.")
    campaign_name, tags = _campaign(req)
    needs = templates.needs(template)
    plans = [_plan(needs, item, i) for i, item in enumerate(req.messages)]
    if all(p.values is None for p in plans):
        raise nrs(plans[0].code, plans[0].description)
    sending = await outbox.open_sending(session, subject, channel=CHANNEL, source=SOURCE,
                                        campaign_name=campaign_name, tags=tags, options={"tags": tags})
    queued = Queued(sending)
    accepted: list[tuple[Message, MessageInput]] = []
    for item, plan in zip(req.messages, plans, strict=True):
        values = plan.values
        if values is None:
            queued.results.append(Refused(str(item.to or ""), error=plan.code, description=plan.description))
            continue
        extra: dict[str, Any] = {"type": "template", "phone_number_id": sender.phone_number_id,
                                 "template_id": template.id, "wa": templates.message_object(template, values)}
        message = outbox.new_message(account_id=subject.account_id, channel=CHANNEL, sender=sender.number,
                                     recipient=plan.number, sending=sending, body=templates.content(template, values),
                                     extra=extra)
        session.add(message)
        accepted.append((message, item))
        queued.results.append(Outcome(plan.number, message=message))
    await session.flush()
    recipients = [message.recipient for message, _ in accepted]
    await repository.ensure_conversations(session, subject.account_id, sender.number, recipients)
    conversations = await repository.conversations_of(session, subject, sender.number, recipients)
    for message, item in accepted:
        conv = conversations[message.recipient]
        conv.total_messages += 1
        conv.updated_at = clock.now()
        conv.template_message_id = message.id
        conv.default_answer = list(item.default_answer or [])
        conv.button_answers = list(item.button_answers or [])
    rejected = sum(1 for r in queued.results if r.message is None)
    sending.total += rejected
    sending.rejected += rejected
    return queued


async def _conversation(session: AsyncSession, subject: AuthSubject, ours: str, user: str) -> WhatsappConversation:
    """The conversation of a number and a user, created on first use, locked for an update."""
    await repository.ensure_conversations(session, subject.account_id, ours, [user])
    return (await repository.conversations_of(session, subject, ours, [user]))[user]


# --- conversations -----------------------------------------------------------------------------------


def session_expires(conv: WhatsappConversation) -> datetime | None:
    return None if conv.last_inbound_at is None else conv.last_inbound_at + SESSION_WINDOW


def session_active(conv: WhatsappConversation) -> bool:
    expires = session_expires(conv)
    return expires is not None and clock.now() < expires


async def get_conversation(session: AsyncSession, subject: AuthSubject, ours: str, user: str, *,
                           lock: bool = False) -> WhatsappConversation:
    """The conversation between one of the account's numbers and a user; 404 when there is none."""
    a, b = normalize_phone(ours), normalize_phone(user)
    conv = await repository.conversation(session, subject, a, b, lock=lock) if a and b else None
    if conv is None:
        raise NotFound("Conversation not found")
    return conv


async def send_text(session: AsyncSession, subject: AuthSubject, ours: str, user: str, content: str | None,
                    ) -> Message:
    """Free text to a user who wrote within the last 24 hours; refused outside that window."""
    conv = await get_conversation(session, subject, ours, user, lock=True)
    if content is None or not content.strip():
        raise nrs(104)
    if len(content) > MAX_TEXT:
        raise nrs(105, f"Text message too long: at most {MAX_TEXT} characters")
    sender = await repository.sender_by_number(session, subject, conv.sender)
    if sender is None:
        raise nrs(115, "Sender is not registered for WhatsApp")
    if not session_active(conv):
        expired = session_expires(conv)
        since = f" (it closed at {clock.as_utc(expired).replace(microsecond=0).isoformat()})" if expired else ""
        raise Conflict("No active session: WhatsApp allows free text only within 24 hours of the user's last "
                       f"message{since}; send a template instead")
    sending = await outbox.open_sending(session, subject, channel=CHANNEL, source=SOURCE)
    return await _queue_text(session, conv, sender, content, sending=sending)


async def _queue_text(session: AsyncSession, conv: WhatsappConversation, sender: WhatsappSender, content: str, *,
                      sending: Sending | None, auto: str | None = None) -> Message:
    extra: dict[str, Any] = {"type": "text", "phone_number_id": sender.phone_number_id,
                             "wa": {"type": "text", "text": {"preview_url": False, "body": content}}}
    if auto:
        extra["auto_answer"] = auto
    message = outbox.new_message(account_id=conv.account_id, channel=CHANNEL, sender=conv.sender,
                                 recipient=conv.recipient, sending=sending, body=content, extra=extra)
    session.add(message)
    await session.flush()
    conv.total_messages += 1
    conv.updated_at = clock.now()
    return message


# --- inbound -----------------------------------------------------------------------------------------


@dataclass
class Inbound:
    """One message from a user, as a provider's webhook reports it."""

    phone_number_id: str
    user: str
    external_id: str
    type: str
    text: str = ""
    button_payload: str | None = None
    button_text: str | None = None
    reaction_to: str | None = None
    emoji: str | None = None
    name: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


async def receive(session: AsyncSession, inbound: Inbound) -> Message | None:
    """Record a user's message, open the service window, and queue the automatic answer it calls for.

    None when no registered sender has this phone-number id or the message was already recorded
    (providers deliver webhooks at least once).
    """
    sender = await repository.sender_by_phone_number_id(session, inbound.phone_number_id)
    user = normalize_phone(inbound.user) or (inbound.user if inbound.user.isdigit() else None)
    if sender is None or user is None:
        return None
    if await repository.message_by_external_id(session, inbound.external_id, "in") is not None:
        return None
    subject = AuthSubject(account_id=sender.account_id, user_id=0)
    if inbound.type == "reaction":
        await _react(session, inbound)
        return None
    conv = await _conversation(session, subject, sender.number, user)
    now = clock.now()
    extra: dict[str, Any] = {"type": inbound.type, **inbound.details}
    if inbound.button_payload or inbound.button_text:
        extra["button"] = {"payload": inbound.button_payload, "text": inbound.button_text}
    message = Message(account_id=sender.account_id, channel=CHANNEL, direction="in", status="received",
                      sender=user, recipient=sender.number, recipient_name=None, sender_name=inbound.name,
                      body=inbound.text or inbound.button_text or "", external_id=inbound.external_id[:255],
                      sent_at=now, delivered_at=now, extra=extra)
    session.add(message)
    conv.last_inbound_at, conv.updated_at = now, now
    conv.total_messages += 1
    await session.flush()
    await _auto_answer(session, conv, sender, inbound)
    return message


async def _auto_answer(session: AsyncSession, conv: WhatsappConversation, sender: WhatsappSender,
                       inbound: Inbound) -> None:
    """A button press gets its button's answer; the user's first message gets the default answer."""
    template_message = (await session.get(Message, conv.template_message_id)
                        if conv.template_message_id is not None else None)
    template_sending = (await session.get(Sending, template_message.sending_id)
                        if template_message is not None and template_message.sending_id is not None else None)
    if template_message is not None and template_message.direction == "out":
        await events.record(session, template_message, "replied", details={"external_id": inbound.external_id})
    answers: list[str] = []
    kind = "default"
    if (inbound.button_payload or inbound.button_text) and conv.button_answers and template_message is not None:
        template = await session.get(WhatsappTemplate, (template_message.extra or {}).get("template_id") or 0)
        index = templates.button_index(template, inbound.button_payload, inbound.button_text) if template else None
        if index is not None and index < len(conv.button_answers):
            answers, kind = [str(conv.button_answers[index])], "button"
    if not answers and conv.default_answer:
        answers = [str(a) for a in conv.default_answer]
    conv.default_answer = []  # only the user's first message after the template calls for it
    if not answers:
        return
    # A batch of its own in the template's campaign: the template's sending is another request's row.
    sending = Sending(account_id=conv.account_id, channel=CHANNEL, source=SOURCE,
                      campaign_id=template_sending.campaign_id if template_sending else None,
                      options={"auto_answer": kind})
    session.add(sending)
    await session.flush()
    for text in answers:
        await _queue_text(session, conv, sender, text, sending=sending, auto=kind)


async def _react(session: AsyncSession, inbound: Inbound) -> None:
    target = (await repository.message_by_external_id(session, inbound.reaction_to, "out")
              if inbound.reaction_to else None)
    if target is None:
        return
    reactions = [r for r in (target.extra or {}).get("reactions") or [] if isinstance(r, str)]
    if inbound.emoji:
        reactions.append(inbound.emoji)
    elif reactions:
        reactions.pop()  # an empty emoji takes the user's reaction back
    target.extra = {**(target.extra or {}), "reactions": reactions}


# The Cloud API's statuses as our events: read is an open (and implies delivery).
STATUS_EVENTS = {"sent": ("sent",), "delivered": ("delivered",), "read": ("delivered", "opened"),
                 "failed": ("failed",)}


async def apply_status(session: AsyncSession, external_id: str, status: str, detail: str = "",
                       code: str | None = None) -> bool:
    """Record what a status update means for one of our messages; False when no message has this id (yet)."""
    kinds = STATUS_EVENTS.get(status)
    if kinds is None:
        return True  # statuses we do not report (deleted, warning ...)
    message = await repository.message_by_external_id(session, external_id, "out")
    if message is None:
        return False
    stamps = {"sent": message.sent_at, "delivered": message.delivered_at, "opened": message.opened_at}
    for kind in kinds:
        if stamps.get(kind) is not None:
            continue  # repeated or implied already (a read before its delivery)
        if kind == "failed":
            await events.record(session, message, "failed", details={"code": code, "detail": detail or "failed"})
        else:
            await events.record(session, message, kind, details={"status": status})
    return True


@events.on_event(*events.FAILURES, wants=lambda facts: facts.get("channel") == CHANNEL)
async def remember_failure(session: AsyncSession, happened: events.Happened) -> None:
    """Keep when a WhatsApp message failed (the conversation's failedAt)."""
    message = happened.message
    if message.channel == CHANNEL and not (message.extra or {}).get("failed_at"):
        message.extra = {**(message.extra or {}),
                         "failed_at": clock.as_utc(happened.event.occurred_at).isoformat()}
