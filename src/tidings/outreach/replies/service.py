"""Replies and threads, as the engine records them (Message rows with direction "in")."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core.errors import NotFound
from tidings.db.models import Campaign, Contact, Enrollment, Mailbox, Message, Thread
from tidings.outreach import access
from tidings.tenancy.subject import AuthSubject

# Bounces are delivery failures, not answers from the contact; every other inbound message is a reply.
NOT_REPLIES = ("bounce",)



async def of_campaign(session: AsyncSession, subject: AuthSubject, campaign_id: int | None, *,
                      limit: int, offset: int) -> list[Message]:
    """A page of a campaign's replies, newest first."""
    subject.require("view_campaigns")
    campaign = await access.campaign(session, subject, campaign_id)
    stmt = (select(Message).where(Message.campaign_id == campaign.id, Message.account_id == campaign.account_id,
                                  Message.direction == "in", Message.channel == "email",
                                  (Message.classification.is_(None)) | (Message.classification.not_in(NOT_REPLIES)))
            .order_by(Message.created_at.desc(), Message.id.desc()).limit(limit).offset(offset))
    return list((await session.execute(stmt)).scalars())


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
    messages = list((await session.execute(
        select(Message).where(Message.thread_id == found.id, Message.account_id == found.account_id,
                              Message.channel == "email")
        .order_by(Message.created_at, Message.id))).scalars())
    contact = None
    if found.enrollment_id is not None:
        contact = (await session.execute(select(Contact).join(Enrollment, Enrollment.contact_id == Contact.id)
                                         .where(Enrollment.id == found.enrollment_id))).scalar_one_or_none()
    mailbox = None if found.mailbox_id is None else await session.get(Mailbox, found.mailbox_id)
    return found, messages, contact, mailbox


async def inbox(session: AsyncSession, subject: AuthSubject, *, campaign_id: int | None = None,
                client_id: int | None = None, interest: str | None = None, limit: int = 50, offset: int = 0
                ) -> tuple[int, list[tuple[Message, Campaign, Enrollment | None, Contact | None]]]:
    """Every reply across the campaigns the subject may see, newest first, with the total for paging."""
    subject.require("view_campaigns")
    stmt = access.in_visible_campaigns(
        select(Message, Campaign, Enrollment, Contact).join(Campaign, Campaign.id == Message.campaign_id)
        .outerjoin(Enrollment, Enrollment.id == Message.enrollment_id)
        .outerjoin(Contact, Contact.id == Enrollment.contact_id)
        .where(Message.direction == "in", Message.channel == "email",
               (Message.classification.is_(None)) | (Message.classification.not_in(NOT_REPLIES))), subject)
    if campaign_id is not None:
        stmt = stmt.where(Campaign.id == campaign_id)
    if client_id is not None:
        stmt = stmt.where(Campaign.client_id == client_id)
    if interest is not None:
        stmt = stmt.where(Enrollment.interest == interest)
    total = int((await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one())
    rows = (await session.execute(stmt.order_by(Message.created_at.desc(), Message.id.desc())
                                  .limit(limit).offset(offset))).all()
    return total, [(m, c, e, ct) for m, c, e, ct in rows]
