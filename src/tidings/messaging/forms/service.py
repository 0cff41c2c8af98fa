"""Forms: the account's definitions (REST) and what a recipient does on a form's public page.

A recipient reaches a form through a per-recipient link (`[form_{ID}]` in a mailing or landing page,
tidings.messaging.custom_links) that names the message it came in, so every answer is tied to that
message, its recipient and its contact. Opening, submitting and rejecting are events of that message
(form_opened, form_submitted with the values, form_rejected), which the account's event notifications
report with the form's id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock, ids
from tidings.core.emails import email_key
from tidings.core.errors import NotFound, ValidationFailed
from tidings.core.ids import Kind
from tidings.db.models import Contact, Form, FormResponse, Message
from tidings.messaging import events
from tidings.messaging.forms import fields, repository
from tidings.tenancy.subject import AuthSubject


@dataclass
class Definition:
    """A form as the dialect received it, its elements already shaped by the request model."""

    name: str
    editable: bool
    reject_button: bool
    background_url: str | None
    logo_url: str | None
    elements: Sequence[Mapping[str, Any]]


def public_id(form: Form) -> int:
    return ids.to_int(Kind.FORM, form.id)


def placeholder(form: Form) -> str:
    """The list's `placeholder` key, as the document shows it ({FORM_1}); bodies may also use [form_1]."""
    return f"{{FORM_{public_id(form)}}}"


async def get(session: AsyncSession, subject: AuthSubject, public: str | int) -> Form:
    pk = ids.from_int(Kind.FORM, public)
    form = await repository.get(session, subject, pk) if pk is not None else None
    if form is None:
        raise NotFound("Resource not found")
    return form


async def list_page(session: AsyncSession, subject: AuthSubject, page: int, limit: int) -> tuple[list[Form], int]:
    return await repository.page(session, subject, (page - 1) * limit, limit)


async def _unique_name(session: AsyncSession, subject: AuthSubject, name: str, current: Form | None) -> None:
    other = await repository.by_name(session, subject, name)
    if other is not None and other is not current:
        raise ValidationFailed.on("name", "The name has already been taken.")


def _apply(form: Form, definition: Definition) -> None:
    form.name = definition.name.strip()
    form.editable = definition.editable
    form.reject_button = definition.reject_button
    form.background_url = definition.background_url
    form.logo_url = definition.logo_url
    form.fields = fields.check_definition(definition.elements)


async def _flush(session: AsyncSession) -> None:
    # Two requests creating the same name at once: the unique constraint decides, as a 422.
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise ValidationFailed.on("name", "The name has already been taken.") from None


async def create(session: AsyncSession, subject: AuthSubject, definition: Definition) -> Form:
    await _unique_name(session, subject, definition.name.strip(), None)
    form = Form(account_id=subject.account_id)
    _apply(form, definition)
    session.add(form)
    await _flush(session)
    return form


async def update(session: AsyncSession, subject: AuthSubject, public: str | int, definition: Definition) -> Form:
    form = await get(session, subject, public)
    await _unique_name(session, subject, definition.name.strip(), form)
    _apply(form, definition)
    form.updated_at = clock.now()
    await _flush(session)
    return form


async def delete(session: AsyncSession, subject: AuthSubject, public: str | int) -> None:
    await session.delete(await get(session, subject, public))
    await session.flush()


# --- the public page -------------------------------------------------------------------------------------------


@dataclass
class Visit:
    """A recipient on a form's page: the message the link came in, and the form of the same account."""

    message: Message
    form: Form

    @property
    def subject(self) -> AuthSubject:
        # The recipient acts within the sending account only; queries are scoped to it like a caller's.
        return AuthSubject(account_id=self.message.account_id, user_id=0)

    @property
    def recipient_key(self) -> str:
        # The address or number, not the contact: a submission links the message to a contact afterwards.
        if self.message.channel == "email":
            return f"email:{email_key(self.message.recipient)}"
        return f"{self.message.channel}:{self.message.recipient}"


async def visit(session: AsyncSession, message_id: int | None, form_public: str) -> Visit | None:
    """The visit a link names, or None when the message or the form is unknown or of another account."""
    message = await session.get(Message, message_id) if message_id is not None else None
    if message is None or message.direction != "out":
        return None
    pk = ids.from_int(Kind.FORM, form_public)
    subject = AuthSubject(account_id=message.account_id, user_id=0)
    form = await repository.get(session, subject, pk) if pk is not None else None
    return Visit(message, form) if form is not None else None


async def answered(session: AsyncSession, visit_: Visit) -> bool:
    """True when the form cannot be sent again by this recipient (not editable and already submitted)."""
    if visit_.form.editable:
        return False
    return await repository.submitted(session, visit_.subject, visit_.form.id, visit_.recipient_key)


async def opened(session: AsyncSession, visit_: Visit, device: Mapping[str, str]) -> None:
    await events.record(session, visit_.message, "form_opened", details={"formId": public_id(visit_.form), **device})


async def rejected(session: AsyncSession, visit_: Visit) -> None:
    """The reject button: nothing is stored on the contact; the event says the recipient declined."""
    session.add(FormResponse(account_id=visit_.message.account_id, form_id=visit_.form.id,
                             message_id=visit_.message.id, contact_id=visit_.message.contact_id,
                             recipient_key=visit_.recipient_key, action="rejected", values={}))
    await events.record(session, visit_.message, "form_rejected", details={"formId": public_id(visit_.form)})


async def _contact(session: AsyncSession, visit_: Visit) -> Contact:
    """The recipient's contact, created from the message's address or number when the account has none yet."""
    message = visit_.message
    email = message.recipient if message.channel == "email" else None
    phone = message.recipient if message.channel != "email" else None
    contact = await repository.contact_for(session, visit_.subject, contact_id=message.contact_id, email=email,
                                           phone=phone)
    if contact is None:
        contact = Contact(account_id=message.account_id, email=email, email_key=email_key(email) if email else None,
                          phone=phone, custom_fields={})
        session.add(contact)
        await session.flush()
    return contact


async def submit(session: AsyncSession, visit_: Visit, posted: Mapping[str, str]) -> fields.Checked:
    """Check every answer; when all are valid, keep them on the contact and report form_submitted."""
    checked = fields.check_answers(visit_.form.fields, posted)
    if checked.errors:
        return checked
    contact = await _contact(session, visit_)
    mapped = {str(e["customField"]): checked.values[fields.key_of(e, i)] for i, e in enumerate(visit_.form.fields)
              if e.get("customField") and fields.key_of(e, i) in checked.values}
    if mapped:
        # A new dict: the JSON column notices reassignment, not changes inside it.
        contact.custom_fields = {**(contact.custom_fields or {}), **mapped}
        contact.updated_at = clock.now()
    if visit_.message.contact_id is None:
        visit_.message.contact_id = contact.id
    session.add(FormResponse(account_id=visit_.message.account_id, form_id=visit_.form.id,
                             message_id=visit_.message.id, contact_id=contact.id,
                             recipient_key=visit_.recipient_key, action="submitted", values=checked.values))
    await events.record(session, visit_.message, "form_submitted",
                        details={"formId": public_id(visit_.form), "formValues": checked.values})
    return checked
