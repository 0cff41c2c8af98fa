"""A person's answer in a thread refers only to messages the contact has seen."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tidings.core import clock
from tidings.db.engine import Database
from tidings.db.models import Enrollment, Message, Thread
from tidings.messaging import outbox
from tidings.outreach.replies import service as replies
from tidings.tenancy.subject import AuthSubject


async def test_an_answer_threads_on_sent_and_received_messages_only(db: Database, make_world: Any) -> None:
    world = await make_world()
    box_id = await world.add_mailbox("sam@acme.test", smtp_port=2525)
    enrollment_id = await world.add_contact("ann@globex.test", first_name="Ann")
    async with db.transaction() as s:
        enrollment = await s.get(Enrollment, enrollment_id)
        assert enrollment is not None
        thread = Thread(account_id=world.account_id, campaign_id=world.campaign_id, enrollment_id=enrollment_id,
                        mailbox_id=box_id, subject="Quick question")
        s.add(thread)
        await s.flush()
        common = {"account_id": world.account_id, "channel": "email", "campaign_id": world.campaign_id,
                  "enrollment_id": enrollment_id, "contact_id": enrollment.contact_id, "mailbox_id": box_id,
                  "thread_id": thread.id, "subject": "Quick question", "body": "Hi Ann"}
        sent = outbox.new_message(sender="sam@acme.test", recipient="ann@globex.test", **common)
        sent.status, sent.sent_at, sent.due_at = "sent", clock.now(), None
        reply = Message(direction="in", status="received", sender="ann@globex.test", recipient="sam@acme.test",
                        rfc_message_id="<r1@globex.test>", **common)
        queued = outbox.new_message(sender="sam@acme.test", recipient="ann@globex.test", **common)  # not sent yet
        for message in (sent, reply, queued):
            s.add(message)
            await s.flush()
        thread_id, sent_id, queued_id = thread.id, sent.rfc_message_id, queued.rfc_message_id
    assert sent_id and queued_id  # both have their Message-ID from the start
    async with db.transaction() as s:
        answer = await replies.answer(s, AuthSubject(account_id=world.account_id, user_id=1), thread_id,
                                      "Happy to talk on Tuesday.")
        answer_id = answer.id
    async with db.sessions() as s:
        stored = (await s.execute(select(Message).where(Message.id == answer_id))).scalar_one()
    assert stored.in_reply_to == "<r1@globex.test>"
    assert stored.extra["references"] == [sent_id, "<r1@globex.test>"]
    assert queued_id not in stored.extra["references"]
