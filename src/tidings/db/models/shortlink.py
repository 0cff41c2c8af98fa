"""Short links: a code that redirects to a long URL (the `shorten` filter and the shortener API)."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, IdMixin, TenantMixin, TimestampMixin


class ShortLink(IdMixin, TimestampMixin, TenantMixin, Base):
    __tablename__ = "short_links"

    code: Mapped[str] = mapped_column(String(16), unique=True)
    url: Mapped[str] = mapped_column(Text)
    clicks: Mapped[int] = mapped_column(default=0)
