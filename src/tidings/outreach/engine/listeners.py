"""What events on outreach messages do to enrollments and campaign counters (same transaction).

sent: the step is done; the next one is due `delay_days` later. bounced: BOUNCED. replied:
REPLIED, the sequence stops. autoreplied: AUTOREPLIED, counted once; the sequence goes on unless
the campaign stops on auto-replies. unsubscribed: the address is suppressed for the client.
failed (transient errors until the dispatcher gave up): the step is tried again later, not lost;
failed because the message could not be built: the contact is STOPPED (the message keeps the error).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Integer, and_, bindparam, case, null, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tidings.core import clock
from tidings.db.at_commit import Pending
from tidings.db.base import one_of, table_of
from tidings.db.counters import bump
from tidings.db.models import Campaign, Enrollment, Mailbox, Message, Step
from tidings.messaging import events
from tidings.messaging.delivery import PREPARE_FAILED, batch_memo
from tidings.outreach import counters
from tidings.outreach.campaigns.service import autoreplied_receive
from tidings.outreach.engine.status import campaign_of, enrollment_of, held_messages, sendable
from tidings.outreach.suppressions.service import suppress_email

RETRY_FAILED_STEP = timedelta(hours=1)


async def _context(session: AsyncSession, message: Message) -> tuple[Enrollment, Campaign] | None:
    if message.direction != "out" or message.enrollment_id is None or message.campaign_id is None:
        return None
    enrollment = await enrollment_of(session, message)
    campaign = await campaign_of(session, message)
    if enrollment is None or campaign is None or campaign.kind != "sequence":
        return None
    return enrollment, campaign


def _in_sequence(facts: Mapping[str, Any]) -> bool:
    """Whether a message may belong to a sequence's enrollment (what `_context` looks up)."""
    return (facts.get("direction") == "out" and facts.get("enrollment_id") is not None
            and facts.get("campaign_id") is not None)


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


@dataclass
class _Sequence:
    """What recording a send needs of its campaign: whether AUTOREPLIED contacts still receive steps, and the
    delay_days of each step by number."""

    autoreplied_receive: bool
    delays: dict[int, float]


