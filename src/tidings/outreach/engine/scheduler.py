"""The sequence scheduler: queues each due contact's next step on a mailbox, inside the window.

One round per RUNNING campaign, in its own transaction: due enrollments (status OK, or
AUTOREPLIED while the sequence goes on) are leased with SKIP LOCKED on PostgreSQL, checked
against the suppression list, given a mailbox (their thread's, or the least used free one),
rendered and queued through the shared outbox with `preparer="mailbox"`; the dispatcher sends
them. The enrollment then waits (`next_due_at` None) until the send's outcome moves it on.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.core.emails import email_key
from tidings.core.templating import MissingFieldError
from tidings.db.base import table_of
from tidings.db.models import Campaign, Contact, Enrollment, Mailbox, Message, Step, Thread
from tidings.db.plain_writes import update_plain
from tidings.db.tracked import columns_of, tracked
from tidings.engine.context import EngineContext
from tidings.engine.registry import loop
from tidings.messaging import outbox
from tidings.outreach.campaigns.service import complete_if_finished, mailboxes_of, receiving_statuses, steps_of
from tidings.outreach.engine import rotation
from tidings.outreach.engine.rendering import pick_variant, render_step, variants_of
from tidings.outreach.engine.status import window
from tidings.outreach.fields import merge_fields
from tidings.outreach.suppressions.service import suppressed_keys

log = structlog.get_logger("tidings.outreach.scheduler")
PREPARER = "mailbox"


@dataclass
class _Plan:
    enrollment: Enrollment
    contact: Contact
    step: Step
    box: Mailbox
    variant: int
    subject: str
    html: str
    text: str | None
    thread: Thread | None
    in_reply_to: str | None
    references: list[str]


def _key(contact: Contact) -> str:
    """The contact's stored matching key; computed only for rows written before keys were stored."""
    return contact.email_key or email_key(contact.email or "")


def _name(contact: Contact) -> str | None:
    return " ".join(p for p in (contact.first_name, contact.last_name) if p) or None


async def _variant_counts(session: AsyncSession, campaign_id: int) -> dict[int, Counter[int]]:
    """Messages queued so far per step and variant, so new sends keep the split even."""
    rows = (await session.execute(
        select(Message.step_number, Message.variant, func.count())
        .where(Message.campaign_id == campaign_id, Message.direction == "out")
        .group_by(Message.step_number, Message.variant))).all()
    out: dict[int, Counter[int]] = {}
    for step, variant, n in rows:
        if step is not None:
            out.setdefault(int(step), Counter())[int(variant or 0)] += int(n)
    return out


async def _history(session: AsyncSession, enrollment: Enrollment) -> tuple[Thread | None, list[str]]:
    """The enrollment's thread and the Message-IDs of its sent messages, oldest first."""
    thread = (await session.execute(select(Thread).where(Thread.enrollment_id == enrollment.id)
                                    .order_by(Thread.id).limit(1))).scalar_one_or_none()
    ids = (await session.execute(
        select(Message.rfc_message_id).where(Message.enrollment_id == enrollment.id, Message.direction == "out",
                                             Message.sent_at.is_not(None), Message.rfc_message_id.is_not(None))
        .order_by(Message.sent_at, Message.id))).scalars().all()
    return thread, [i for i in ids if i]


