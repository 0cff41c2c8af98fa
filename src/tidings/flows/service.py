"""Omnichannel fallback flows (Wavy Fallback API): each contact's steps run in order until one is delivered.

A step is one message on the shared pipeline (outbox → dispatcher → provider). The events listener below
advances a contact's flow when its running step's message is delivered (the flow ends) or fails —
rejected, refused by the relay, bounced, undelivered, expired, failed — and the `omni.timeout` job
(tidings.flows.jobs) leaves a step that was not delivered in time. For email, acceptance by the relay
is delivery: SMTP reports nothing later unless a bounce comes back, and that would come after the flow
moved on. Timeouts and senders are resolved when the flow starts and kept on the Flow row, because the
listener runs inside the dispatcher's transaction without the settings.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.core.emails import normalize_email
from tidings.core.errors import NotFound, ValidationFailed
from tidings.core.phones import normalize_phone
from tidings.core.templating import render_tags
from tidings.db.jobs import enqueue
from tidings.db.models import Flow, FlowContact, FlowStep, Message, Sending
from tidings.messaging import events, outbox, senders
from tidings.tenancy.scoping import get_owned
from tidings.tenancy.subject import AuthSubject

SOURCE = "omni_v1"
TIMEOUT_JOB = "omni.timeout"
# The document's step types and the channel each one runs on.
CHANNELS = {"email": ("Email", "email"), "mt": ("MT", "sms"), "voice": ("Voice", "voice")}
DEFAULT_DESTINATION = {"email": "email", "sms": "phone", "voice": "phone"}
# Caller id of SMS and voice steps that name none (the document has no sender field for them).
DEFAULT_SENDER = "Tidings"
MAX_CONTACTS = 1000
MAX_STEPS = 10
MAX_TEXT = {"sms": 1600, "voice": 4000}
MAX_TIMEOUT = 7 * 24 * 3600
_SENDER = re.compile(r"^(?:[A-Za-z0-9 ._\-]{1,11}|\+?[0-9]{3,15})$")


@dataclass
class StepInput:
    type: str
    subject: str | None = None
    from_email: str | None = None
    from_name: str | None = None
    email_html: str | None = None
    message_text: str | None = None
    tts_message: str | None = None
    destination_field: str | None = None
    sender: str | None = None
    timeout_seconds: int | None = None


@dataclass
class ContactInput:
    phone: str | None = None
    email: str | None = None
    email_name: str | None = None
    correlation_id: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class FlowInput:
    contacts: list[ContactInput]
    steps: list[StepInput]
    campaign_alias: str | None = None


@dataclass
class Started:
    flow: Flow
    contacts: list[FlowContact]


@dataclass
class FlowView:
    """A flow with its contacts and their steps, in order."""

    flow: Flow
    contacts: list[tuple[FlowContact, list[FlowStep]]]
    # Over the whole batch, also when one contact is shown: finished once no contact is running.
    finished: bool = False
    finished_at: datetime | None = None


def _phone(raw: str) -> str | None:
    text = raw.strip()
    if not text:
        return None
    normalized = normalize_phone(text)
    if normalized is not None:
        return normalized
    # Numbers phonenumbers does not know (test ranges) are kept as plain international digits.
    digits = re.sub(r"[\s()./\-]", "", text).removeprefix("+")
    digits = digits.removeprefix("00") if digits.startswith("00") else digits
    return digits if digits.isascii() and digits.isdigit() and 6 <= len(digits) <= 15 else None


def _required(value: str | None, name: str) -> str:
    if value is None or not value.strip():
        raise ValidationFailed.on(name, f"The {name} field is required.")
    return value


async def _step(
    session: AsyncSession, subject: AuthSubject, i: int, step: StepInput, default_seconds: int
) -> dict[str, Any]:
    """A template step checked and resolved into what every contact's message needs."""
    where = f"template.steps.{i}"
    kind = CHANNELS.get((step.type or "").strip().lower())
    if kind is None:
        raise ValidationFailed.on(f"{where}.type", "The type must be Email, MT or Voice.")
    name, channel = kind
    seconds = default_seconds if step.timeout_seconds is None else step.timeout_seconds
    if not 1 <= seconds <= MAX_TIMEOUT:
        raise ValidationFailed.on(f"{where}.timeoutSeconds", f"The timeoutSeconds must be between 1 and {MAX_TIMEOUT}.")
    field_name = (step.destination_field or "").strip() or DEFAULT_DESTINATION[channel]
    resolved: dict[str, Any] = {"type": name, "channel": channel, "destinationField": field_name,
                                "timeoutSeconds": seconds}
    if channel == "email":
        subject_line = _required(step.subject, f"{where}.subject")
        if len(subject_line) > 998 or any(c in subject_line for c in "\r\n"):
            raise ValidationFailed.on(f"{where}.subject", "The subject must be one line of at most 998 characters.")
        from_email = normalize_email(_required(step.from_email, f"{where}.fromEmail"))
        if from_email is None:
            raise ValidationFailed.on(f"{where}.fromEmail", "The fromEmail must be a valid email address.")
        if not await senders.is_verified(session, subject.account_id, from_email):
            raise ValidationFailed.on(f"{where}.fromEmail",
                                      f"The fromEmail {from_email} is not a verified sender of this account.")
        from_name = (step.from_name or "").strip() or None
        if from_name is not None and (len(from_name) > 200 or any(c in from_name for c in "\r\n")):
            raise ValidationFailed.on(f"{where}.fromName", "The fromName must be one line of at most 200 characters.")
        resolved.update(subject=subject_line, fromEmail=from_email, fromName=from_name,
                        emailHTML=_required(step.email_html, f"{where}.emailHTML"))
        return resolved
    text_field = "messageText" if channel == "sms" else "ttsMessage"
    text = _required(step.message_text if channel == "sms" else step.tts_message, f"{where}.{text_field}")
    if len(text) > MAX_TEXT[channel]:
        raise ValidationFailed.on(f"{where}.{text_field}",
                                  f"The {text_field} may not be greater than {MAX_TEXT[channel]} characters.")
    sender = (step.sender or "").strip() or DEFAULT_SENDER
    if not _SENDER.match(sender):
        raise ValidationFailed.on(f"{where}.from", "The from must be up to 11 letters or digits, or a phone number.")
    resolved.update(text=text, sender=sender)
    return resolved


