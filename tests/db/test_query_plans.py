"""Lookups a caller makes by a key of its own reach the rows through an index, not by reading the whole account."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, insert, select, text, update
from sqlalchemy.orm import ORMExecuteState, Session

from tidings.config import Settings
from tidings.core import clock
from tidings.db.engine import Database
from tidings.db.models import (
    Campaign,
    Client,
    Job,
    Message,
    Sending,
    StatCounter,
    Suppression,
    WhatsappConversation,
)
from tidings.db.queue import claim
from tidings.engine import registry
from tidings.engine import runner as runner_module
from tidings.engine.context import EngineContext
from tidings.engine.dispatcher import CLAIMABLE
from tidings.engine.maintenance import analyze
from tidings.engine.runner import Runner
from tidings.messaging import blacklist, reports, scheduled
from tidings.messaging.email_api import service
from tidings.messaging.whatsapp import repository as whatsapp_repository
from tidings.outreach.replies import service as replies_service
from tidings.runtime import providers_for
from tidings.tenancy.service import NewAccount
from tidings.tenancy.subject import AuthSubject

MESSAGES = 20_000


async def _plan(db: Database, stmt: object) -> str:
    async with db.reading() as s:
        dialect = s.get_bind().dialect
        sql = str(stmt.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))  # type: ignore[attr-defined]
        rows = (await s.execute(text(("EXPLAIN QUERY PLAN " if db.sqlite else "EXPLAIN ") + sql))).all()
    return "\n".join(str(r[-1]) for r in rows)


async def _analyze(db: Database) -> None:
    if db.sqlite:
        await analyze(db)  # what the engine's maintenance loop keeps current
    else:
        async with db.engine.begin() as conn:
            await conn.execute(text("ANALYZE"))


async def test_email_status_search_by_correlation_id_uses_its_index(db: Database, account: NewAccount) -> None:
    # An account with many messages, one in twenty sent through the email dialect with a correlation id.
    async with db.transaction() as s:
        sending = (await s.execute(insert(Sending).values(
            account_id=account.account_id, source=service.SOURCE, channel="email").returning(Sending.id))).scalar_one()
        rows = [{"account_id": account.account_id, "channel": "email" if i % 20 == 0 else "sms",
                 "sending_id": sending if i % 20 == 0 else None, "recipient": f"r{i}@example.test",
                 "correlation_id": f"order-{i}" if i % 20 == 0 else None, "status": "sent"} for i in range(MESSAGES)]
        for start in range(0, MESSAGES, 5_000):
            await s.execute(insert(Message), rows[start:start + 5_000])
    await _analyze(db)
    subject = AuthSubject(account_id=account.account_id, user_id=0)

    by_correlation = service.search_statement(subject, message_ids=[], sending_ids=[],
                                              correlation_ids=["order-2000", "order-4000"], start=None, end=None)
    mixed = service.search_statement(subject, message_ids=[5, 7], sending_ids=[], correlation_ids=["order-2000"],
                                     start=None, end=None)
    for stmt in (by_correlation, mixed):
        assert "ix_messages_correlation_id" in await _plan(db, stmt)

    async with db.reading() as s:
        found = await service.search(s, subject, message_ids=[], sending_ids=[],
                                     correlation_ids=["order-2000", "order-4000", "order-1"], start=None, end=None)
    assert [st.message.correlation_id for st in found] == ["order-2000", "order-4000"]


async def test_scheduled_whatsapp_and_reply_lookups_use_their_indexes(db: Database, account: NewAccount) -> None:
    """The scheduled list, a WhatsApp conversation's messages and a campaign's replies, on a busy account."""
    ours, user = "34600000001", "34699999999"
    async with db.transaction() as s:
        rest = (await s.execute(insert(Sending).values(account_id=account.account_id, source=scheduled.SOURCE,
                                                       channel="sms").returning(Sending.id))).scalar_one()
        client = (await s.execute(insert(Client).values(account_id=account.account_id, name="C", max_emails=5)
                                  .returning(Client.id))).scalar_one()
        campaign = (await s.execute(insert(Campaign).values(
            account_id=account.account_id, client_id=client, name="Q", timezone="UTC", status="RUNNING",
            kind="sequence", channel="email", settings={}).returning(Campaign.id))).scalar_one()
        rows: list[dict[str, object]] = []
        for i in range(MESSAGES):
            row: dict[str, object] = {"account_id": account.account_id, "channel": "sms", "status": "sent",
                                      "recipient": f"346{i:08d}", "sender": "TIDINGS", "sending_id": rest}
            if i % 4 == 0:  # the queue of every kind of message, most not scheduled
                row["status"] = "queued"
            if i % 400 == 0:
                row["scheduled_at"] = clock.now()
            if i % 5 == 1:  # WhatsApp: many users write to our number
                row.update(channel="whatsapp", direction="in", sender=f"346{i:08d}", recipient=ours, sending_id=None)
            if i % 5 == 2:  # a campaign's cold emails, a few replies
                row.update(channel="email", campaign_id=campaign, recipient=f"c{i}@example.test", sending_id=None,
                           direction="in" if i % 100 == 2 else "out")
            rows.append(row)
        for start in range(0, MESSAGES, 5_000):
            await s.execute(insert(Message), rows[start:start + 5_000])
    await _analyze(db)
    subject = AuthSubject(account_id=account.account_id, user_id=0)
    async with db.reading() as s:
        conversation = WhatsappConversation(account_id=account.account_id, sender=ours, recipient=user)
        listed = await scheduled.find(s, subject, scheduled.Filter())
    assert len(listed) == MESSAGES // 400  # the queued ones with a date

    plan = await _plan(db, scheduled.find_statement(subject, scheduled.Filter()))
    assert "ix_messages_scheduled" in plan, plan
    plan = await _plan(db, select(Message).where(whatsapp_repository.between(
        conversation.account_id, conversation.sender, conversation.recipient)))
    assert "ix_messages_account_recipient" in plan and "sender" in plan.split("ix_messages_account_recipient", 1)[1]
    for stmt in (replies_service.of_campaign_statement(campaign, account.account_id, limit=20, offset=0),
                 replies_service.inbox_statement(subject, campaign_id=campaign).limit(51)):
        plan = await _plan(db, stmt)  # the campaign's replies alone: its index by campaign and direction
        assert "ix_messages_campaign_id" in plan and "direction" in plan.split("ix_messages_campaign_id", 1)[1], plan
    async with db.reading() as s:
        page, more = await replies_service.inbox(s, subject, campaign_id=campaign, limit=50)
    assert len(page) == 50 and more and all(m.direction == "in" and m.campaign_id == campaign for m, *_ in page)


async def test_the_sendings_chart_reads_the_recent_days_of_the_account_counters(
        db: Database, account: NewAccount) -> None:
    """The dashboard's 30-day chart, on an account with two years of sendings."""
    today = clock.now().date()
    rows = [{"account_id": account.account_id, "scope": "sending", "scope_id": i, "step": 0,
             "day": today - timedelta(days=i % 730), "metric": metric, "value": 1}
            for i in range(MESSAGES // 4) for metric in ("sent", "delivered")]
    async with db.transaction() as s:
        for start in range(0, len(rows), 5_000):
            await s.execute(insert(StatCounter), rows[start:start + 5_000])
    await _analyze(db)
    start = today - timedelta(days=29)
    assert "ix_stat_counters_account_scope_day" in await _plan(db, reports.daily_statement(account.account_id, start))
    async with db.reading() as s:
        days = await reports.daily_events(s, AuthSubject(account_id=account.account_id, user_id=0), start=start)
    assert len(days) == 30 and all(counts == {"sent": 7, "delivered": 7} or counts == {"sent": 6, "delivered": 6}
                                   for _, counts in days)


async def test_a_blacklist_by_sending_and_conversations_by_user_use_their_indexes(
        db: Database, account: NewAccount) -> None:
    async with db.transaction() as s:
        sending = (await s.execute(insert(Sending).values(account_id=account.account_id, source="rest",
                                                          channel="sms").returning(Sending.id))).scalar_one()
        await s.execute(insert(Suppression), [
            {"account_id": account.account_id, "channel": "sms", "kind": "phone", "value": f"346{i:08d}",
             "sending_id": sending if i % 500 == 0 else None} for i in range(MESSAGES)])
        await s.execute(insert(WhatsappConversation), [
            {"account_id": account.account_id, "sender": f"3460000000{i % 3}", "recipient": f"346{i:08d}"}
            for i in range(MESSAGES)])
    await _analyze(db)
    subject = AuthSubject(account_id=account.account_id, user_id=0)
    by_sending = select(Suppression).where(*blacklist.page_filters(account.account_id, "sms", sending_id=sending))
    assert "ix_suppressions_sending_id" in await _plan(db, by_sending)
    with_user = whatsapp_repository.conversations_statement(subject, sender=None, recipient="34600001234")
    assert "ix_whatsapp_conversations_recipient" in await _plan(db, with_user)
    async with db.reading() as s:
        entries, total = await blacklist.page(s, account.account_id, "sms", sending_id=sending)
        total_with_user, found = await whatsapp_repository.conversations(
            s, subject, sender=None, recipient="34600001234", offset=0, limit=10)
    assert total == MESSAGES // 500 and len(entries) == total
    assert total_with_user == 1 and found[0].sender == "34600000001"


async def test_the_dispatchers_claim_reads_its_index_in_order_and_stops_at_its_batch(
        db: Database, account: NewAccount) -> None:
    """With a large queue a claim must not read and sort every due message (on PostgreSQL a claim of 500 took 60
    ms with 100,000 queued), nor join its batch against the whole table."""
    now = clock.now()
    async with db.transaction() as s:
        rows = [{"account_id": account.account_id, "channel": "sms", "recipient": f"34600{i:06d}",
                 "status": "queued" if i % 2 else "delivered", "due_at": now - timedelta(seconds=i) if i % 2 else None}
                for i in range(MESSAGES)]
        for start in range(0, MESSAGES, 5_000):
            await s.execute(insert(Message), rows[start:start + 5_000])
    await _analyze(db)
    run: list[object] = []

    def keep(state: ORMExecuteState) -> None:
        run.append(state.statement)

    async with db.transaction() as s:
        event.listen(s.sync_session, "do_orm_execute", keep)
        claimed = await claim(s, Message, worker="w", limit=500, lease_seconds=60, where=CLAIMABLE,
                              claimed_status="sending")
        event.remove(s.sync_session, "do_orm_execute", keep)
    plan = await _plan(db, run[-1])
    assert "ix_messages_queue" in plan, plan
    if db.sqlite:
        assert "TEMP B-TREE" not in plan, plan
    else:
        assert "Sort" not in plan and "pk_messages" in plan and "Seq Scan" not in plan, plan
    oldest_first = sorted((r["due_at"], r["recipient"]) for r in rows if r["due_at"] is not None)[:500]
    assert [m.recipient for m in claimed] == [recipient for _, recipient in oldest_first]
    assert {m.status for m in claimed} == {"sending"}


async def test_the_job_runners_claims_read_their_index_in_order_and_skip_finished_jobs(
        db: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """A runner's round claims jobs without reading and sorting every due job (30,000 notifications waiting cost
    PostgreSQL 30-60 ms a round), and finished jobs, which are most of the table, stay out of the claims' way;
    a worker's shutdown finds its running jobs through the same index."""

    async def noop(*args: object) -> None:
        return None

    monkeypatch.setitem(registry.HANDLERS, "test.plan", noop)
    monkeypatch.setitem(registry.IO_HANDLERS, "rest.notification", noop)
    monkeypatch.delitem(registry.IO_PREFETCH, "rest.notification", raising=False)
    now = clock.now()
    async with db.transaction() as s:
        rows = [{"kind": "test.plan" if i % 2 else "rest.notification", "payload": {"n": i},
                 "status": "queued" if i % 4 < 2 else "done", "due_at": now - timedelta(seconds=i),
                 "finished_at": None if i % 4 < 2 else now} for i in range(MESSAGES)]
        for start in range(0, MESSAGES, 5_000):
            await s.execute(insert(Job), rows[start:start + 5_000])
    await _analyze(db)
    run: list[object] = []

    def keep(state: ORMExecuteState) -> None:
        if state.is_update and "jobs.due_at" in str(state.statement):
            run.append(state.statement)

    small = settings.model_copy(update={"worker_batch": 50, "worker_io_concurrency": 50})
    ctx = EngineContext(db, small, providers_for(small), "W")
    runner = Runner(ctx)
    event.listen(Session, "do_orm_execute", keep)
    try:
        await runner.run_jobs(limit=50)
    finally:
        event.remove(Session, "do_orm_execute", keep)
    await runner.settle()
    assert len(run) == 2  # the claims of jobs run in the round and of network-bound ones
    for claimed in run:
        plan = await _plan(db, claimed)
        assert "ix_jobs_queue" in plan, plan
        if db.sqlite:
            assert "TEMP B-TREE" not in plan and "SCAN jobs" not in plan, plan
        else:
            assert "Sort" not in plan and "Seq Scan" not in plan, plan
    async with db.sessions() as s:
        done = (await s.execute(select(Job.kind, Job.payload).where(Job.finished_at > now))).all()
    oldest = sorted((r["due_at"], r["payload"]["n"], r["kind"]) for r in rows if r["status"] == "queued")
    for kind in ("test.plan", "rest.notification"):
        assert sorted(p["n"] for k, p in done if k == kind) == sorted([n for _, n, k in oldest if k == kind][:50])
    if db.sqlite:  # PostgreSQL proves by itself that `status = 'running'` implies the index's condition
        release = (update(Job).where(Job.locked_by == "W", Job.status == "running", runner_module._LIVE)
                   .values(status="queued", locked_until=None))
        assert "ix_jobs_queue" in await _plan(db, release)