async def schedule_campaign(session: AsyncSession, campaign_id: int, *, limit: int) -> int:
    """Queue the next step of up to `limit` due contacts of one campaign; returns how many changed."""
    now = clock.now()
    postgres = session.get_bind().dialect.name == "postgresql"
    campaign = await session.get(Campaign, campaign_id)
    if campaign is None or campaign.status != "RUNNING":
        return 0
    win = window(campaign)
    if win is not None and not win.is_open(now):
        return 0  # due contacts simply stay due until the window opens
    steps = {s.number: s for s in await steps_of(session, campaign.id)}
    box_stmt = select(Mailbox).where(Mailbox.id.in_([b.id for b in await mailboxes_of(session, campaign.id)] or [0]))
    if postgres:
        box_stmt = box_stmt.with_for_update()
    boxes = {b.id: b for b in (await session.execute(box_stmt.order_by(Mailbox.id))).scalars()}
    pool = list(boxes.values())

    rows = await _due(session, campaign, now, limit, postgres)
    if not rows:
        await complete_if_finished(session, campaign.id)
        return 0
    turn = rotation.Round(now)
    if not any(turn.can_send(b) for b in pool) and all(e.mailbox_id is None for e, _ in rows):
        return 0  # every mailbox is at its limit or interval: nothing to do this round

    suppressed = await suppressed_keys(session, account_id=campaign.account_id, client_id=campaign.client_id,
                                       keys=[_key(c) for _, c in rows if c.email])
    # The split needs the counts only where a step has variants; the query scans every message the
    # campaign has queued, so a campaign without variants skips it.
    counts = (await _variant_counts(session, campaign.id)
              if any(len(variants_of(s)) > 1 for s in steps.values()) else {})
    plans: list[_Plan] = []
    changed = 0
    for enrollment, contact in rows:
        step = steps.get(enrollment.next_step)
        if step is None:
            enrollment.next_due_at = None  # the sequence is over for this contact
            changed += 1
            continue
        if contact.email and _key(contact) in suppressed:
            enrollment.status, enrollment.is_suppressed, enrollment.next_due_at = "UNSUBSCRIBED", True, None
            enrollment.updated_at = now
            changed += 1
            continue
        box = await _mailbox_for(session, enrollment, boxes, pool, turn)
        if box is None:
            if enrollment.mailbox_id is not None and enrollment.mailbox_id in boxes:
                # Its thread's mailbox is busy: come back when it is free instead of every round.
                enrollment.next_due_at = max(now + timedelta(seconds=1),
                                             rotation.free_at(boxes[enrollment.mailbox_id], now))
                changed += 1
            continue
        thread, references = (None, []) if step.number == 1 else await _history(session, enrollment)
        options = len(variants_of(step))
        step_counts = counts.setdefault(step.number, Counter())
        variant = pick_variant(step_counts, options)
        try:
            if not contact.email:
                raise MissingFieldError(["email"])
            rendered = render_step(step, variant, merge_fields(contact), f"{enrollment.id}:{step.number}",
                                   thread.subject if thread is not None else None)
        except MissingFieldError as exc:
            enrollment.status, enrollment.is_missing_data, enrollment.next_due_at = "MISSING-DATA", True, None
            enrollment.updated_at = now
            log.info("contact misses merge data", enrollment_id=enrollment.id, fields=exc.field_names)
            changed += 1
            continue
        step_counts[variant] += 1
        turn.reserve(box)
        plans.append(_Plan(enrollment, contact, step, box, variant, rendered.subject, rendered.html, rendered.text,
                           thread, references[-1] if references else None, references))
    await _queue(session, campaign, plans, now)
    # What the round decided for the contacts it did not queue (the plans' enrollments change in _queue).
    decided = {enrollment.id: changes for enrollment, _ in rows if (changes := enrollment.take_changes())}
    if decided:
        await update_plain(session, Enrollment, decided)
    return changed + len(plans)


_ENROLLMENT_COLUMNS, _CONTACT_COLUMNS = columns_of(Enrollment), columns_of(Contact)


async def _due(session: AsyncSession, campaign: Campaign, now: datetime, limit: int,
               postgres: bool) -> list[tuple[Any, Any]]:
    """The due enrollments (leased on PostgreSQL) with their contacts, as tracked rows (`db.tracked`).

    As ORM objects, loading a round's thousand enrollments and contacts and reading their attributes was a
    sixth of the scheduler's CPU (docs/performance.md).
    """
    enrollments, contacts = table_of(Enrollment), table_of(Contact)
    stmt = (select(*_ENROLLMENT_COLUMNS, *_CONTACT_COLUMNS)
            .select_from(enrollments.join(contacts, contacts.c.id == enrollments.c.contact_id))
            .where(enrollments.c.campaign_id == campaign.id,
                   enrollments.c.status.in_(receiving_statuses(campaign)),
                   enrollments.c.next_due_at.is_not(None), enrollments.c.next_due_at <= now)
            .order_by(enrollments.c.next_due_at, enrollments.c.id).limit(limit))
    if postgres:
        stmt = stmt.with_for_update(skip_locked=True, of=enrollments)
    found = (await session.execute(stmt)).all()
    split = len(_ENROLLMENT_COLUMNS)
    return list(zip(tracked(Enrollment, (row[:split] for row in found)),
                    tracked(Contact, (row[split:] for row in found)), strict=True))


