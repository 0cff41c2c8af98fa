"""WhatsApp: an account's senders (numbers at the provider), its templates, and its conversations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.core import clock
from tidings.db.base import PK, Base, IdMixin, TenantMixin, TimestampMixin, UnindexedTenantMixin


class WhatsappSender(IdMixin, TimestampMixin, TenantMixin, Base):
    """A number the account may send from; `phone_number_id` is the provider's id of it (one account each)."""

    __tablename__ = "whatsapp_senders"
    __table_args__ = (UniqueConstraint("account_id", "number"), UniqueConstraint("phone_number_id"))

    number: Mapped[str] = mapped_column(String(32))
    phone_number_id: Mapped[str] = mapped_column(String(64))
    # The WhatsApp Business Account that owns the number: where its templates are synchronised from.
    waba_id: Mapped[str | None] = mapped_column(String(64), default=None)
    name: Mapped[str] = mapped_column(String(200), default="")


class WhatsappTemplate(IdMixin, TimestampMixin, TenantMixin, Base):
    """A message template as the provider approved it; variables are positional ({{1}}, {{2}} ...)."""

    __tablename__ = "whatsapp_templates"
    __table_args__ = (UniqueConstraint("account_id", "name", "language"),)

    name: Mapped[str] = mapped_column(String(512))
    language: Mapped[str] = mapped_column(String(16))
    category: Mapped[str] = mapped_column(String(32), default="MARKETING")
    status: Mapped[str] = mapped_column(String(32), default="APPROVED")
    provider_id: Mapped[str | None] = mapped_column(String(64), default=None)
    waba_id: Mapped[str | None] = mapped_column(String(64), default=None)
    # {"format": "TEXT" | "LOCATION" | "IMAGE" | "VIDEO" | "DOCUMENT", "text": "..."}; {} without a header.
    header: Mapped[dict[str, Any]] = mapped_column(default=dict)
    body: Mapped[str] = mapped_column(Text, default="")
    footer: Mapped[str | None] = mapped_column(Text, default=None)
    # [{"type": "QUICK_REPLY" | "URL" | "PHONE_NUMBER" | "OTP" | "COPY_CODE", "text": ..., "url": ...}]
    buttons: Mapped[list[Any]] = mapped_column(default=list)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


class WhatsappConversation(IdMixin, TimestampMixin, UnindexedTenantMixin, Base):
    """One of our numbers and one user: the customer service window and the pending automatic answers."""

    __tablename__ = "whatsapp_conversations"
    # Every index leads with the account (so none of its own); by recipient: the conversations with one user.
    __table_args__ = (UniqueConstraint("account_id", "sender", "recipient"),
                      Index("ix_whatsapp_conversations_updated", "account_id", "updated_at"),
                      Index("ix_whatsapp_conversations_recipient", "account_id", "recipient"))

    sender: Mapped[str] = mapped_column(String(32))
    recipient: Mapped[str] = mapped_column(String(32))
    total_messages: Mapped[int] = mapped_column(default=0)
    # The user's last message: free text may be sent for 24 hours after it.
    last_inbound_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
    # Answers of the last template sent: the default one waits for the user's first message.
    default_answer: Mapped[list[Any]] = mapped_column(default=list)
    button_answers: Mapped[list[Any]] = mapped_column(default=list)
    template_message_id: Mapped[int | None] = mapped_column(PK, default=None)
