"""Email templates of the messaging dialect: legacy (v1) and current (v2) share one table."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, IdMixin, TenantMixin, TimestampMixin


class Template(IdMixin, TimestampMixin, TenantMixin, Base):
    __tablename__ = "templates"
    __table_args__ = (Index("ix_templates_account_version", "account_id", "version"),)

    # 1: /api/rest/templates (templateId); 2: /api/rest/v2/templates (templateV2Id).
    version: Mapped[int] = mapped_column(default=2)
    name: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(16), default="HTML")
    html: Mapped[str] = mapped_column(Text, default="")
    updated_at: Mapped[datetime | None] = mapped_column(default=None)