def _contact(i: int, c: ContactInput) -> FlowContact:
    where = f"contacts.{i}"
    phone = _phone(c.phone) if c.phone is not None and c.phone.strip() else None
    if c.phone is not None and c.phone.strip() and phone is None:
        raise ValidationFailed.on(f"{where}.phone", "The phone must be an international number such as 5511900000000.")
    email = normalize_email(c.email) if c.email is not None and c.email.strip() else None
    if c.email is not None and c.email.strip() and email is None:
        raise ValidationFailed.on(f"{where}.email", "The email must be a valid email address.")
    name = (c.email_name or "").strip() or None
    if name is not None and (len(name) > 200 or any(ch in name for ch in "\r\n")):
        raise ValidationFailed.on(f"{where}.emailName", "The emailName must be one line of at most 200 characters.")
    correlation = c.correlation_id if c.correlation_id else uuid.uuid4().hex
    if len(correlation) > 255:
        raise ValidationFailed.on(f"{where}.correlationId", "The correlationId may not be greater than 255 characters.")
    return FlowContact(phone=phone, email=email, email_name=name, correlation_id=correlation, info=dict(c.info))


def _destination(contact: FlowContact, step: dict[str, Any]) -> str | None:
    """The contact's address for this step: a contact field, else a contactInfo key, normalised."""
    name = step["destinationField"]
    known = {"phone": contact.phone, "email": contact.email}
    raw = known[name] if name in known else (contact.info or {}).get(name)
    if raw is None or isinstance(raw, dict | list | bool):
        return None
    text = str(raw)
    return normalize_email(text) if step["channel"] == "email" else _phone(text)


