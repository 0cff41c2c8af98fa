"""One-time passwords of the messaging dialect: a code per recipient and appId, kept as an HMAC only."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from tidings.core import clock
from tidings.db.base import Base, IdMixin, TenantMixin, TimestampMixin


class OtpCode(IdMixin, TimestampMixin, TenantMixin, Base):
    """A code issued to a phone or an email address; the latest one per (recipient, appId) is the current one."""

    __tablename__ = "otp_codes"
    __table_args__ = (Index("ix_otp_codes_lookup", "account_id", "recipient_key", "app_id", "id"),)

    # As rendered (international digits, or the normalised address) and as matched (lower-cased address).
    recipient: Mapped[str] = mapped_column(String(320))
    recipient_key: Mapped[str] = mapped_column(String(320))
    recipient_kind: Mapped[str] = mapped_column(String(8))  # phone | email
    app_id: Mapped[str] = mapped_column(String(255), default="")
    code_hash: Mapped[str] = mapped_column(String(64))
    alpha: Mapped[bool] = mapped_column(default=False)
    length: Mapped[int] = mapped_column(default=4)
    attempts: Mapped[int] = mapped_column(default=0)
    max_attempts: Mapped[int] = mapped_column(default=3)
    max_seconds_validity: Mapped[int] = mapped_column(default=60)
    # pending, valid (used once), expired, failed (max attempts), replaced (a newer code was issued)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
    expires_at: Mapped[datetime]
    validated_at: Mapped[datetime | None] = mapped_column(default=None)
    message_id: Mapped[int | None] = mapped_column(ForeignKey("messages.id", ondelete="SET NULL"), index=True,
                                                   default=None)
