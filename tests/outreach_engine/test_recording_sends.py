"""Recording sends: the enrollment moves on as its row stands at the commit, a mailbox's last outcome wins, a
dispatcher batch reads its campaigns' step delays once."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.channels.base import LOGIN_FAILED, SendResult
from tidings.config import Settings
from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Campaign, Enrollment, Mailbox, Message, Step
from tidings.db.plain_writes import update_plain
from tidings.engine.context import EngineContext
from tidings.engine.dispatcher import _claim_and_prepare, _record_all
from tidings.messaging import events
from tidings.outreach.engine.scheduler import schedule_campaign
from tidings.outreach.engine.sending import PREPARER, mailbox_outcome
from tidings.runtime import providers_for


async def _sent(session: AsyncSession, message: Message, at: datetime, plain: bool) -> None:
    """Record a send on the loaded message, or on a plain row of it as the dispatcher does when it may."""
    if not plain:
        await events.record(session, message, "sent", at=at)
        return
    row = events.facts_of(message, None)
    assert events.plain_listeners("sent", row) is not None
    await update_plain(session, Message, {message.id: await events.record_plain(session, row, "sent", at=at)})


@pytest.mark.parametrize("plain", [False, True], ids=["loaded", "plain"])
async def test_a_send_moves_the_enrollment_as_its_row_stands_at_the_commit(db: Database, make_world: Any,
                                                                           clock: ManualClock, plain: bool) -> None:
    world = await make_world()
    await world.add_mailbox("sam@acme.test", smtp_port=2525)
    await world.add_step("Hello", "Hi")
    await world.add_step("", "Again", delay_days=2)
    ok, replied, autoreplied, moved_on = [await world.add_contact(f"p{i}@globex.test") for i in range(4)]
    await world.start()
    async with db.transaction() as s:
        assert await schedule_campaign(s, world.campaign_id, limit=10) == 4
    clock.advance(timedelta(minutes=1))
    sent_at = clock.now()
    async with db.transaction() as s:
        # What other transactions committed after the step was queued: a reply, an auto-reply, a step moved on.
        await s.execute(update(Enrollment).where(Enrollment.id == replied).values(status="REPLIED"))
        await s.execute(update(Enrollment).where(Enrollment.id == autoreplied).values(status="AUTOREPLIED"))
        await s.execute(update(Enrollment).where(Enrollment.id == moved_on).values(next_step=2, completed_steps=1))
        messages = list((await s.execute(select(Message).order_by(Message.id))).scalars())
        assert len(messages) == 4
        async with events.batch(s):
            for message in messages:
                await _sent(s, message, sent_at, plain)
    due = sent_at + timedelta(days=2)
    states = {e: ((row := await world.enrollment(e)).status, row.next_step, row.completed_steps, row.emails_sent,
                  row.next_due_at, row.last_sent_at) for e in (ok, replied, autoreplied, moved_on)}
    assert states == {ok: ("OK", 2, 1, 1, due, sent_at), replied: ("REPLIED", 2, 1, 1, None, sent_at),
                      autoreplied: ("AUTOREPLIED", 2, 1, 1, due, sent_at),
                      moved_on: ("OK", 2, 1, 1, None, sent_at)}, "an earlier step's send only counts"

    # A campaign that stops on auto-replies gives an auto-replied contact no next step; the last step none at all.
    async with db.transaction() as s:
        campaign = await s.get(Campaign, world.campaign_id)
        assert campaign is not None
        campaign.settings = {"stop_on_autoreply": True}
        await s.execute(update(Enrollment).where(Enrollment.id.in_([ok, autoreplied])).values(next_due_at=clock.now()))
        assert await schedule_campaign(s, world.campaign_id, limit=10) == 1  # only OK receives steps now
        await s.execute(update(Enrollment).where(Enrollment.id == autoreplied).values(status="AUTOREPLIED"))
    async with db.transaction() as s, events.batch(s):
        follow_up = (await s.execute(select(Message).where(Message.step_number == 2))).scalar_one()
        follow_up.enrollment_id = autoreplied  # recorded against the auto-replied contact's row
        await s.flush()
        await _sent(s, follow_up, sent_at, plain)
    row = await world.enrollment(autoreplied)
    assert (row.next_step, row.completed_steps, row.emails_sent, row.next_due_at) == (3, 2, 2, None)


async def test_a_mailbox_keeps_the_last_outcome_of_a_batch(db: Database, make_world: Any) -> None:
    world = await make_world()
    failed_last = await world.add_mailbox("sam@acme.test", smtp_port=2525)
    sent_last = await world.add_mailbox("kim@acme.test", smtp_port=2525)
    login_failed = SendResult(False, code="535", detail=f"{LOGIN_FAILED} (bad password)")
    accepted = SendResult(True, provider_id="x")

    def message(box_id: int) -> Message:
        return Message(account_id=world.account_id, channel="email", direction="out", mailbox_id=box_id,
                       sender="sam@acme.test", recipient="p@globex.test", extra={"preparer": PREPARER})

    async with db.transaction() as s:
        for box_id, outcomes in ((failed_last, (accepted, login_failed)), (sent_last, (login_failed, accepted))):
            for result in outcomes:
                await mailbox_outcome(s, message(box_id), result)
    async with db.sessions() as s:
        boxes = {b.id: (b.status, b.last_error is None) for b in (await s.execute(select(Mailbox))).scalars()}
    assert boxes == {failed_last: ("paused", False), sent_last: ("active", True)}


async def test_a_batch_recorded_in_small_groups_reads_its_step_delays_once(
        db: Database, make_world: Any, clock: ManualClock, settings: Settings) -> None:
    world = await make_world()
    await world.add_mailbox("sam@acme.test", smtp_port=2525)
    for number, delay in ((1, 0.0), (2, 2.0), (3, 2.0)):
        await world.add_step(f"Step {number}", "Hi", delay_days=delay)
    enrollments = [await world.add_contact(f"p{i}@globex.test") for i in range(6)]
    await world.start()
    ctx = EngineContext(db, settings, providers_for(settings), "w1")
    reads: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "JOIN steps" in statement:
            reads.append(statement)

    async def batch() -> datetime:
        """Schedule the due step, claim it as one batch and record its sends in groups of two, as the group
        commit does; the time they were recorded at."""
        async with db.transaction() as s:
            assert await schedule_campaign(s, world.campaign_id, limit=10) == 6
        ready, claimed = await _claim_and_prepare(ctx)
        assert len(ready) == 6
        reads.clear()
        ids = sorted(message_id for message_id, _ in ready)
        for group in (ids[0:2], ids[2:4], ids[4:6]):
            await _record_all(ctx, {m: SendResult(True, provider_id=f"<{m}@sink>") for m in group}, claimed)
        assert len(reads) == 1, "one read of the campaign's steps for the whole batch"
        return clock.now()

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        first = await batch()
        assert {((e := await world.enrollment(i)).next_step, e.emails_sent, e.next_due_at) for i in enrollments} == \
            {(2, 1, first + timedelta(days=2))}
        # An edited delay applies from the next batch on.
        async with db.transaction() as s:
            await s.execute(update(Step).where(Step.campaign_id == world.campaign_id, Step.number == 3)
                            .values(delay_days=5.0))
        clock.advance(timedelta(days=2, minutes=1))
        second = await batch()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert {((e := await world.enrollment(i)).next_step, e.emails_sent, e.next_due_at) for i in enrollments} == \
        {(3, 2, second + timedelta(days=5))}
