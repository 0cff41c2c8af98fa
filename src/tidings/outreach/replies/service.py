"""Replies and threads, as the engine records them (Message rows with direction "in")."""

from __future__ import annotations

from sqlalchemy import Select, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.core.errors import NotFound, ValidationFailed
from tidings.db.models import Campaign, Contact, Enrollment, Mailbox, Message, Thread
from tidings.messaging import outbox
from tidings.outreach import access
from tidings.outreach.text import is_storable
from tidings.tenancy.subject import AuthSubject

# Bounces are delivery failures, not answers from the contact; every other inbound message is a reply.
NOT_REPLIES = ("bounce",)
# A contact's interest until someone marks it (most never are).
UNMARKED = "UNMARKED"



async def of_campaign(session: AsyncSession, subject: AuthSubject, campaign_id: int | None, *,
                      limit: int, offset: int) -> list[Message]:
    """A page of a campaign's replies, newest first."""
    subject.require("view_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    stmt = of_campaign_statement(campaign.id, campaign.account_id, limit=limit, offset=offset)
    return list((await session.execute(stmt)).scalars())


def of_campaign_statement(campaign_id: int, account_id: int, *, limit: int, offset: int) -> Select[Message]:
    """A page of a campaign's replies, through ix_messages_campaign_id (campaign, direction, time)."""
    return (select(Message).where(Message.campaign_id == campaign_id, Message.account_id == account_id,
                                  Message.direction == "in", Message.channel == "email",
                                  (Message.classification.is_(None)) | (Message.classification.not_in(NOT_REPLIES)))
            .order_by(Message.created_at.desc(), Message.id.desc()).limit(limit).offset(offset))


async def of_contact(session: AsyncSession, subject: AuthSubject, enrollment_id: int | None) -> list[Message]:
    """Every reply of one contact, newest first."""
    subject.require("view_campaigns")
    enrollment, _, campaign = await access.enrollment(session, subject, enrollment_id)
    stmt = (select(Message).where(Message.enrollment_id == enrollment.id, Message.account_id == campaign.account_id,
                                  Message.direction == "in", Message.channel == "email",
                                  (Message.classification.is_(None)) | (Message.classification.not_in(NOT_REPLIES)))
            .order_by(Message.created_at.desc(), Message.id.desc()))
    return list((await session.execute(stmt)).scalars())


async def thread(session: AsyncSession, subject: AuthSubject, thread_id: int | None
                 ) -> tuple[Thread, list[Message], Contact | None, Mailbox | None]:
    """A thread with all its messages, oldest first, and its contact and mailbox for names."""
    subject.require("view_campaigns")
    if thread_id is None:
        raise NotFound("Email thread not found.")
    stmt = access.in_visible_campaigns(
        select(Thread).join(Campaign, Campaign.id == Thread.campaign_id).where(Thread.id == thread_id), subject)
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("Email thread not found.")
    # The thread is the subject's (checked above), so are its messages. Naming the account here made SQLite walk
    # all of the account's messages (its index on account and time) instead of the thread's few.
    messages = list((await session.execute(
        select(Message).where(Message.thread_id == found.id, Message.channel == "email")
        .order_by(Message.created_at, Message.id))).scalars())
    contact = None
    if found.enrollment_id is not None:
        contact = (await session.execute(select(Contact).join(Enrollment, Enrollment.contact_id == Contact.id)
                                         .where(Enrollment.id == found.enrollment_id))).scalar_one_or_none()
    mailbox = None if found.mailbox_id is None else await session.get(Mailbox, found.mailbox_id)
    return found, messages, contact, mailbox


async def inbox(session: AsyncSession, subject: AuthSubject, *, campaign_id: int | None = None,
                client_id: int | None = None, interest: str | None = None, limit: int = 50, offset: int = 0
                ) -> tuple[list[tuple[Message, Campaign, Enrollment | None, Contact | None]], bool]:
    """A page of the replies across the campaigns the subject may see, newest first, and whether more follow.

    No total is counted: with a large inbox the count costs more than the page.
    """
    subject.require("view_campaigns")
    campaign_ids = None
    if campaign_id is None and (client_id is not None or subject.client_id is not None):
        campaign_ids = list((await session.execute(client_campaigns_statement(subject, client_id))).scalars())
    stmt = inbox_statement(subject, campaign_id=campaign_id, client_id=client_id, campaign_ids=campaign_ids,
                           interest=interest)
    rows = (await session.execute(stmt.limit(limit + 1).offset(offset))).all()
    return [(m, c, e, ct) for m, c, e, ct in rows[:limit]], len(rows) > limit


def client_campaigns_statement(subject: AuthSubject, client_id: int | None) -> Select[int]:
    """The ids of a client's campaigns that the subject may see (a client's user: its own client's)."""
    stmt = access.in_visible_campaigns(select(Campaign.id), subject)
    return stmt if client_id is None else stmt.where(Campaign.client_id == client_id)


def inbox_statement(subject: AuthSubject, *, campaign_id: int | None = None, client_id: int | None = None,
                    campaign_ids: list[int] | None = None, interest: str | None = None
                    ) -> Select[Message, Campaign, Enrollment, Contact]:
    """The replies the subject may see, newest first: by account and time, or through the campaigns' index.

    `campaign_ids` (client_campaigns_statement's) reads a client's replies through ix_messages_campaign_id by
    campaign and direction instead of every inbound message of the account; `interest` (other than UNMARKED) reads
    the account's marked enrollments through ix_enrollments_account_interest and their messages by enrollment.
    """
    selected = select(Message, Campaign, Enrollment, Contact).join(Campaign, Campaign.id == Message.campaign_id)
    if interest is None:
        selected = selected.outerjoin(Enrollment, Enrollment.id == Message.enrollment_id)
    else:  # the filter drops the replies without an enrollment anyway
        selected = selected.join(Enrollment, Enrollment.id == Message.enrollment_id)
    stmt = access.in_visible_campaigns(
        selected.outerjoin(Contact, Contact.id == Enrollment.contact_id)
        .where(Message.account_id == subject.account_id, Message.direction == "in", Message.channel == "email",
               (Message.classification.is_(None)) | (Message.classification.not_in(NOT_REPLIES))), subject)
    if campaign_id is not None:
        stmt = stmt.where(Campaign.id == campaign_id)  # both planners carry it over the join to the message's index
    if client_id is not None:
        stmt = stmt.where(Campaign.client_id == client_id)
    if campaign_ids is not None:
        # A list of values, not a subquery: PostgreSQL estimates from it how many replies the client has, and walks
        # the account's replies by time only when they are most of them.
        stmt = stmt.where(Message.campaign_id.in_(campaign_ids))
    if interest is not None:
        stmt = stmt.where(Enrollment.interest == interest)
        if interest != UNMARKED:  # the account's marked contacts of that interest, then their messages
            stmt = stmt.where(Enrollment.account_id == subject.account_id)
            # The partial index's own condition, literally: SQLite uses a partial index only for a query that states it.
            stmt = stmt.where(Enrollment.interest != literal_column(f"'{UNMARKED}'"))
    return stmt.order_by(Message.created_at.desc(), Message.id.desc())


async def answer(session: AsyncSession, subject: AuthSubject, thread_id: int | None, text: str) -> Message:
    """Queue our answer in a thread, from the mailbox that sent it, threaded under the last message.

    It goes out through the mailbox's SMTP like a step, but it is not a step: the sequence, its
    counters and the contact's status are left alone.
    """
    subject.require("create_campaigns")
    body = text.strip()
    if not body:
        raise ValidationFailed.on("body", "Write something to send.")
    if len(body) > 100_000 or not is_storable(body):
        raise ValidationFailed.on("body", "The answer is too long or holds characters that cannot be sent.")
    found, messages, contact, mailbox = await thread(session, subject, thread_id)
    if mailbox is None or contact is None or not contact.email:
        raise ValidationFailed.on("thread", "This thread has no mailbox or contact address to answer from.")
    # Only what the contact has seen threads the answer: a queued email already has its Message-ID.
    seen = [m for m in messages if m.direction == "in" or m.sent_at is not None]
    ids = [m.rfc_message_id for m in seen if m.rfc_message_id]
    last = seen[-1] if seen else None
    title = (next((m.subject for m in messages if m.subject), None) or found.subject or "").strip()
    if not title.lower().startswith("re:"):
        title = f"Re: {title}" if title else "Re:"
    message = outbox.new_message(
        account_id=found.account_id, channel="email", sender=mailbox.email, recipient=contact.email,
        sender_name=mailbox.name or None, subject=title, body=body, campaign_id=found.campaign_id,
        enrollment_id=found.enrollment_id, contact_id=contact.id, mailbox_id=mailbox.id, thread_id=found.id,
        in_reply_to=last.rfc_message_id if last else None,
        extra={"preparer": "mailbox", "references": ids[-20:], "manual": True, "list_unsubscribe": False})
    found.last_message_at = clock.now()
    return await outbox.queue(session, message)
