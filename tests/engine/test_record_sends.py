"""The dispatcher's record of sends: on plain rows when the listeners allow it, else on loaded messages; both alike."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.channels.registry import build_provider
from tidings.db.engine import Database
from tidings.db.models import Account, Event, Job, Message, MessagePart, Sending, StatCounter
from tidings.engine.runner import Runner
from tidings.messaging import events, outbox
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

from fakes.smsc import FakeSmsc
from helpers import notify_events

NOTIFYING = ("rest.event_webhook", "rest.notification")
BODIES = ["short", "x" * 200, "certified", "ñandú " * 25]


@pytest.fixture
async def smsc(app: Any) -> Any:
    async with FakeSmsc() as server:
        app.state.providers.set("sms", build_provider("sms", server.url(receipts="false")))
        yield server


async def _send(db: Database, account: NewAccount, runner: Runner, source: str = "test",
                more: dict[str, Any] | None = None) -> dict[str, Any]:
    """Four SMS (one, two and three parts, one certified) sent by the engine: what the record left behind."""
    async with db.transaction() as s:
        before = (await s.get(Account, account.account_id)).balance  # type: ignore[union-attr]
        subject = AuthSubject(account_id=account.account_id, user_id=1)
        sending = await outbox.open_sending(s, subject, channel="sms", source=source)
        for i, body in enumerate(BODIES):
            extra: dict[str, Any] = {"kind": "transactional", **({"certified": True} if i == 2 else {}), **(more or {})}
            await outbox.queue(s, outbox.new_message(account_id=account.account_id, channel="sms", sender="TIDINGS",
                                                     recipient=f"3466688{i:04d}", sending=sending, body=body,
                                                     extra=extra))
        sending_id = sending.id
    await runner.run_until_idle()
    async with db.sessions() as s:
        messages = list((await s.execute(select(Message).where(Message.sending_id == sending_id)
                                         .order_by(Message.id))).scalars())
        ids = [m.id for m in messages]
        kinds = [(ids.index(e.message_id), e.kind) for e in (await s.execute(
            select(Event).where(Event.message_id.in_(ids)).order_by(Event.id))).scalars()]
        parts = [(ids.index(p.message_id), p.part) for p in (await s.execute(
            select(MessagePart).where(MessagePart.message_id.in_(ids)).order_by(MessagePart.id))).scalars()]
        counters = {c.metric: c.value for c in (await s.execute(
            select(StatCounter).where(StatCounter.scope == "sending", StatCounter.scope_id == sending_id))).scalars()}
        sending_cost = (await s.get(Sending, sending_id)).cost  # type: ignore[union-attr]
        after = (await s.get(Account, account.account_id)).balance  # type: ignore[union-attr]
        jobs = sorted((j.kind, ids.index(j.payload["message_id"]), {k: v for k, v in j.payload.items()
                                                                     if k not in ("message_id", "at")})
                      for j in (await s.execute(select(Job).where(Job.kind.in_(NOTIFYING)))).scalars()
                      if j.payload.get("message_id") in ids)
    for m in messages:
        assert m.external_id and m.sent_at is not None
    return {"messages": [(m.status, m.parts, m.cost, m.due_at, m.locked_until, m.locked_by, m.attempts,
                          len(m.extra.get("part_ids", [])), m.extra["pricing"]) for m in messages],
            "kinds": kinds, "parts": parts, "counters": counters, "sending_cost": sending_cost,
            "debited": before - after, "jobs": jobs}


async def test_sends_recorded_on_plain_rows_and_on_loaded_messages_leave_the_same(
        app: Any, db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc) -> None:
    app.state.settings.certified_surcharge = Decimal("0.05")
    plain = await _send(db, account, runner)
    ids: list[int] = []

    async def listener(session: AsyncSession, happened: events.Happened) -> None:
        ids.append(happened.message.id)

    events.on_event("sent")(listener)
    try:
        loaded = await _send(db, account, runner)
    finally:
        events.forget(listener)
    assert len(ids) == len(BODIES)
    assert plain == loaded
    statuses = [m[0] for m in plain["messages"]]
    assert statuses == ["sent"] * 4 and [m[1] for m in plain["messages"]] == [1, 2, 1, 3]
    assert [m[7] for m in plain["messages"]] == [0, 2, 0, 3], "every part's provider id kept"
    assert plain["parts"] == [(1, 2), (3, 2), (3, 3)]
    costs = [m[2] for m in plain["messages"]]
    assert costs == [Decimal("0.065"), Decimal("0.130"), Decimal("0.115"), Decimal("0.195")]
    assert plain["sending_cost"] == plain["debited"] == sum(costs)
    assert plain["counters"]["sent"] == 4 and plain["kinds"] == [(0, "sent"), (1, "sent"), (2, "sent"), (3, "sent")]
    assert all(m[3] is None and m[4] is None and m[5] is None and m[6] == 1 for m in plain["messages"])


async def test_notifications_of_sends_on_plain_rows_are_those_of_loaded_messages(
        db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc) -> None:
    """An account with event notifications (and messages with a notificationUrl): the webhooks' plain form."""
    await notify_events(db, account.account_id)
    more = {"notification_url": "https://hooks.acme.test/n?s=%s"}
    plain = await _send(db, account, runner, source="rest", more=more)
    ids: list[int] = []

    async def listener(session: AsyncSession, happened: events.Happened) -> None:
        ids.append(happened.message.id)

    events.on_event("sent")(listener)
    try:
        loaded = await _send(db, account, runner, source="rest", more=more)
    finally:
        events.forget(listener)
    assert len(ids) == len(BODIES) and plain == loaded
    # A notificationUrl is called for outcomes (the receipts'), not for "sent".
    assert plain["jobs"] == [("rest.event_webhook", i, {"event": "sent", "extra": {}, "retry": 0}) for i in range(4)]


async def test_a_listener_with_a_plain_form_gets_the_row_and_its_changes_are_written(
        db: Database, account: NewAccount, runner: Runner, smsc: FakeSmsc) -> None:
    rows: list[tuple[int, str, bool]] = []
    loaded: list[int] = []

    async def on_object(session: AsyncSession, happened: events.Happened) -> None:
        loaded.append(happened.message.id)

    async def on_row(session: AsyncSession, happened: events.HappenedPlain) -> None:
        rows.append((happened.row["id"], happened.kind, happened.first))
        happened.changes["error_detail"] = f"seen {happened.row['recipient']}"

    events.on_event("sent", wants=lambda facts: facts["channel"] == "sms", plain=on_row)(on_object)
    try:
        sent = await _send(db, account, runner)
    finally:
        events.forget(on_object)
    assert loaded == [] and len(rows) == len(BODIES) and all(kind == "sent" and first for _, kind, first in rows)
    assert sent["counters"]["sent"] == 4
    async with db.sessions() as s:
        details = [m.error_detail for m in (await s.execute(
            select(Message).where(Message.id.in_([r[0] for r in rows])).order_by(Message.id))).scalars()]
    assert details == [f"seen 3466688{i:04d}" for i in range(4)]