async def start(session: AsyncSession, subject: AuthSubject, req: FlowInput, *, step_timeout: int) -> Started:
    """Validate the whole request, then create the flow and run every contact's first step."""
    if not req.contacts:
        raise ValidationFailed.on("contacts", "The contacts field must have at least one item.")
    if len(req.contacts) > MAX_CONTACTS:
        raise ValidationFailed.on("contacts", f"The contacts field may not have more than {MAX_CONTACTS} items.")
    if not req.steps:
        raise ValidationFailed.on("template.steps", "The template must have at least one step.")
    if len(req.steps) > MAX_STEPS:
        raise ValidationFailed.on("template.steps", f"The template may not have more than {MAX_STEPS} steps.")
    alias = (req.campaign_alias or "").strip() or None
    if alias is not None and (len(alias) > 255 or any(c in alias for c in "\r\n")):
        raise ValidationFailed.on("template.campaignAlias",
                                  "The campaignAlias must be one line of at most 255 characters.")
    steps = [await _step(session, subject, i, s, step_timeout) for i, s in enumerate(req.steps)]
    contacts = [_contact(i, c) for i, c in enumerate(req.contacts)]
    for i, contact in enumerate(contacts):
        if all(_destination(contact, s) is None for s in steps):
            raise ValidationFailed.on(f"contacts.{i}", "The contact has no destination for any step of the template.")

    sending = await outbox.open_sending(session, subject, channel="omni", source=SOURCE, campaign_name=alias)
    flow = Flow(account_id=subject.account_id, sending_id=sending.id, campaign_id=sending.campaign_id,
                campaign_alias=alias, steps=steps)
    session.add(flow)
    await session.flush()
    for contact in contacts:
        contact.account_id, contact.flow_id = subject.account_id, flow.id
        session.add(contact)
    await session.flush()
    rows: dict[int, list[FlowStep]] = {}
    for contact in contacts:
        rows[contact.id] = [FlowStep(account_id=subject.account_id, flow_contact_id=contact.id, number=n,
                                     type=s["type"], channel=s["channel"]) for n, s in enumerate(steps)]
        session.add_all(rows[contact.id])
    await session.flush()
    for contact in contacts:
        await _run_from(session, flow, contact, rows[contact.id], 0, sending)
    return Started(flow, contacts)


def _values(contact: FlowContact) -> dict[str, Any]:
    """{{tags}} of a contact: its contactInfo, then its own fields."""
    return {**(contact.info or {}), "phone": contact.phone or "", "email": contact.email or "",
            "emailName": contact.email_name or ""}


async def _run_from(
    session: AsyncSession, flow: Flow, contact: FlowContact, steps: list[FlowStep], number: int,
    sending: Sending | None = None,
) -> None:
    """Start the first step from `number` the contact has a destination for; the contact fails past the last."""
    now = clock.now()
    for step in steps[number:]:
        spec = flow.steps[step.number]
        destination = _destination(contact, spec)
        if destination is None:
            step.status, step.ended_at = "skipped", now
            step.reason = f"no destination: the contact has no valid {spec['destinationField']}"
            continue
        sending = sending or await session.get(Sending, flow.sending_id)
        data = _values(contact)
        common: dict[str, Any] = {"account_id": flow.account_id, "channel": spec["channel"], "recipient": destination,
                                  "sending": sending, "correlation_id": contact.correlation_id,
                                  "extra": {"flow_step_id": step.id}}
        if spec["channel"] == "email":
            message = outbox.new_message(
                sender=spec["fromEmail"], sender_name=spec.get("fromName"), recipient_name=contact.email_name,
                subject=" ".join(render_tags(spec["subject"], data).splitlines()),
                html=render_tags(spec["emailHTML"], data, escape=True), **common)
        else:
            message = outbox.new_message(sender=spec["sender"], body=render_tags(spec["text"], data), **common)
        await outbox.queue(session, message)
        step.status, step.destination, step.message_id, step.started_at = "running", destination, message.id, now
        await enqueue(session, TIMEOUT_JOB, {"step_id": step.id, "message_id": message.id},
                      due_at=now + timedelta(seconds=int(spec["timeoutSeconds"])), account_id=flow.account_id)
        return
    await _finish(session, flow, contact, "failed")


async def _finish(session: AsyncSession, flow: Flow, contact: FlowContact, status: str) -> None:
    contact.status, contact.finished_at = status, clock.now()


async def _context(session: AsyncSession, step: FlowStep) -> tuple[Flow, FlowContact, list[FlowStep]] | None:
    contact = await session.get(FlowContact, step.flow_contact_id)
    flow = await session.get(Flow, contact.flow_id) if contact is not None else None
    if contact is None or flow is None:
        return None
    rows = await session.execute(select(FlowStep).where(FlowStep.flow_contact_id == contact.id)
                                 .order_by(FlowStep.number))
    return flow, contact, list(rows.scalars())


