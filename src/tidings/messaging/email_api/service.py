"""Email dialect (Wavy Email API): queue one message per recipient, search statuses, list new ones once.

Sending goes through the shared pipeline (outbox → dispatcher → relay); `{{tag}}` substitution is
`core.templating.render_tags` with the recipient's substitutionData over the request's. Everything is
validated before anything is written, so a refused request leaves no sending behind.

List-once: a listener flags an email-API message (`Message.list_pending`) whenever one of its statuses
first changes; `/status/list` clears the flags with a conditional UPDATE ... RETURNING and answers
exactly the rows it cleared, so two concurrent calls never return the same status twice.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Select, literal_column, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core.emails import normalize_email
from tidings.core.errors import ValidationFailed
from tidings.core.templating import render_tags
from tidings.db.models import Campaign, Message, Sending
from tidings.messaging import attachments as attachment_input
from tidings.messaging import events, outbox, senders
from tidings.tenancy.scoping import scoped
from tidings.tenancy.subject import AuthSubject

SOURCE = "email_v1"
MAX_RECIPIENTS = 1000
# Decoded bytes of all attachments; relays commonly cap a message at 10-25 MB and base64 adds a third.
MAX_NAME = 200
MAX_SUBJECT = 998
MAX_CORRELATION = 255
MAX_EXTRA_INFO = 4000
MAX_SEARCH_KEYS = 1000
MAX_RESULTS = 1000
# Statuses of a message the list feed reports; each first change flags the message again.
LISTED_KINDS = ("sent", "delivered", *events.FAILURES, "opened", "clicked")


@dataclass
class Recipient:
    email: str
    name: str | None = None
    correlation_id: str | None = None
    extra_info: str | None = None
    substitution: dict[str, Any] = field(default_factory=dict)


@dataclass
class SendInput:
    """The request as the dialect received it."""

    from_email: str
    from_name: str
    recipients: list[Recipient]
    reply_to: str | None = None
    subject: str | None = None
    campaign_alias: str | None = None
    html: str | None = None
    text: str | None = None
    substitution: dict[str, Any] = field(default_factory=dict)
    attachments: list[dict[str, Any]] = field(default_factory=list)
    track_opens: bool = True
    track_clicks: bool = True


@dataclass
class Sent:
    sending: Sending
    messages: list[Message]


@dataclass
class Status:
    """One message and its campaign, as the status endpoints show it."""

    message: Message
    campaign: Campaign | None


def _one_line(text: str, name: str, limit: int) -> str:
    if len(text) > limit or any(c in text for c in "\r\n"):
        raise ValidationFailed.on(name, f"The {name} must be one line of at most {limit} characters.")
    return text


def _address(raw: str | None, name: str) -> str:
    address = normalize_email(raw) if raw and raw.strip() else None
    if address is None:
        raise ValidationFailed.on(name, f"The {name} must be a valid email address.")
    return address


def _attachments(raw: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The document's {data (base64), name, type} checked and kept in the preparer's shape."""
    attachment_input.check_count(raw)
    out: list[dict[str, str]] = []
    total = 0
    for i, item in enumerate(raw):
        where = f"attachments.{i}"
        kind = item.get("type") or "application/octet-stream"
        name = attachment_input.checked_name(item.get("name"), f"{where}.name")
        # The type is applied as-is (parameters such as charset included), so it only has to be one header value.
        main = kind.split(";", 1)[0].strip() if isinstance(kind, str) else ""
        if main.count("/") != 1 or " " in main or len(kind) > 255 or any(c in kind for c in "\r\n"):
            raise ValidationFailed.on(f"{where}.type",
                                      "The attachment type must be a MIME type such as application/pdf.")
        decoded = attachment_input.decoded(item.get("data"), f"{where}.data", "data", total)
        total += len(decoded)
        out.append({"name": name, "type": kind.strip(), "data": base64.b64encode(decoded).decode()})
    return out