class _Sent:
    """A transaction's sends to write to their enrollments (the Pending holding it is dropped when it commits or
    rolls back)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def __bool__(self) -> bool:
        return bool(self.rows)


_enrollments = table_of(Enrollment)
_step = bindparam("e_step", type_=Integer())
_due = bindparam("e_due", type_=_enrollments.c.next_due_at.type)
_moves_on = _enrollments.c.next_step == _step
# campaigns.service.receiving_statuses as SQL, the campaign's autoreplied_receive bound per row.
_receives = or_(_enrollments.c.status == "OK",
                and_(_enrollments.c.status == "AUTOREPLIED", bindparam("e_autoreplied_receive", type_=Boolean())))
# The step is done: the next is due `delay_days` later if the contact still receives steps (decided on the row as it
# is when the transaction commits). A send of an earlier step (the sequence moved on meanwhile) only counts.
_ADVANCE = (update(_enrollments).where(_enrollments.c.id == bindparam("e_id"))
            .values(emails_sent=_enrollments.c.emails_sent + 1,
                    last_sent_at=bindparam("e_now", type_=_enrollments.c.last_sent_at.type),
                    updated_at=bindparam("e_now", type_=_enrollments.c.updated_at.type),
                    completed_steps=case((and_(_moves_on, _enrollments.c.completed_steps < _step), _step),
                                         else_=_enrollments.c.completed_steps),
                    next_due_at=case((_moves_on, case((_receives, _due), else_=null())),
                                     else_=_enrollments.c.next_due_at),
                    next_step=case((_moves_on, _step + 1), else_=_enrollments.c.next_step)))

_SEQUENCES = (select(Campaign.id, Campaign.kind, Campaign.settings, Step.number, Step.delay_days)
              .outerjoin(Step, Step.campaign_id == Campaign.id)
              .where(one_of(Campaign.id)))


def _write_sent(session: Session, sent: _Sent) -> None:
    # In id order: a stable lock order keeps concurrent workers from deadlocking on PostgreSQL.
    session.connection().execute(_ADVANCE, sorted(sent.rows, key=lambda row: int(row["e_id"])))


_SENT: Pending[_Sent] = Pending("tidings.outreach.sent", _Sent, _write_sent)


_KNOWN = "tidings.outreach.sequences"


async def _sequence(session: AsyncSession, campaign_id: int) -> _Sequence | None:
    """The sequence campaign's settings and step delays, None for another kind or a deleted campaign; a miss loads
    those of every message the session holds, in one query.

    Read once for a dispatcher batch (`delivery.batch_memo`): its sends are recorded in many small transactions, and
    a step's delay edited meanwhile applies from the next batch, as a message built before the edit keeps its text.
    """
    known: dict[int, _Sequence | None] = batch_memo(session).setdefault(_KNOWN, {})
    if campaign_id not in known:
        wanted = {campaign_id} | {o.campaign_id for o in held_messages(session) if o.campaign_id is not None}
        missing = sorted(k for k in wanted if k not in known)
        found: dict[int, _Sequence | None] = {}
        with session.no_autoflush:  # a lookup must not flush the caller's batch one event at a time
            for i in range(0, len(missing), 500):
                rows = await session.execute(_SEQUENCES, {"ids": missing[i:i + 500]})
                for pk, kind, settings, number, delay in rows:
                    if kind != "sequence":
                        found[pk] = None
                        continue
                    sequence = found.get(pk)
                    if sequence is None:
                        sequence = found[pk] = _Sequence(autoreplied_receive(settings), {})
                    if number is not None:
                        sequence.delays[int(number)] = float(delay or 0)
        for k in missing:
            known[k] = found.get(k)
    return known[campaign_id]


async def _step_sent(session: AsyncSession, account_id: int, campaign_id: int, enrollment_id: int, step: int,
                     variant: int | None, sent_at: datetime | None) -> None:
    """A sequence step's first send: counted, and its enrollment moved on when the transaction commits."""
    sequence = await _sequence(session, campaign_id)
    if sequence is None:
        return
    now = clock.as_utc(sent_at or clock.now())
    await counters.count(session, account_id=account_id, campaign_id=campaign_id, metric="messages_sent", step=step)
    await bump(session, account_id=account_id, scope=counters.SCOPE, scope_id=campaign_id, day=clock.now().date(),
               metric=f"v{variant or 0}_sent", step=step)
    if step == 1:
        await counters.count(session, account_id=account_id, campaign_id=campaign_id, metric="contacted", step=1)
    else:
        # Per step, "contacted" is how many contacts this step reached.
        await bump(session, account_id=account_id, scope=counters.SCOPE, scope_id=campaign_id, day=now.date(),
                   metric="contacted", step=step)
    delay = sequence.delays.get(step + 1)
    _SENT.of(session.sync_session).rows.append({"e_id": enrollment_id, "e_step": step, "e_now": now,
                      "e_due": None if delay is None else now + timedelta(days=delay),
                      "e_autoreplied_receive": sequence.autoreplied_receive})


async def _on_sent_plain(session: AsyncSession, happened: events.HappenedPlain) -> None:
    """`on_sent` on a plain row (events.record_plain)."""
    row = happened.row
    if (happened.first and row["direction"] == "out" and row["enrollment_id"] is not None
            and row["campaign_id"] is not None and row["step_number"] is not None):
        await _step_sent(session, row["account_id"], row["campaign_id"], row["enrollment_id"], row["step_number"],
                         row["variant"], row["sent_at"])


@events.on_event("sent", wants=_in_sequence, plain=_on_sent_plain)
async def on_sent(session: AsyncSession, happened: events.Happened) -> None:
    """Count the send and move the enrollment on, written with the batch's others when the transaction commits.

    The enrollment is not loaded: recording a batch of sends reads only its campaigns, and the enrollment's row
    changes by one UPDATE each (an executemany).
    """
    message = happened.message
    if (happened.first and message.direction == "out" and message.enrollment_id is not None
            and message.campaign_id is not None and message.step_number is not None):
        await _step_sent(session, message.account_id, message.campaign_id, message.enrollment_id,
                         message.step_number, message.variant, message.sent_at)


@events.on_event("bounced", wants=_in_sequence)
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


@events.on_event("failed", wants=_in_sequence)
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
