"""People in an account's database, and their enrollment in campaigns."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Column, ForeignKey, Index, String, Table, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import PK, Base, IdMixin, TenantMixin, TimestampMixin, UnindexedTenantMixin

# The account's contact database holds one contact per email and per phone; outreach enrollments
# keep their own per-campaign rows (in_database false), which these indexes leave alone.
_LISTED = text("in_database")


class Contact(IdMixin, TimestampMixin, TenantMixin, Base):
    __tablename__ = "contacts"
    __table_args__ = (
        Index("ix_contacts_account_email_key", "account_id", "email_key"),
        Index("ix_contacts_account_phone", "account_id", "phone"),
        Index("uq_contacts_database_email", "account_id", "email_key", unique=True,
              sqlite_where=_LISTED, postgresql_where=_LISTED),
        Index("uq_contacts_database_phone", "account_id", "phone", unique=True,
              sqlite_where=_LISTED, postgresql_where=_LISTED),
        Index("ix_contacts_account_external_id", "account_id", "external_id"),
        Index("ix_contacts_account_landline", "account_id", "landline",
              sqlite_where=text("landline IS NOT NULL"), postgresql_where=text("landline IS NOT NULL")),
    )

    client_id: Mapped[int | None] = mapped_column(ForeignKey("clients.id", ondelete="CASCADE"), index=True)
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    # Lower-cased address used for matching, suppression and search.
    email_key: Mapped[str | None] = mapped_column(String(320), default=None)
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    landline: Mapped[str | None] = mapped_column(String(32), default=None)
    first_name: Mapped[str | None] = mapped_column(String(200), default=None)
    last_name: Mapped[str | None] = mapped_column(String(200), default=None)
    company: Mapped[str | None] = mapped_column(String(255), default=None)
    title: Mapped[str | None] = mapped_column(String(255), default=None)
    industry: Mapped[str | None] = mapped_column(String(255), default=None)
    website: Mapped[str | None] = mapped_column(String(500), default=None)
    address: Mapped[str | None] = mapped_column(String(500), default=None)
    city: Mapped[str | None] = mapped_column(String(200), default=None)
    state: Mapped[str | None] = mapped_column(String(200), default=None)
    country: Mapped[str | None] = mapped_column(String(100), default=None)
    timezone: Mapped[str | None] = mapped_column(String(64), default=None)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    custom_fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)
    # A contact of the account's database (messaging /contacts and groups), not a campaign's copy.
    in_database: Mapped[bool] = mapped_column(default=False, server_default=false())
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    # ISO alpha-2 country the phone and landline were read in.
    country_iso: Mapped[str | None] = mapped_column(String(2), default=None)
    # Type of each custom field ("date", "decimal"); a key not listed is a string.
    custom_field_types: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default="{}")


class Group(IdMixin, TimestampMixin, TenantMixin, Base):
    """A named list of contacts in an account's database."""

    __tablename__ = "contact_groups"
    __table_args__ = (UniqueConstraint("account_id", "name"),)

    name: Mapped[str] = mapped_column(String(255))
    updated_at: Mapped[datetime | None] = mapped_column(default=None)


# Membership rows go with either side: deleting a group keeps its contacts.
group_members = Table(
    "contact_group_members",
    Base.metadata,
    Column("group_id", PK, ForeignKey("contact_groups.id", ondelete="CASCADE"), primary_key=True),
    Column("contact_id", PK, ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Enrollment(IdMixin, TimestampMixin, UnindexedTenantMixin, Base):
    """A contact in a campaign: where it is in the sequence and how it answered."""

    __tablename__ = "enrollments"
    __table_args__ = (
        UniqueConstraint("campaign_id", "contact_id"),
        Index("ix_enrollments_due", "status", "next_due_at"),
        # A campaign's contacts waiting for each step (stats' per-step `queued`), read from the index alone.
        Index("ix_enrollments_campaign_status_step", "campaign_id", "status", "next_step"),
        # The inbox by interest: the account's marked contacts (most stay UNMARKED, which the index leaves out).
        Index("ix_enrollments_account_interest", "account_id", "interest",
              postgresql_where=text("interest <> 'UNMARKED'"), sqlite_where=text("interest <> 'UNMARKED'")),
    )

    # account_id has no index of its own: enrollments are reached through their campaign and contact, and with one
    # SQLite walked every enrollment of the account to apply a suppression.
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="OK")
    interest: Mapped[str] = mapped_column(String(16), default="UNMARKED")
    is_suppressed: Mapped[bool] = mapped_column(default=False)
    is_missing_data: Mapped[bool] = mapped_column(default=False)
    emails_sent: Mapped[int] = mapped_column(default=0)
    completed_steps: Mapped[int] = mapped_column(default=0)
    next_step: Mapped[int] = mapped_column(default=1)
    next_due_at: Mapped[datetime | None] = mapped_column(default=None)
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id", ondelete="SET NULL"), default=None)
    variant: Mapped[int | None] = mapped_column(default=None)
    last_sent_at: Mapped[datetime | None] = mapped_column(default=None)
    replied_at: Mapped[datetime | None] = mapped_column(default=None)
    updated_at: Mapped[datetime | None] = mapped_column(default=None)
