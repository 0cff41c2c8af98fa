"""Stats counters, moved in the same transaction as the event that moves them."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import Base, IdMixin, UnindexedTenantMixin


class StatCounter(IdMixin, UnindexedTenantMixin, Base):
    """One metric of a campaign or sending, per step (0 = all steps) and per day."""

    __tablename__ = "stat_counters"
    # The account's counters of one scope over recent days (the dashboard's sendings chart); it serves the tenant
    # scope and the account's cascade too, in place of an index on the account alone.
    __table_args__ = (UniqueConstraint("scope", "scope_id", "step", "day", "metric"),
                      Index("ix_stat_counters_account_scope_day", "account_id", "scope", "day"))

    scope: Mapped[str] = mapped_column(String(16))
    scope_id: Mapped[int]
    step: Mapped[int] = mapped_column(default=0)
    day: Mapped[date]
    metric: Mapped[str] = mapped_column(String(32))
    value: Mapped[int] = mapped_column(default=0)
