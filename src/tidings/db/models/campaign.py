"""Campaigns (outreach sequences and messaging broadcasts) and their steps."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, IdMixin, TenantMixin, TimestampMixin


class Campaign(IdMixin, TimestampMixin, TenantMixin, Base):
    __tablename__ = "campaigns"
    __table_args__ = (Index("ix_campaigns_account_name", "account_id", "name"),)

    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    status: Mapped[str] = mapped_column(String(16), default="DRAFT")
    kind: Mapped[str] = mapped_column(String(16), default="sequence")
    channel: Mapped[str | None] = mapped_column(String(16), default=None)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    # {"days": [1..7], "start": "HH:MM", "end": "HH:MM"} in the campaign's time zone.
    schedule: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)


class Step(IdMixin, TimestampMixin, TenantMixin, Base):
    """One step of a sequence; delay_days is the wait after the previous step."""

    __tablename__ = "steps"
    __table_args__ = (UniqueConstraint("campaign_id", "number"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    channel: Mapped[str] = mapped_column(String(16), default="email")
    delay_days: Mapped[float] = mapped_column(default=0.0)
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    variants: Mapped[list[Any]] = mapped_column(default=list)


class CampaignMailbox(IdMixin, TenantMixin, Base):
    __tablename__ = "campaign_mailboxes"
    __table_args__ = (UniqueConstraint("campaign_id", "mailbox_id"),)

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailboxes.id", ondelete="CASCADE"), index=True)
