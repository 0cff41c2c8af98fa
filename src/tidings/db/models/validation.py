"""Email validations of the messaging dialect: a batch of addresses, each address's verdict, and the verdict cache."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.core import clock
from tidings.db.base import Base, IdMixin, TenantMixin, TimestampMixin


class EmailValidation(IdMixin, TimestampMixin, TenantMixin, Base):
    """One validation request: pending -> started -> finished | failed."""

    __tablename__ = "email_validations"

    status: Mapped[str] = mapped_column(String(16), default="pending")
    total: Mapped[int] = mapped_column(default=0)
    processed: Mapped[int] = mapped_column(default=0)
    valid: Mapped[int] = mapped_column(default=0)
    # Addresses actually checked (not reused from an earlier verdict): what the cost is counted on.
    checked: Mapped[int] = mapped_column(default=0)
    force: Mapped[bool] = mapped_column(default=False)
    allow_risky: Mapped[bool] = mapped_column(default=False)
    notification_url: Mapped[str | None] = mapped_column(Text, default=None)
    group_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(14, 5), default=Decimal("0"))
    estimated_cost: Mapped[Decimal] = mapped_column(Numeric(14, 5), default=Decimal("0"))
    cost: Mapped[Decimal] = mapped_column(Numeric(14, 5), default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    error: Mapped[str] = mapped_column(String(255), default="")
    updated_at: Mapped[datetime] = mapped_column(default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class EmailValidationItem(IdMixin, Base):
    """One address of a validation, in request order; `result` stays None until it is checked."""

    __tablename__ = "email_validation_items"
    __table_args__ = (UniqueConstraint("validation_id", "email_key"),
                      Index("ix_email_validation_items_todo", "validation_id", "result", "id"))

    validation_id: Mapped[int] = mapped_column(ForeignKey("email_validations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    email_key: Mapped[str] = mapped_column(String(320))
    result: Mapped[str | None] = mapped_column(String(16), default=None)  # valid | risky | invalid
    reason: Mapped[str] = mapped_column(String(64), default="")
    reused: Mapped[bool] = mapped_column(default=False)
    checked_at: Mapped[datetime | None] = mapped_column(default=None)


class EmailVerdict(IdMixin, TenantMixin, Base):
    """The latest verdict on an address in an account, reused by later validations unless they force."""

    __tablename__ = "email_verdicts"
    __table_args__ = (UniqueConstraint("account_id", "email_key"),)

    email_key: Mapped[str] = mapped_column(String(320))
    result: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(64), default="")
    checked_at: Mapped[datetime] = mapped_column(default=clock.now)
