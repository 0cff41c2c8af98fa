"""Omnichannel fallback flows: a batch (Flow), its contacts, and each contact's steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, IdMixin, TenantMixin, TimestampMixin


class Flow(IdMixin, TimestampMixin, TenantMixin, Base):
    """One POST /v1/omni/send: the template's steps, resolved once (timeouts, senders) for every contact."""

    __tablename__ = "flows"

    sending_id: Mapped[int] = mapped_column(ForeignKey("sendings.id", ondelete="CASCADE"), index=True)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"), default=None)
    campaign_alias: Mapped[str | None] = mapped_column(String(255), default=None)
    # The batch's own status is derived from its contacts when read, so concurrent contacts never race on it.
    steps: Mapped[list[Any]] = mapped_column(default=list)


class FlowContact(IdMixin, TimestampMixin, TenantMixin, Base):
    """A contact of a flow: its destinations and how far its steps went."""

    __tablename__ = "flow_contacts"

    flow_id: Mapped[int] = mapped_column(ForeignKey("flows.id", ondelete="CASCADE"), index=True)
    correlation_id: Mapped[str] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    email_name: Mapped[str | None] = mapped_column(String(200), default=None)
    info: Mapped[dict[str, Any]] = mapped_column(default=dict)  # contactInfo: more destinations and {{tags}}
    status: Mapped[str] = mapped_column(String(16), default="running")  # running | delivered | failed
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class FlowStep(IdMixin, TenantMixin, Base):
    """One step for one contact; `reason` says why it was left (or skipped)."""

    __tablename__ = "flow_steps"
    __table_args__ = (UniqueConstraint("flow_contact_id", "number"),)

    flow_contact_id: Mapped[int] = mapped_column(ForeignKey("flow_contacts.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    type: Mapped[str] = mapped_column(String(16))  # Email | MT | Voice
    channel: Mapped[str] = mapped_column(String(16))
    # pending | running | delivered | failed | skipped
    status: Mapped[str] = mapped_column(String(16), default="pending")
    destination: Mapped[str | None] = mapped_column(String(320), default=None)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