def _recipient(i: int, r: Recipient) -> tuple[str, str | None, str | None, str | None]:
    where = f"recipients.{i}"
    address = _address(r.email, f"{where}.emailAddress")
    name = _one_line(r.name.strip(), f"{where}.emailName", MAX_NAME) if r.name and r.name.strip() else None
    correlation = r.correlation_id
    if correlation is not None and len(correlation) > MAX_CORRELATION:
        raise ValidationFailed.on(f"{where}.correlationId",
                                  f"The correlationId may not be greater than {MAX_CORRELATION} characters.")
    if r.extra_info is not None and len(r.extra_info) > MAX_EXTRA_INFO:
        raise ValidationFailed.on(f"{where}.extraInfo",
                                  f"The extraInfo may not be greater than {MAX_EXTRA_INFO} characters.")
    return address, name, correlation, r.extra_info


async def send(session: AsyncSession, subject: AuthSubject, req: SendInput) -> Sent:
    """Validate the whole request, then open a sending and queue one email per recipient."""
    from_email = _address(req.from_email, "fromEmail")
    from_name = _one_line(req.from_name.strip(), "fromName", MAX_NAME)
    if not from_name:
        raise ValidationFailed.on("fromName", "The fromName field is required.")
    reply_to = _address(req.reply_to, "replyTo") if req.reply_to and req.reply_to.strip() else None
    title = _one_line(req.subject or "", "subject", MAX_SUBJECT)
    if not (req.html or "").strip() and not (req.text or "").strip():
        raise ValidationFailed.on("emailHtml", "The emailHtml or the emailText field is required.")
    if not req.recipients:
        raise ValidationFailed.on("recipients", "The recipients field must have at least one item.")
    if len(req.recipients) > MAX_RECIPIENTS:
        raise ValidationFailed.on("recipients", f"The recipients field may not have more than {MAX_RECIPIENTS} items.")
    alias = (req.campaign_alias or "").strip() or None
    if alias is not None:
        alias = _one_line(alias, "campaignAlias", 255)
    checked = [_recipient(i, r) for i, r in enumerate(req.recipients)]
    attachments = _attachments(req.attachments)
    if not await senders.is_verified(session, subject.account_id, from_email):
        raise ValidationFailed.on("fromEmail", f"The fromEmail {from_email} is not a verified sender of this account.")

    sending = await outbox.open_sending(session, subject, channel="email", source=SOURCE, campaign_name=alias,
                                        options={"trackOpens": req.track_opens, "trackClicks": req.track_clicks})
    messages: list[Message] = []
    for r, (address, name, correlation, extra_info) in zip(req.recipients, checked, strict=True):
        data = {**req.substitution, **r.substitution}
        extra: dict[str, Any] = {"email_api": True, "attachments": attachments, "track_opens": req.track_opens,
                                 "track_clicks": req.track_clicks}
        if reply_to:
            extra["reply_to"] = reply_to
        if extra_info is not None:
            extra["extra_info"] = extra_info
        html = render_tags(req.html, data, escape=True) if req.html and req.html.strip() else None
        text = render_tags(req.text, data) if req.text and req.text.strip() else None
        message = outbox.new_message(
            account_id=subject.account_id, channel="email", sender=from_email, recipient=address, sending=sending,
            sender_name=from_name, recipient_name=name, correlation_id=correlation,
            # A substituted value must not split the Subject header in two.
            subject=" ".join(render_tags(title, data).splitlines()), html=html, body=text, extra=extra)
        messages.append(await outbox.queue(session, message))
    return Sent(sending, messages)


def _email_api_messages(subject: AuthSubject) -> Select[Any]:
    stmt = select(Message).join(Sending, Message.sending_id == Sending.id).where(Sending.source == SOURCE)
    return scoped(stmt, Message, subject)


