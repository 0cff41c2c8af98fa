"""Replies of a campaign or a contact, and email threads."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query

from tidings.api import deps
from tidings.api.contract import ExactRoute
from tidings.api.outreach_v1 import render, schemas
from tidings.api.outreach_v1.common import Caller, page, pk
from tidings.api.outreach_v1.ids import encode
from tidings.core import ids
from tidings.core.ids import Kind
from tidings.outreach.replies import service

router = APIRouter(route_class=ExactRoute)


@router.get("/campaigns/{campaign_id}/replies", response_model=schemas.EmailMessageList)
async def campaign_replies(campaign_id: str, session: deps.Session, subject: Caller,
                           limit: int | None = Query(default=None), offset: int | None = Query(default=None, le=10**7)
                           ) -> dict[str, Any]:
    """A page of the campaign's replies, newest first (limit default 10, max 20)."""
    size, start = page(limit, offset, default=10, maximum=20)
    messages = await service.of_campaign(session, subject, pk(Kind.CAMPAIGN, campaign_id), limit=size, offset=start)
    return {"data": [render.message(m) for m in messages]}


@router.get("/contacts/{contact_id}/replies", response_model=schemas.EmailMessageList)
async def contact_replies(contact_id: str, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """Every reply of one contact, newest first."""
    messages = await service.of_contact(session, subject, pk(Kind.ENROLLMENT, contact_id))
    return {"data": [render.message(m) for m in messages]}


@router.get("/email-threads/{thread_id}", response_model=schemas.ThreadOne)
async def show_thread(thread_id: str, session: deps.Session, subject: Caller) -> dict[str, Any]:
    """An email thread with all its messages, oldest first."""
    thread, messages, contact, mailbox = await service.thread(session, subject, pk(Kind.THREAD, thread_id))
    contact_name = render.full_name(contact)
    mailbox_name = mailbox.name if mailbox is not None else None
    return {"data": {
        "id": encode(Kind.THREAD, thread.id),
        "campaign_id": None if thread.campaign_id is None else ids.encode(Kind.CAMPAIGN, thread.campaign_id),
        "contact_id": None if thread.enrollment_id is None else encode(Kind.ENROLLMENT, thread.enrollment_id),
        "email_messages": [render.message(m, contact_name=contact_name, mailbox_name=mailbox_name)
                           for m in messages],
    }}
