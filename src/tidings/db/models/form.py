"""Hosted forms of the messaging dialect, the answers recipients gave, and files linked from messages."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, IdMixin, TenantMixin, TimestampMixin


class Form(IdMixin, TimestampMixin, TenantMixin, Base):
    """A form definition; `fields` holds the document's formFields as validated."""

    __tablename__ = "forms"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    editable: Mapped[bool] = mapped_column(default=True)
    reject_button: Mapped[bool] = mapped_column(default=False)
    background_url: Mapped[str | None] = mapped_column(Text, default=None)
    logo_url: Mapped[str | None] = mapped_column(Text, default=None)
    fields: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class FormResponse(IdMixin, TimestampMixin, TenantMixin, Base):
    """One recipient's answer to a form reached from one message: submitted (with values) or rejected."""

    __tablename__ = "form_responses"
    __table_args__ = (Index("ix_form_responses_form_recipient", "form_id", "recipient_key"),)

    form_id: Mapped[int] = mapped_column(ForeignKey("forms.id", ondelete="CASCADE"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), default=None)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), default=None)
    # The contact when known, else the address or number: "the same recipient" for non-editable forms.
    recipient_key: Mapped[str] = mapped_column(String(340))
    action: Mapped[str] = mapped_column(String(16))
    values: Mapped[dict[str, Any]] = mapped_column(default=dict)


class StoredAttachment(IdMixin, TimestampMixin, TenantMixin, Base):
    """A file an operator registered for `[attachment_{ID}]` links; the bytes live under the data dir."""

    __tablename__ = "stored_attachments"

    name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(255))
    size: Mapped[int] = mapped_column(default=0)
    sha256: Mapped[str] = mapped_column(String(64))
