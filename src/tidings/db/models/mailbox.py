"""A client's sending mailbox with its SMTP and IMAP settings (secrets encrypted)."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, IdMixin, TenantMixin, TimestampMixin


class Mailbox(IdMixin, TimestampMixin, TenantMixin, Base):
    __tablename__ = "mailboxes"

    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    smtp_host: Mapped[str] = mapped_column(String(255), default="")
    smtp_port: Mapped[int] = mapped_column(default=587)
    smtp_username: Mapped[str] = mapped_column(String(320), default="")
    smtp_password_enc: Mapped[str] = mapped_column(Text, default="")
    smtp_security: Mapped[str] = mapped_column(String(16), default="starttls")
    imap_host: Mapped[str | None] = mapped_column(String(255), default=None)
    imap_port: Mapped[int | None] = mapped_column(default=None)
    imap_username: Mapped[str | None] = mapped_column(String(320), default=None)
    imap_password_enc: Mapped[str | None] = mapped_column(Text, default=None)
    imap_security: Mapped[str | None] = mapped_column(String(16), default=None)
    imap_last_uid: Mapped[int] = mapped_column(default=0)
    imap_uidvalidity: Mapped[int | None] = mapped_column(default=None)
    daily_limit: Mapped[int] = mapped_column(default=50)
    min_interval_seconds: Mapped[int] = mapped_column(default=60)
    status: Mapped[str] = mapped_column(String(16), default="active")
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    last_sent_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_day: Mapped[date | None] = mapped_column(default=None)
    sent_today: Mapped[int] = mapped_column(default=0)
    dkim_selector: Mapped[str | None] = mapped_column(String(64), default=None)
    dkim_private_key_enc: Mapped[str | None] = mapped_column(Text, default=None)
    # Engine: the earliest next send (min interval plus jitter) and when a paused mailbox is retried.
    next_send_at: Mapped[datetime | None] = mapped_column(default=None)
    paused_until: Mapped[datetime | None] = mapped_column(default=None)
