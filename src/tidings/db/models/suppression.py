"""Who must never be sent to: the outreach suppression list and the messaging blacklist."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, IdMixin, TenantMixin, TimestampMixin


class Suppression(IdMixin, TimestampMixin, TenantMixin, Base):
    __tablename__ = "suppressions"
    __table_args__ = (Index("ix_suppressions_lookup", "account_id", "channel", "kind", "value"),
                      # A blacklist by `sendingId`: only the entries a sending's unsubscribes made have one.
                      Index("ix_suppressions_sending_id", "sending_id", postgresql_where=text("sending_id IS NOT NULL"),
                            sqlite_where=text("sending_id IS NOT NULL")))

    # None: the whole account; otherwise one client of an agency.
    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(320))
    reason: Mapped[str] = mapped_column(Text, default="")
    sending_id: Mapped[int | None] = mapped_column(ForeignKey("sendings.id", ondelete="SET NULL"), default=None)
