"""Sendings (batches), messages on every channel, their events, and email threads."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ForeignKey, Index, Numeric, String, Text, false, text
from sqlalchemy.orm import Mapped, mapped_column

from tidings.db.base import (
    PK,
    Base,
    DueMixin,
    IdMixin,
    TenantMixin,
    TimestampMixin,
    UnindexedTenantMixin,
    partial_index,
)

# The messages the dispatcher may claim: the claim index's condition, and the claim's filter written the same
# (tidings.engine.dispatcher.CLAIMABLE), so that both planners see that the index covers the query.
QUEUED = "status IN ('queued', 'sending')"


class Sending(IdMixin, TimestampMixin, TenantMixin, Base):
    """One batch of messages: a messaging API request, an email send, an omni batch."""

    __tablename__ = "sendings"

    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16), default="rest")
    status: Mapped[str] = mapped_column(String(16), default="accepted")
    total: Mapped[int] = mapped_column(default=0)
    accepted: Mapped[int] = mapped_column(default=0)
    rejected: Mapped[int] = mapped_column(default=0)
    cost: Mapped[Decimal] = mapped_column(Numeric(14, 5), default=Decimal("0"))
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    scheduled_at: Mapped[datetime | None] = mapped_column(default=None)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Thread(IdMixin, TimestampMixin, TenantMixin, Base):
    """An email conversation: our messages and the replies to them."""

    __tablename__ = "threads"

    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"), index=True)
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id", ondelete="CASCADE"), index=True)
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id", ondelete="SET NULL"), default=None)
    subject: Mapped[str] = mapped_column(Text, default="")
    last_message_at: Mapped[datetime | None] = mapped_column(default=None)


class Message(IdMixin, TimestampMixin, UnindexedTenantMixin, DueMixin, Base):
    """Any outbound or inbound message; a queued outbound one is a row of the due-queue."""

    __tablename__ = "messages"
    # Every UPDATE of a message (claim, send, receipt) is a new row version that takes an entry in each index
    # whose condition it meets, so the indexes on columns most messages leave empty (an SMS has no campaign,
    # thread or RFC id, an email no provider id until sent) hold only the rows that have them: PostgreSQL's CPU
    # per SMS fell by a fifth. A query that compares the column (`=`, `IN`, a join) uses them as before.
    __table_args__ = (
        # The dispatcher's claim reads the due messages in its (due_at, id) order and stops at its batch: on (status,
        # due_at) it sorted every due message first (a claim of 500 cost PostgreSQL 60 ms with 100,000 queued, in a
        # sort spilled to disk). Only queued and sending messages have an entry, so a sent one leaves it (0021).
        partial_index("ix_messages_queue", "due_at", "id", where=QUEUED),
        partial_index("ix_messages_rfc_id", "rfc_message_id"),
        partial_index("ix_messages_external", "channel", "external_id"),
        Index("ix_messages_account_created", "account_id", "created_at"),
        # The email dialect's status search by dates: the account's emails of a sending (a minority of its messages
        # on most accounts), by time.
        partial_index("ix_messages_email_created", "account_id", "channel", "created_at",
                      where="channel = 'email' AND sending_id IS NOT NULL"),
        partial_index("ix_messages_list_pending", "account_id", "list_pending", where="list_pending IS TRUE",
                      sqlite_where="list_pending IS 1"),
        partial_index("ix_messages_sending_id", "sending_id"),
        # A campaign's replies, newest first (and its sends per step, the SET NULL of a deleted campaign).
        partial_index("ix_messages_campaign_id", "campaign_id", "direction", "created_at",
                      where="campaign_id IS NOT NULL"),
        partial_index("ix_messages_enrollment_id", "enrollment_id"),
        partial_index("ix_messages_thread_id", "thread_id"),
        # The email dialect's status search by the caller's correlationIds (only its messages have one).
        partial_index("ix_messages_correlation_id", "correlation_id"),
        # The dashboard's message log and inbox (newest first by direction) and the search by recipient.
        Index("ix_messages_account_direction_created", "account_id", "direction", "created_at"),
        # The sender too: a WhatsApp conversation's messages are (ours -> theirs) or (theirs -> ours).
        Index("ix_messages_account_recipient", "account_id", "recipient", "sender"),
        # The messaging dialect's scheduled messages (only those given a date have one).
        partial_index("ix_messages_scheduled", "account_id", "status", "scheduled_at",
                      where="scheduled_at IS NOT NULL"),
        # An inbound mail that answers no message id (a reply without references, any other mail to a mailbox)
        # is matched to the cold email last sent to its sender, whatever the case of the address.
        partial_index("ix_messages_outreach_recipient", text("lower(recipient)"), where="enrollment_id IS NOT NULL"),
    )

    # account_id has no index of its own: four indexes lead with it (the tenant scope and the cascade use them).
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(8), default="out")
    status: Mapped[str] = mapped_column(String(16), default="queued")
    sender: Mapped[str] = mapped_column(String(320), default="")
    sender_name: Mapped[str | None] = mapped_column(String(200), default=None)
    recipient: Mapped[str] = mapped_column(String(320), default="")
    recipient_name: Mapped[str | None] = mapped_column(String(200), default=None)
    subject: Mapped[str | None] = mapped_column(Text, default=None)
    body: Mapped[str | None] = mapped_column(Text, default=None)
    html: Mapped[str | None] = mapped_column(Text, default=None)
    parts: Mapped[int] = mapped_column(default=1)
    encoding: Mapped[str | None] = mapped_column(String(16), default=None)
    cost: Mapped[Decimal] = mapped_column(Numeric(14, 5), default=Decimal("0"))
    sending_id: Mapped[int | None] = mapped_column(ForeignKey("sendings.id", ondelete="CASCADE"))
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"))
    enrollment_id: Mapped[int | None] = mapped_column(ForeignKey("enrollments.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"), default=None)
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailboxes.id", ondelete="SET NULL"), default=None)
    step_number: Mapped[int | None] = mapped_column(default=None)
    variant: Mapped[int | None] = mapped_column(default=None)
    thread_id: Mapped[int | None] = mapped_column(ForeignKey("threads.id", ondelete="SET NULL"))
    correlation_id: Mapped[str | None] = mapped_column(String(255), default=None)
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    rfc_message_id: Mapped[str | None] = mapped_column(String(998), default=None)
    in_reply_to: Mapped[str | None] = mapped_column(String(998), default=None)
    classification: Mapped[str | None] = mapped_column(String(16), default=None)
    scheduled_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    opened_at: Mapped[datetime | None] = mapped_column(default=None)
    clicked_at: Mapped[datetime | None] = mapped_column(default=None)
    error_code: Mapped[str | None] = mapped_column(String(64), default=None)
    error_detail: Mapped[str | None] = mapped_column(Text, default=None)
    # Last change by the caller after queueing (a scheduled message moved), for the scheduled list.
    updated_at: Mapped[datetime | None] = mapped_column(default=None)
    # Dialect-specific extras: custom fields, notification URL, tags, flags, headers, attachments.
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Email dialect: a status changed since POST /v1/email/status/list last returned this message.
    list_pending: Mapped[bool] = mapped_column(default=False, server_default=false())


class MessagePart(IdMixin, Base):
    """The provider's id of a later part (2, 3, ...) of a multi-part SMS, which that part's receipt names."""

    __tablename__ = "message_parts"
    __table_args__ = (Index("ix_message_parts_provider", "channel", "provider_id"),)

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    provider_id: Mapped[str] = mapped_column(String(255))
    part: Mapped[int]


class Event(IdMixin, UnindexedTenantMixin, Base):
    """Something that happened to a message; stats counters move in the same transaction."""

    __tablename__ = "events"
    # Events are only inserted, each taking an entry in every index: the sending's index holds the events that
    # have one (a cold email's have none), and the account has no index (every read goes by message or sending).
    __table_args__ = (partial_index("ix_events_sending_time", "sending_id", "occurred_at",
                                    where="sending_id IS NOT NULL"),)

    # The account and the sending are the message's (copied when recorded), without foreign keys of their own:
    # the message's key already ties them (deleting an account or a sending deletes its messages, and these with
    # them), and each key is a lookup and a row lock on PostgreSQL for every event inserted, two an SMS (0020).
    account_id: Mapped[int] = mapped_column(PK)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), index=True)
    sending_id: Mapped[int | None] = mapped_column(PK, default=None)
    campaign_id: Mapped[int | None] = mapped_column(ForeignKey("campaigns.id", ondelete="SET NULL"), default=None)
    kind: Mapped[str] = mapped_column(String(32))
    occurred_at: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
