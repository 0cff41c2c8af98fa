"""White-label clients of an agency, their members and pending invitations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, IdMixin, TenantMixin, TimestampMixin


class Client(IdMixin, TimestampMixin, TenantMixin, Base):
    __tablename__ = "clients"

    name: Mapped[str] = mapped_column(String(200))
    max_emails: Mapped[int] = mapped_column(default=3)


class ClientMembership(IdMixin, TimestampMixin, TenantMixin, Base):
    """A user's roles on a client (view_campaigns, create_campaigns, export_campaigns)."""

    __tablename__ = "client_memberships"
    __table_args__ = (UniqueConstraint("client_id", "user_id"),)

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    roles: Mapped[list[Any]] = mapped_column(default=list)


class ClientInvitation(IdMixin, TimestampMixin, TenantMixin, Base):
    """A pending invitation to join a client; accepting it creates the user and a token."""

    __tablename__ = "client_invitations"

    client_id: Mapped[int] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320))
    roles: Mapped[list[Any]] = mapped_column(default=list)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)
