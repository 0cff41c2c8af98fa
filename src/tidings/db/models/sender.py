"""Verified sender addresses of an account (fromEmail and replyTo must be one of them)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, IdMixin, TenantMixin, TimestampMixin


class Sender(IdMixin, TimestampMixin, TenantMixin, Base):
    __tablename__ = "senders"
    __table_args__ = (UniqueConstraint("account_id", "email_key"),)

    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    verify_token_hash: Mapped[str | None] = mapped_column(String(64), default=None)
