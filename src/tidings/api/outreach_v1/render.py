"""Response shapes of the outreach dialect: documented ids, keys and epoch-second times."""

from __future__ import annotations

import re
from typing import Any

from tidings.api.outreach_v1.ids import encode
from tidings.core import ids
from tidings.core.clock import epoch
from tidings.core.ids import Kind
from tidings.db.models import Campaign, Client, Contact, Enrollment, Mailbox, Message, Step
from tidings.outreach.fields import CONTACT_FIELDS

_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def client(c: Client, *, max_emails: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"id": ids.encode(Kind.CLIENT, c.id), "name": c.name}
    if max_emails:
        out["max_emails"] = c.max_emails
    out["created_at"] = epoch(c.created_at)
    return out


def campaign(c: Campaign, cl: Client | None, *, nested: bool = False) -> dict[str, Any]:
    """A campaign; inside a contact its client has no max_emails, as documented."""
    return {"id": ids.encode(Kind.CAMPAIGN, c.id), "name": c.name, "timezone": c.timezone, "status": c.status,
            "created_at": epoch(c.created_at),
            "client": None if cl is None else client(cl, max_emails=not nested)}


def campaign_detail(c: Campaign, cl: Client | None, mailbox_ids: list[int], steps: int) -> dict[str, Any]:
    """The native campaign view: the documented keys plus schedule, settings and setup."""
    return {**campaign(c, cl), "schedule": c.schedule, "settings": dict(c.settings or {}),
            "mailbox_ids": [ids.encode(Kind.MAILBOX, m) for m in mailbox_ids], "steps": steps,
            "started_at": epoch(c.started_at), "completed_at": epoch(c.completed_at)}


def contact(e: Enrollment, ct: Contact, cp: Campaign | None = None, cl: Client | None = None, *,
            flags_as_int: bool = False, nest_campaign: bool = True) -> dict[str, Any]:
    """An outreach contact; the campaign listing renders the two flags as 0/1, as documented."""
    out: dict[str, Any] = {"id": encode(Kind.ENROLLMENT, e.id)}
    for name in CONTACT_FIELDS:
        out[name] = getattr(ct, name)
    out["custom_merge_fields"] = dict(ct.custom_fields or {})
    # A contact without its own zone is contacted in the campaign's.
    out["timezone"] = ct.timezone or (cp.timezone if cp is not None else None)
    out["status"] = e.status
    out["interest"] = None if e.interest in (None, "UNMARKED") else e.interest
    out["emails_sent"] = e.emails_sent
    out["completed_steps"] = e.completed_steps
    flag = int if flags_as_int else bool
    out["is_missing_data"] = flag(e.is_missing_data)
    out["is_suppressed"] = flag(e.is_suppressed)
    out["created_at"] = epoch(e.created_at)
    if cp is not None and nest_campaign:
        out["campaign"] = campaign(cp, cl, nested=True)
    return out


def _text(m: Message) -> str:
    if m.body:
        return m.body
    return _SPACE.sub(" ", _TAGS.sub(" ", m.html or "")).strip()


def message(m: Message, *, contact_name: str | None = None, mailbox_name: str | None = None) -> dict[str, Any]:
    """An email message of a thread; replies come from the contact, outbound ones from the mailbox."""
    text = _text(m)
    inbound = m.direction == "in"
    from_name = m.sender_name or (contact_name if inbound else mailbox_name)
    to_name = m.recipient_name or (mailbox_name if inbound else contact_name)
    submitted = m.sent_at or m.created_at
    return {
        "id": encode(Kind.MESSAGE, m.id),
        "thread_id": None if m.thread_id is None else encode(Kind.THREAD, m.thread_id),
        "contact_id": None if m.enrollment_id is None else encode(Kind.ENROLLMENT, m.enrollment_id),
        "from_email": m.sender, "to_email": m.recipient, "from_name": from_name or None, "to_name": to_name or None,
        "submitted_at": epoch(submitted), "created_at": epoch(m.created_at),
        "subject": m.subject or "", "snippet": _snippet(text), "message_body": text,
        "message_raw": m.html or m.body or "",
    }


def _snippet(text: str, size: int = 100) -> str:
    flat = _SPACE.sub(" ", text).strip()
    return flat if len(flat) <= size else flat[: size - 3].rstrip() + "..."


def full_name(ct: Contact | None) -> str | None:
    if ct is None:
        return None
    return " ".join(p for p in (ct.first_name, ct.last_name) if p) or None


def mailbox(m: Mailbox) -> dict[str, Any]:
    """A mailbox without its passwords, with the engine's view of its health."""
    return {
        "id": ids.encode(Kind.MAILBOX, m.id),
        "client_id": None if m.client_id is None else ids.encode(Kind.CLIENT, m.client_id),
        "email": m.email, "name": m.name,
        "smtp_host": m.smtp_host, "smtp_port": m.smtp_port, "smtp_username": m.smtp_username,
        "smtp_security": m.smtp_security,
        "imap_host": m.imap_host, "imap_port": m.imap_port, "imap_username": m.imap_username,
        "imap_security": m.imap_security,
        "daily_limit": m.daily_limit, "min_interval_seconds": m.min_interval_seconds,
        "status": m.status, "last_error": m.last_error, "created_at": epoch(m.created_at),
    }


def step(s: Step) -> dict[str, Any]:
    return {"number": s.number, "subject": s.subject, "body": s.body, "delay_days": s.delay_days,
            "variants": list(s.variants or []), "created_at": epoch(s.created_at)}
