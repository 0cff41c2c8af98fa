"""Lookups a caller makes by a key of its own reach the rows through an index, not by reading the whole account."""

from __future__ import annotations

from sqlalchemy import insert, text

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
    if db.sqlite:
        await analyze(db)  # what the engine's maintenance loop keeps current
    else:
        async with db.engine.begin() as conn:
            await conn.execute(text("ANALYZE messages"))
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
