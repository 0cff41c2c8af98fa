"""The tenant root, its users and their API credentials."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, IdMixin, TenantMixin, TimestampMixin


class Account(IdMixin, TimestampMixin, Base):
    """An agency or a company: everything else hangs off one."""

    __tablename__ = "accounts"

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    username: Mapped[str] = mapped_column(String(120), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    language: Mapped[str] = mapped_column(String(16), default="en")
    country: Mapped[str] = mapped_column(String(2), default="ES")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    balance: Mapped[Decimal] = mapped_column(Numeric(14, 5), default=Decimal("0"))
    allowed_ips: Mapped[list[Any]] = mapped_column(default=list)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)


class User(IdMixin, TimestampMixin, TenantMixin, Base):
    """A person who acts on an account: the owner, agency staff, or a client's user."""

    __tablename__ = "users"
    __table_args__ = (UniqueConstraint("account_id", "email"),)

    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200), default="")
    is_owner: Mapped[bool] = mapped_column(default=False)
    # None for agency users; set for a client's user, who then sees only that client.
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    roles: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    # argon2id hash of the dashboard password; None until one is set (API credentials work without it).
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)


class ApiCredential(IdMixin, TimestampMixin, TenantMixin, Base):
    """A hashed API secret: a Bearer/AuthenticationToken (`token`) or a Basic API password."""

    __tablename__ = "api_credentials"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(120), default="")
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
