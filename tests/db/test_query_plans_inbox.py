"""The email search by dates, the inbox by client or interest and a sending's totals read only their own rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, text

from tidings.core import clock
from tidings.db.engine import Database
from tidings.db.models import Campaign, Client, Contact, Enrollment, Message, Sending
from tidings.engine.maintenance import analyze
from tidings.messaging import reports
from tidings.messaging.email_api import service
from tidings.outreach.replies import service as replies_service
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


async def _insert(db: Database, model: Any, rows: list[dict[str, Any]]) -> None:
    async with db.transaction() as s:
        for start in range(0, len(rows), 5_000):
            await s.execute(insert(model), rows[start:start + 5_000])


async def test_email_status_search_by_dates_reads_the_range(db: Database, account: NewAccount) -> None:
    """Three months of messages, one in ten sent through the email dialect: a search by dates reads its emails."""
    t0 = clock.now() - timedelta(days=100)
    # One sending per request: the email dialect's of five messages, the SMS ones of twenty.
    async with db.transaction() as s:
        ids = list((await s.execute(insert(Sending).returning(Sending.id, sort_by_parameter_order=True), [
            {"account_id": account.account_id, "source": service.SOURCE if i % 13 < 4 else "rest",
             "channel": "email" if i % 13 < 4 else "sms"} for i in range(1_300)])).scalars())
    email_sendings = [pk for i, pk in enumerate(ids) if i % 13 < 4]
    sms_sendings = [pk for i, pk in enumerate(ids) if i % 13 >= 4]
    # One in ten a mailing of the messaging dialect: an email of a sending, not the email dialect's.
    rows = [{"account_id": account.account_id, "channel": "email" if i % 10 in (0, 5) else "sms",
             "sending_id": email_sendings[i // 50] if i % 10 == 0 else sms_sendings[i // 20 % 900],
             "recipient": f"r{i}@example.test", "status": "sent", "created_at": t0 + timedelta(minutes=7 * i)}
            for i in range(MESSAGES)]
    await _insert(db, Message, rows)
    await _analyze(db)
    subject = AuthSubject(account_id=account.account_id, user_id=0)
    day, month = (t0 + timedelta(days=50), t0 + timedelta(days=51)), (t0 + timedelta(days=50), t0 + timedelta(days=80))
    ranges = (day, month, (day[0], None), (None, day[1]))
    for start, end in ranges:
        plan = await _plan(db, service.search_statement(subject, message_ids=[], sending_ids=[], correlation_ids=[],
                                                        start=start, end=end))
        # Not the account's every message of the range (ix_messages_account_created), nor all messages by id.
        assert "ix_messages_email_created" in plan and "pk_messages" not in plan, plan

    dialect = set(email_sendings)
    async with db.reading() as s:
        for start, end in ranges:
            found = await service.search(s, subject, message_ids=[], sending_ids=[], correlation_ids=[],
                                         start=start, end=end)
            expected = [r["recipient"] for r in rows if r["sending_id"] in dialect and (start is None or start <= r[
                "created_at"]) and (end is None or r["created_at"] <= end)][:service.MAX_RESULTS]
            assert [st.message.recipient for st in found] == expected and len(expected) > 10


async def test_inbox_by_client_or_interest_reads_their_replies(db: Database, account: NewAccount) -> None:
    """A busy account's inbox filtered by a small client, or by a marked interest."""
    acc = account.account_id
    async with db.transaction() as s:
        big, small = [(await s.execute(insert(Client).values(account_id=acc, name=n, max_emails=5)
                                       .returning(Client.id))).scalar_one() for n in ("Big", "Small")]
        campaigns = [(await s.execute(insert(Campaign).values(
            account_id=acc, client_id=small if i < 2 else big, name=f"Q{i}", timezone="UTC", status="RUNNING",
            kind="sequence", channel="email", settings={}).returning(Campaign.id))).scalar_one() for i in range(10)]
    contacts = [{"account_id": acc, "email": f"c{i}@example.test", "email_key": f"c{i}@example.test"}
                for i in range(MESSAGES // 4)]
    await _insert(db, Contact, contacts)
    # Each contact enrolled in one campaign, one in a hundred in the small client's two; one in two hundred POSITIVE.
    enrollments = [{"account_id": acc, "campaign_id": campaigns[i // 100 % 2 if i % 100 == 0 else 2 + i % 8],
                    "contact_id": i + 1,
                    "interest": "POSITIVE" if i % 200 == 7 else "NEGATIVE" if i % 200 == 8 else "UNMARKED"}
                   for i in range(MESSAGES // 4)]
    await _insert(db, Enrollment, enrollments)
    t0 = clock.now() - timedelta(days=30)
    rows: list[dict[str, Any]] = []
    for i in range(MESSAGES):
        e = i % (MESSAGES // 4)  # each enrollment: a few sends and replies
        row: dict[str, Any] = {"account_id": acc, "channel": "email", "direction": "out", "status": "sent",
                               "recipient": f"c{e}@example.test", "campaign_id": enrollments[e]["campaign_id"],
                               "enrollment_id": e + 1, "created_at": t0 + timedelta(minutes=2 * i)}
        if i % 3 == 0:
            row["direction"] = "in"
        if i % 7 == 1:  # WhatsApp messages from users, of the messaging dialect
            row.update(channel="whatsapp", direction="in", campaign_id=None, enrollment_id=None)
        rows.append(row)
    await _insert(db, Message, rows)
    await _analyze(db)
    agency = AuthSubject(account_id=acc, user_id=0)
    member = AuthSubject(account_id=acc, user_id=0, client_id=small, roles=frozenset({"view_campaigns"}))
    async with db.reading() as s:
        ids = list((await s.execute(replies_service.client_campaigns_statement(agency, small))).scalars())
        assert ids == list((await s.execute(replies_service.client_campaigns_statement(member, None))).scalars())
    assert sorted(ids) == campaigns[:2]
    for subject, kwargs, index in ((agency, {"client_id": small, "campaign_ids": ids}, "ix_messages_campaign_id"),
                                   (member, {"campaign_ids": ids}, "ix_messages_campaign_id"),
                                   (agency, {"interest": "POSITIVE"}, "ix_enrollments_account_interest")):
        plan = await _plan(db, replies_service.inbox_statement(subject, **kwargs).limit(26))
        # Not every inbound message of the account by time until a page is found.
        assert index in plan and "ix_messages_account_direction_created" not in plan, plan

    def newest(keep: Any) -> list[Any]:
        replies = [r for r in rows if r["direction"] == "in" and r["channel"] == "email" and keep(r)]
        return sorted((r["created_at"] for r in replies), reverse=True)[:25]

    async with db.reading() as s:
        by_client, more = await replies_service.inbox(s, agency, client_id=small, limit=25)
        as_member, _ = await replies_service.inbox(s, member, limit=25)
        positive, _ = await replies_service.inbox(s, agency, interest="POSITIVE", limit=25)
        unmarked, _ = await replies_service.inbox(s, agency, interest="UNMARKED", limit=25)
    small_campaigns = set(campaigns[:2])
    assert more and [m.created_at for m, *_ in by_client] == newest(lambda r: r["campaign_id"] in small_campaigns)
    assert [m.created_at for m, *_ in as_member] == [m.created_at for m, *_ in by_client]
    assert [m.created_at for m, *_ in positive] == newest(
        lambda r: enrollments[r["enrollment_id"] - 1]["interest"] == "POSITIVE")
    assert [m.created_at for m, *_ in unmarked] == newest(
        lambda r: enrollments[r["enrollment_id"] - 1]["interest"] == "UNMARKED")


async def test_a_sendings_totals_are_read_through_its_index(db: Database, account: NewAccount) -> None:
    """A large sending's processed count, first and last send and sent parts, among many other sendings."""
    async with db.transaction() as s:
        ids = list((await s.execute(insert(Sending).returning(Sending.id, sort_by_parameter_order=True), [
            {"account_id": account.account_id, "source": "rest", "channel": "sms"} for _ in range(101)])).scalars())
    big, others = ids[0], ids[1:]
    t0 = clock.now() - timedelta(days=1)
    statuses = ("queued", "sending", "sent", "delivered", "undelivered")
    rows = [{"account_id": account.account_id, "channel": "sms", "sending_id": big if i % 10 == 0 else others[i % 100],
             "recipient": f"346{i:08d}", "body": f"Your code is {i:06d}. " * 8, "status": statuses[i // 7 % 5],
             "parts": 1 + i % 3, "sent_at": t0 + timedelta(seconds=i) if i % 3 else None} for i in range(MESSAGES)]
    await _insert(db, Message, rows)
    await _analyze(db)

    plan = await _plan(db, reports.sending_totals_statement([big, others[1]]))
    assert "ix_messages_sending_id" in plan, plan
    async with db.reading() as s:
        stats = await reports.sending_stats(s, [await s.get(Sending, big), await s.get(Sending, others[1])])
    for sending_id in (big, others[1]):
        mine = [r for r in rows if r["sending_id"] == sending_id]
        done = [r for r in mine if r["status"] not in reports.PENDING_STATUSES]
        times = [r["sent_at"] for r in done if r["sent_at"] is not None]
        got = stats[sending_id]
        assert (got.processed, got.started_at, got.last_at) == (len(done), min(times), max(times))
        assert got.parts == sum(r["parts"] for r in mine if r["sent_at"] is not None)
