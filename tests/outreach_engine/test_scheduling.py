"""A scheduler round writes what it decided for the contacts it did not queue, as well as the ones it queued."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.models import Enrollment, Mailbox, Message
from tidings.outreach.engine.scheduler import schedule_campaign


async def test_a_round_writes_every_contact_s_outcome(db: Database, make_world: Any, clock: ManualClock) -> None:
    world = await make_world()
    free = await world.add_mailbox("sam@acme.test", smtp_port=2525)
    busy = await world.add_mailbox("kim@acme.test", smtp_port=2525)
    await world.add_step("Hello {{first_name}}", "Hi")
    await world.add_step("", "Again", delay_days=2)
    queued = await world.add_contact("p1@globex.test", first_name="Ann")
    finished = await world.add_contact("p2@globex.test")
    waiting = await world.add_contact("p3@globex.test")
    missing = await world.add_contact(None)
    await world.start()
    now = clock.now()
    free_again = now + timedelta(minutes=10)
    async with db.transaction() as s:
        # Past the last step; on a thread whose mailbox may send again only in ten minutes.
        await s.execute(update(Enrollment).where(Enrollment.id == finished).values(next_step=3))
        await s.execute(update(Enrollment).where(Enrollment.id == waiting).values(mailbox_id=busy))
        await s.execute(update(Mailbox).where(Mailbox.id == busy).values(next_send_at=free_again))
    async with db.transaction() as s:
        assert await schedule_campaign(s, world.campaign_id, limit=10) == 4
    states = {e: ((row := await world.enrollment(e)).status, row.next_due_at, row.mailbox_id)
              for e in (queued, finished, waiting, missing)}
    assert states == {queued: ("OK", None, free), finished: ("OK", None, None), waiting: ("OK", free_again, busy),
                      missing: ("MISSING-DATA", None, None)}
    async with db.sessions() as s:
        sent = (await s.execute(select(Message.enrollment_id, Message.subject))).all()
    assert sent == [(queued, "Hello Ann")]
