"""What events on outreach messages do to enrollments and campaign counters (same transaction).

sent: the step is done; the next one is due `delay_days` later. bounced: BOUNCED. replied:
REPLIED, the sequence stops. autoreplied: AUTOREPLIED, counted once; the sequence goes on unless
the campaign stops on auto-replies. unsubscribed: the address is suppressed for the client.
failed (transient errors until the dispatcher gave up): the step is tried again later, not lost;
failed because the message could not be built: the contact is STOPPED (the message keeps the error).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.db.counters import bump
from tidings.db.models import Campaign, Enrollment, Mailbox, Message, Step
from tidings.messaging import events
from tidings.outreach import counters
from tidings.outreach.engine.status import campaign_of, enrollment_of, sendable, step_delays
from tidings.outreach.suppressions.service import suppress_email

RETRY_FAILED_STEP = timedelta(hours=1)
PREPARE_FAILED = "prepare"  # the dispatcher's code for a message that could not be built


async def _context(session: AsyncSession, message: Message) -> tuple[Enrollment, Campaign] | None:
    if message.direction != "out" or message.enrollment_id is None or message.campaign_id is None:
        return None
    enrollment = await enrollment_of(session, message)
    campaign = await campaign_of(session, message)
    if enrollment is None or campaign is None or campaign.kind != "sequence":
        return None
    return enrollment, campaign


_DELAY = select(Step.id, Step.delay_days).where(Step.campaign_id == bindparam("campaign_id"),
                                               Step.number == bindparam("number"))


async def _delay_days(session: AsyncSession, campaign_id: int, number: int) -> float | None:
    """The step's delay_days, None when the campaign has no such step. The enrollments' query fills the cache for
    the step after each enrollment's next one; a lookup is the exception."""
    cache = step_delays(session)
    key = (campaign_id, number)
    if key not in cache:
        # Without autoflush: steps are not changed here, and a flush per lookup would split the batch's writes.
        with session.no_autoflush:
            found = (await session.execute(_DELAY, {"campaign_id": campaign_id, "number": number})).first()
        cache[key] = None if found is None else float(found.delay_days or 0)
    return cache[key]


async def _count(session: AsyncSession, message: Message, metric: str, *, step: bool = True) -> None:
    assert message.campaign_id is not None
    await counters.count(session, account_id=message.account_id, campaign_id=message.campaign_id, metric=metric,
                         step=message.step_number if step else None)


async def _count_variant(session: AsyncSession, message: Message, what: str) -> None:
    """Per-variant figures beside the step's, e.g. metric "v1_sent" at the step's number."""
    if message.campaign_id is None or message.step_number is None:
        return
    await bump(session, account_id=message.account_id, scope=counters.SCOPE, scope_id=message.campaign_id,
               day=clock.now().date(), metric=f"v{message.variant or 0}_{what}", step=message.step_number)


@events.on_event("sent")
async def on_sent(session: AsyncSession, happened: events.Happened) -> None:
    message = happened.message
    found = await _context(session, message) if happened.first else None
    if found is None or message.step_number is None:
        return
    enrollment, campaign = found
    now = clock.as_utc(message.sent_at or clock.now())
    await _count(session, message, "messages_sent")
    await _count_variant(session, message, "sent")
    if message.step_number == 1:
        await _count(session, message, "contacted")
    else:
        # Per step, "contacted" is how many contacts this step reached.
        await bump(session, account_id=message.account_id, scope=counters.SCOPE, scope_id=campaign.id,
                   day=now.date(), metric="contacted", step=message.step_number)
    enrollment.emails_sent += 1
    enrollment.last_sent_at = now
    enrollment.updated_at = now
    if enrollment.next_step == message.step_number:
        enrollment.completed_steps = max(enrollment.completed_steps, message.step_number)
        enrollment.next_step = message.step_number + 1
        delay = await _delay_days(session, campaign.id, enrollment.next_step)
        if delay is not None and sendable(enrollment.status, campaign):
            enrollment.next_due_at = now + timedelta(days=delay)
        else:
            enrollment.next_due_at = None


@events.on_event("bounced")
async def on_bounced(session: AsyncSession, happened: events.Happened) -> None:
    found = await _context(session, happened.message)
    if found is None:
        return
    enrollment, _ = found
    if enrollment.status == "BOUNCED":
        return
    enrollment.status, enrollment.next_due_at, enrollment.updated_at = "BOUNCED", None, clock.now()
    await _count(session, happened.message, "bounced")


@events.on_event("replied")
async def on_replied(session: AsyncSession, happened: events.Happened) -> None:
    found = await _context(session, happened.message)
    if found is None:
        return
    enrollment, _ = found
    now = clock.now()
    if enrollment.replied_at is None:
        enrollment.replied_at = now
        await _count(session, happened.message, "replied")
        await _count_variant(session, happened.message, "replied")
    if enrollment.status in ("OK", "AUTOREPLIED"):  # a real reply after an auto-reply still counts
        enrollment.status, enrollment.next_due_at, enrollment.updated_at = "REPLIED", None, now


@events.on_event("autoreplied")
async def on_autoreplied(session: AsyncSession, happened: events.Happened) -> None:
    found = await _context(session, happened.message)
    if found is None:
        return
    enrollment, campaign = found
    if enrollment.status != "OK":
        return  # counted once per contact; a reply or bounce already decided its fate
    enrollment.status, enrollment.updated_at = "AUTOREPLIED", clock.now()
    await _count(session, happened.message, "autoreplied", step=False)
    if not sendable("AUTOREPLIED", campaign):
        enrollment.next_due_at = None


@events.on_event("unsubscribed")
async def on_unsubscribed(session: AsyncSession, happened: events.Happened) -> None:
    found = await _context(session, happened.message)
    if found is None:
        return
    enrollment, campaign = found
    await suppress_email(session, account_id=campaign.account_id, client_id=campaign.client_id,
                         email=happened.message.recipient, reason="unsubscribed")
    # The bulk update above bypasses the identity map; keep this row in step with it.
    enrollment.status, enrollment.is_suppressed, enrollment.next_due_at = "UNSUBSCRIBED", True, None


@events.on_event("opened", "clicked")
async def on_tracked(session: AsyncSession, happened: events.Happened) -> None:
    if not happened.first or await _context(session, happened.message) is None:
        return
    await _count(session, happened.message, "messages_opened" if happened.event.kind == "opened"
                 else "messages_clicked")


@events.on_event("failed")
async def on_failed(session: AsyncSession, happened: events.Happened) -> None:
    found = await _context(session, happened.message)
    if found is None:
        return
    enrollment, campaign = found
    message = happened.message
    if enrollment.next_step != message.step_number or not sendable(enrollment.status, campaign):
        return
    now = clock.now()
    if (happened.event.details or {}).get("code") == PREPARE_FAILED and await _mailbox_exists(session, message):
        # Building the step again would fail again: stop the contact, where the API shows it (its status;
        # the message keeps the error), instead of retrying unseen every hour.
        enrollment.status, enrollment.next_due_at, enrollment.updated_at = "STOPPED", None, now
        return
    enrollment.next_due_at = now + RETRY_FAILED_STEP


async def _mailbox_exists(session: AsyncSession, message: Message) -> bool:
    """A message whose mailbox was deleted meanwhile goes out later through another one."""
    return message.mailbox_id is not None and await session.get(Mailbox, message.mailbox_id) is not None
