"""One inbound email, from IMAP or the SMTP listener: match, store, classify, react.

Matching: the Message-IDs in In-Reply-To and References (for a bounce also the returned
message's id, then the failed recipient), else the sender and the subject without its "Re:".
The stored Message keeps only the new text (quotes and signatures cut by mail-parser-reply)
and sanitised HTML. The reaction is an event on the outbound message it answers (replied,
autoreplied, bounced, unsubscribed), so enrollments and counters move through the same
listeners and in the same transaction as for every other event.
"""

from __future__ import annotations

import email
import hashlib
import re
from dataclasses import dataclass
from email import policy
from email.message import Message as MimeMessage
from email.utils import getaddresses, parseaddr

import nh3
import structlog
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.core.classify import Classification, classify, extract_body, references_of
from tidings.db.models import Mailbox, Message, Thread
from tidings.messaging import events
from tidings.outreach.engine import listeners  # noqa: F401 - the effects of the events recorded here

log = structlog.get_logger("tidings.outreach.inbound")
KIND_EVENT = {"reply": "replied", "auto_reply": "autoreplied", "bounce": "bounced", "unsubscribe": "unsubscribed"}
_SUBJECT_PREFIX = re.compile(r"^\s*((re|aw|sv|vs|antw|rif|r|fwd?|wg|tr)\s*(\[\d+\])?\s*:\s*)+", re.IGNORECASE)
MAX_TEXT = 100_000


@dataclass
class Ingested:
    """The stored inbound message (None when nothing matched or it was seen before) and why."""

    message: Message | None
    outcome: str  # stored | duplicate | unmatched | unparseable
    kind: str | None = None


def parse(raw: bytes) -> MimeMessage:
    return email.message_from_bytes(raw, policy=policy.default)


def _header(msg: MimeMessage, name: str) -> str:
    try:
        return str(msg.get(name, "") or "")
    except Exception:  # noqa: BLE001 - a malformed header reads as empty rather than failing the mail
        return ""


def _first_html(msg: MimeMessage) -> str | None:
    for part in msg.walk():
        if part.get_content_type() == "text/html" and part.get_content_disposition() != "attachment":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    return None


def normalize_subject(subject: str) -> str:
    return " ".join(_SUBJECT_PREFIX.sub("", subject or "").split()).lower()


def _scope(account_id: int | None) -> list[ColumnElement[bool]]:
    base = [Message.direction == "out", Message.channel == "email", Message.enrollment_id.is_not(None)]
    return base if account_id is None else [*base, Message.account_id == account_id]


async def _by_ids(session: AsyncSession, ids: list[str], account_id: int | None) -> Message | None:
    if not ids:
        return None
    stmt = (select(Message).where(Message.rfc_message_id.in_(ids[:50]), *_scope(account_id))
            .order_by(Message.id.desc()).limit(1))
    return (await session.execute(stmt)).scalar_one_or_none()


async def _by_recipient(session: AsyncSession, addresses: list[str], account_id: int | None,
                        subject: str | None = None) -> Message | None:
    if not addresses:
        return None
    stmt = (select(Message).where(func.lower(Message.recipient).in_([a.lower() for a in addresses]),
                                  Message.sent_at.is_not(None), *_scope(account_id))
            .order_by(Message.id.desc()).limit(20))
    candidates = list((await session.execute(stmt)).scalars())
    if subject is None:
        return candidates[0] if candidates else None
    wanted = normalize_subject(subject)
    if not wanted:
        return None
    for candidate in candidates:
        if normalize_subject(candidate.subject or "") == wanted:
            return candidate
        thread = await session.get(Thread, candidate.thread_id) if candidate.thread_id else None
        if thread is not None and normalize_subject(thread.subject) == wanted:
            return candidate
    return None


async def match(session: AsyncSession, msg: MimeMessage, found: Classification,
                account_id: int | None) -> Message | None:
    """The outbound outreach message this inbound mail answers or reports on."""
    refs = references_of(msg)
    if found.kind == "bounce" and found.original_message_id:
        refs = [found.original_message_id, *refs]
    original = await _by_ids(session, refs, account_id)
    if original is not None:
        return original
    if found.kind == "bounce":
        return await _by_recipient(session, found.bounced_recipients, account_id)
    sender = parseaddr(_header(msg, "From"))[1]
    return await _by_recipient(session, [sender] if sender else [], account_id, _header(msg, "Subject"))


def _message_id(msg: MimeMessage, raw: bytes) -> str:
    ids = re.findall(r"<[^<>\s]+>", _header(msg, "Message-ID"))
    # Without a Message-ID the content itself identifies the mail for de-duplication.
    return ids[0] if ids else f"<{hashlib.sha256(raw).hexdigest()[:40]}@no-message-id.tidings>"


async def ingest(session: AsyncSession, raw: bytes, *, mailbox: Mailbox | None = None,
                 account_id: int | None = None) -> Ingested:
    """Store and act on one inbound email in the caller's transaction."""
    try:
        msg = parse(raw)
        found = classify(msg)
    except Exception as exc:  # noqa: BLE001 - one broken mail must not block the mailbox
        log.warning("inbound mail cannot be parsed", error=f"{type(exc).__name__}: {exc}")
        return Ingested(None, "unparseable")
    scope = mailbox.account_id if mailbox is not None else account_id
    rfc_id = _message_id(msg, raw)
    seen = (await session.execute(select(Message.id).where(Message.rfc_message_id == rfc_id,
                                                           Message.direction == "in").limit(1))).first()
    if seen is not None:
        return Ingested(None, "duplicate", found.kind)
    original = await match(session, msg, found, scope)
    if original is None:
        return Ingested(None, "unmatched", found.kind)
    now = clock.now()
    sender_name, sender = parseaddr(_header(msg, "From"))
    to = [a for _, a in getaddresses([_header(msg, "To")]) if a]
    text = found.reply_text if found.kind != "bounce" else extract_body(msg)
    html = _first_html(msg)
    answers = references_of(msg)
    inbound = Message(
        account_id=original.account_id, channel="email", direction="in", status="received",
        sender=(sender or "")[:320], sender_name=(sender_name or None) and sender_name[:200],
        recipient=(to[0] if to else original.sender)[:320], subject=_header(msg, "Subject"),
        body=(text or "")[:MAX_TEXT], html=nh3.clean(html)[:MAX_TEXT] if html else None,
        campaign_id=original.campaign_id, enrollment_id=original.enrollment_id, contact_id=original.contact_id,
        mailbox_id=mailbox.id if mailbox is not None else original.mailbox_id, thread_id=original.thread_id,
        step_number=original.step_number, rfc_message_id=rfc_id[:998],
        in_reply_to=answers[0] if answers else None, classification=found.kind, sent_at=now,
        extra={"reason": found.reason, "status": found.status, "diagnostic": found.diagnostic,
               "bounced_recipients": found.bounced_recipients} if found.kind == "bounce" else {"reason": found.reason})
    session.add(inbound)
    if original.thread_id is not None:
        thread = await session.get(Thread, original.thread_id)
        if thread is not None:
            thread.last_message_at = now
    await session.flush()
    await events.record(session, original, KIND_EVENT[found.kind], at=now,
                        details={"inbound_message_id": inbound.id, "reason": found.reason,
                                 **({"code": found.status, "detail": found.diagnostic or ""}
                                    if found.kind == "bounce" else {})})
    return Ingested(inbound, "stored", found.kind)