async def leave_step(session: AsyncSession, step: FlowStep, *, delivered: bool, reason: str | None) -> None:
    """End a running step: a delivery ends the contact's flow, anything else runs the next step."""
    found = await _context(session, step)
    if found is None:
        return
    flow, contact, steps = found
    now = clock.now()
    step.ended_at = now
    if delivered:
        step.status, step.reason = "delivered", None
        for later in steps[step.number + 1:]:
            if later.status == "pending":
                later.status, later.ended_at = "skipped", now
                later.reason = f"not needed: step {step.number + 1} ({step.type}) was delivered"
        await _finish(session, flow, contact, "delivered")
        return
    step.status, step.reason = "failed", reason
    await _run_from(session, flow, contact, steps, step.number + 1)


def _reason(kind: str, details: dict[str, Any]) -> str:
    code, detail = details.get("code"), details.get("detail")
    return kind + (f" ({code})" if code else "") + (f": {detail}" if detail else "")


@events.on_event("sent", "delivered", *events.FAILURES,
                 wants=lambda facts: (facts.get("extra") or {}).get("flow_step_id") is not None)
async def on_step_message(session: AsyncSession, happened: events.Happened) -> None:
    """Advance the flow whose running step sent this message."""
    message, kind = happened.message, happened.event.kind
    step_id = (message.extra or {}).get("flow_step_id")
    # Relay acceptance is delivery for email only; other channels wait for their delivery report.
    if step_id is None or (kind == "sent" and message.channel != "email"):
        return
    step = await _locked_step(session, int(step_id))
    if step is None or step.status != "running" or step.message_id != message.id:
        return  # the step was already left (timed out): a late outcome changes nothing
    if kind in ("sent", "delivered"):
        await leave_step(session, step, delivered=True, reason=None)
    else:
        await leave_step(session, step, delivered=False, reason=_reason(kind, happened.event.details or {}))


async def _locked_step(session: AsyncSession, step_id: int) -> FlowStep | None:
    # FOR UPDATE (PostgreSQL) so an outcome and a timeout arriving together leave the step once; the
    # message row is always locked before the step (the dispatcher has updated it), so they cannot deadlock.
    return await session.get(FlowStep, step_id, with_for_update=True, populate_existing=True)


async def time_out(session: AsyncSession, step_id: int, message_id: int) -> None:
    """The step's message was not delivered in time: leave the step and stop the message if still queued."""
    message = await session.get(Message, message_id, with_for_update=True, populate_existing=True)
    step = await _locked_step(session, step_id)
    if step is None or step.status != "running" or step.message_id != message_id:
        return
    found = await _context(session, step)
    seconds = found[0].steps[step.number].get("timeoutSeconds") if found is not None else None
    await leave_step(session, step, delivered=False, reason=f"timeout: not delivered within {seconds} s")
    if message is not None and message.status == "queued":
        # Not sent yet: stop it, so the contact is not reached twice. The step is already left, so the
        # listener ignores this event.
        message.due_at = None
        await events.record(session, message, "expired", details={"detail": "fallback step timed out"})


async def get(session: AsyncSession, subject: AuthSubject, *, flow_id: int | None = None,
              contact_id: int | None = None) -> FlowView:
    """A whole flow, or one contact's flow, with the steps in order."""
    if contact_id is not None:
        contact = await get_owned(session, FlowContact, contact_id, subject, "Flow")
        flow = await get_owned(session, Flow, contact.flow_id, subject, "Flow")
        contacts = [contact]
    elif flow_id is not None:
        flow = await get_owned(session, Flow, flow_id, subject, "Flow")
        rows = await session.execute(select(FlowContact).where(FlowContact.flow_id == flow.id)
                                     .order_by(FlowContact.id))
        contacts = list(rows.scalars())
    else:
        raise NotFound("Flow not found.")
    steps: dict[int, list[FlowStep]] = {c.id: [] for c in contacts}
    if contacts:
        rows2 = await session.execute(select(FlowStep).where(FlowStep.flow_contact_id.in_(list(steps)))
                                      .order_by(FlowStep.flow_contact_id, FlowStep.number))
        for step in rows2.scalars():
            steps[step.flow_contact_id].append(step)
    running, last = (await session.execute(
        select(func.count(FlowContact.id).filter(FlowContact.status == "running"), func.max(FlowContact.finished_at))
        .where(FlowContact.flow_id == flow.id))).one()
    finished = not running
    return FlowView(flow, [(c, steps[c.id]) for c in contacts], finished,
                    clock.as_utc(last) if finished and last is not None else None)