async def _with_campaigns(session: AsyncSession, messages: list[Message]) -> list[Status]:
    ids = {m.campaign_id for m in messages if m.campaign_id is not None}
    campaigns: dict[int, Campaign] = {}
    if ids:
        rows = (await session.execute(select(Campaign).where(Campaign.id.in_(ids)))).scalars()
        campaigns = {c.id: c for c in rows}
    return [Status(m, campaigns.get(m.campaign_id) if m.campaign_id else None) for m in messages]


async def search(
    session: AsyncSession,
    subject: AuthSubject,
    *,
    message_ids: list[int],
    sending_ids: list[int],
    correlation_ids: list[str],
    start: datetime | None,
    end: datetime | None,
) -> list[Status]:
    """Messages matching any id or correlationId, within [start, end] of creation; oldest first."""
    if len(message_ids) + len(sending_ids) > MAX_SEARCH_KEYS or len(correlation_ids) > MAX_SEARCH_KEYS:
        raise ValidationFailed.on("ids", f"At most {MAX_SEARCH_KEYS} ids and {MAX_SEARCH_KEYS} correlationIds.")
    stmt = search_statement(subject, message_ids=message_ids, sending_ids=sending_ids,
                            correlation_ids=correlation_ids, start=start, end=end)
    rows = list((await session.execute(stmt)).scalars())
    return await _with_campaigns(session, rows)


def search_statement(subject: AuthSubject, *, message_ids: list[int], sending_ids: list[int],
                     correlation_ids: list[str], start: datetime | None, end: datetime | None) -> Select[Any]:
    """The search's query: each kind of key is looked up through its own index."""
    stmt = _email_api_messages(subject)
    keys = []
    if message_ids:
        keys.append(Message.id.in_(message_ids))
    if sending_ids:
        keys.append(Message.sending_id.in_(sending_ids))
    if correlation_ids:
        keys.append(Message.correlation_id.in_(correlation_ids))
    if keys:
        stmt = stmt.where(or_(*keys))
    else:
        # By dates alone. The dialect sends only emails, each of a sending: stating both (the channel literally)
        # lets the range read ix_messages_email_created rather than every message of the range, as a partial index
        # is used only for a query that implies its condition. Not with keys, whose own indexes SQLite without
        # statistics would then pass over for this one (two equalities against one).
        stmt = stmt.where(Message.channel == literal_column("'email'"), Message.sending_id.is_not(None))
    if start is not None:
        stmt = stmt.where(Message.created_at >= start)
    if end is not None:
        stmt = stmt.where(Message.created_at <= end)
    return stmt.order_by(Message.id).limit(MAX_RESULTS)


async def list_new(session: AsyncSession, subject: AuthSubject, limit: int = MAX_RESULTS) -> list[Status]:
    """Messages with a status not yet listed to this account, each once; the caller commits."""
    inner = (select(Message.id).where(Message.account_id == subject.account_id, Message.list_pending.is_(True))
             .order_by(Message.id).limit(limit))
    if session.get_bind().dialect.name == "postgresql":
        inner = inner.with_for_update(skip_locked=True)
    # The flag in the WHERE makes the clear conditional: a concurrent call that waited on our row lock
    # re-checks it after we commit and skips the row.
    cleared = (update(Message).where(Message.id.in_(inner.scalar_subquery()), Message.list_pending.is_(True))
               .values(list_pending=False).returning(Message.id).execution_options(synchronize_session=False))
    ids = list((await session.execute(cleared)).scalars())
    if not ids:
        return []
    stmt = select(Message).where(Message.id.in_(ids)).order_by(Message.id).execution_options(populate_existing=True)
    return await _with_campaigns(session, list((await session.execute(stmt)).scalars()))


@events.on_event(*LISTED_KINDS, wants=lambda facts: bool((facts.get("extra") or {}).get("email_api")))
async def flag_for_listing(session: AsyncSession, happened: events.Happened) -> None:
    """A new status of an email-API message: the next /status/list returns it."""
    extra: Mapping[str, Any] = happened.message.extra or {}
    if happened.first and extra.get("email_api"):
        happened.message.list_pending = True