async def _mailbox_for(session: AsyncSession, enrollment: Enrollment, boxes: dict[int, Mailbox],
                       pool: list[Mailbox], turn: rotation.Round) -> Mailbox | None:
    """The thread's mailbox when it has one (even if no longer in the campaign), else a free one."""
    if enrollment.mailbox_id is not None:
        box = boxes.get(enrollment.mailbox_id)
        if box is None:
            box = await session.get(Mailbox, enrollment.mailbox_id)
            if box is None:
                return turn.pick(pool)
            boxes[box.id] = box
        return box if turn.can_send(box) else None
    return turn.pick(pool)


async def _queue(session: AsyncSession, campaign: Campaign, plans: list[_Plan], now: datetime) -> None:
    """Write the plans: new threads, messages and enrollment updates as a few bulk statements.

    Nothing in this transaction needs ORM objects for the new rows, and a unit-of-work flush per
    object was most of the scheduler's time; new threads' ids come back from one INSERT ... RETURNING.
    """
    if not plans:
        return
    settings = campaign.settings or {}
    fresh = [plan for plan in plans if plan.thread is None]
    thread_ids: dict[int, int] = {}
    if fresh:
        # Matched back by enrollment (one plan each): RETURNING's row order is not guaranteed, and asking
        # SQLAlchemy to sort it costs one statement per row on SQLite.
        table = table_of(Thread)
        stmt = insert(table).returning(table.c.id, table.c.enrollment_id)
        created = await session.execute(stmt, [
            {"account_id": campaign.account_id, "campaign_id": campaign.id, "enrollment_id": plan.enrollment.id,
             "mailbox_id": plan.box.id, "subject": plan.subject, "last_message_at": now} for plan in fresh])
        thread_ids = {enrollment_id: pk for pk, enrollment_id in created if enrollment_id is not None}
    rows: list[dict[str, Any]] = []
    assigned: defaultdict[tuple[int, int], list[int]] = defaultdict(list)
    # Rows with the same `extra` share one dict (every first step's): the INSERT serialises each document once.
    extras: dict[tuple[str, ...], dict[str, Any]] = {}
    track_opens, track_clicks = bool(settings.get("track_opens")), bool(settings.get("track_clicks"))
    for plan in plans:
        if plan.thread is not None:
            plan.thread.last_message_at = now
        extra = extras.get(tuple(plan.references))
        if extra is None:
            extra = extras[tuple(plan.references)] = {"preparer": PREPARER, "references": plan.references,
                                                      "track_opens": track_opens, "track_clicks": track_clicks}
        rows.append(outbox.message_row(
            account_id=campaign.account_id, channel="email", sender=plan.box.email, recipient=plan.contact.email or "",
            sender_name=plan.box.name or None, recipient_name=_name(plan.contact), subject=plan.subject,
            body=plan.text, html=plan.html, campaign_id=campaign.id, enrollment_id=plan.enrollment.id,
            contact_id=plan.contact.id, mailbox_id=plan.box.id, step_number=plan.step.number, variant=plan.variant,
            thread_id=plan.thread.id if plan.thread is not None else thread_ids[plan.enrollment.id],
            in_reply_to=plan.in_reply_to, extra=extra, due_at=now))
        assigned[(plan.box.id, plan.variant)].append(plan.enrollment.id)
    await outbox.queue_rows(session, rows)
    # The enrollments wait for the send's outcome; one UPDATE per mailbox and variant instead of one per row.
    # The loaded Enrollment objects are not synchronised (evaluating the IN list against every object in
    # the session costs more than the UPDATE): this is the transaction's last use of them.
    for (box_id, variant), ids in assigned.items():
        for i in range(0, len(ids), 500):
            await session.execute(update(Enrollment).where(Enrollment.id.in_(ids[i:i + 500]))
                                  .values(mailbox_id=box_id, variant=variant, next_due_at=None, updated_at=now)
                                  .execution_options(synchronize_session=False))


@loop("outreach.schedule")
async def schedule(ctx: EngineContext) -> int:
    """One scheduler round over every RUNNING sequence campaign."""
    async with ctx.db.reading() as session:
        ids = (await session.execute(select(Campaign.id).where(Campaign.kind == "sequence",
                                                               Campaign.status == "RUNNING")
                                     .order_by(Campaign.id))).scalars().all()
    done = 0
    for campaign_id in ids:
        async with ctx.db.transaction() as session:
            done += await schedule_campaign(session, campaign_id, limit=max(1, ctx.settings.worker_batch))
    return done
