"""The email search by dates, the inbox by client or interest and a sending's totals read only their own rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, text

from tidings.core import clock
from tidings.db.engine import Database
from tidings.db.models import Message, Sending
from tidings.engine.maintenance import analyze
from tidings.messaging.email_api import service
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
