"""db.plain_writes: rows written by plain executemany statements hold what the unit of work and Core would write."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import delete, event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from tidings.db.base import table_of
from tidings.db.engine import Database
from tidings.db.models import Event, Message
from tidings.db.plain_writes import insert_rows
from tidings.messaging import outbox
from tidings.tenancy.service import NewAccount


@contextmanager
def statements(db: Database) -> Iterator[list[tuple[str, bool]]]:
    seen: list[tuple[str, bool]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        seen.append((statement, executemany))

    event.listen(db.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", record)


async def _messages(db: Database, account_id: int, n: int) -> list[int]:
    async with db.transaction() as s:
        rows = [Message(account_id=account_id, channel="sms", recipient=f"3460000{i:04d}", body="hi",
                        extra={"tags": ["a"]}) for i in range(n)]
        s.add_all(rows)
        await s.flush()
        return [m.id for m in rows]


async def _loaded(s: AsyncSession, ids: list[int]) -> list[Message]:
    return list((await s.execute(select(Message).where(Message.id.in_(ids)).order_by(Message.id))).scalars())


def _updates(seen: list[tuple[str, bool]]) -> list[tuple[str, bool]]:
    return [(sql, many) for sql, many in seen if sql.lstrip().upper().startswith("UPDATE MESSAGES")]


async def test_changed_rows_are_written_with_their_types(db: Database, account: NewAccount) -> None:
    ids = await _messages(db, account.account_id, 30)
    sent = datetime(2026, 12, 2, 7, 30, 15, 123456, tzinfo=UTC)
    unit_of_work: list[int] = []

    def flushed(session: Any, flush_context: Any) -> None:
        unit_of_work.append(len(flush_context.states))

    event.listen(Session, "after_flush", flushed)
    try:
        with statements(db) as seen:
            async with db.transaction() as s:
                rows = await _loaded(s, ids)
                for m in rows:
                    m.status, m.sent_at, m.cost, m.external_id = "sent", sent, Decimal("0.01234"), f"ext-{m.id}"
                    m.extra = {**m.extra, "parts": 2}
                    m.locked_by = None
    finally:
        event.remove(Session, "after_flush", flushed)
    updates = _updates(seen)
    # Thirty rows with the same changed columns: one executemany on SQLite, one execution from arrays on PostgreSQL.
    assert len(updates) == 1
    if db.engine.dialect.name == "postgresql":
        assert "unnest(" in updates[0][0] and not updates[0][1]
    else:
        assert updates[0][1]
    assert unit_of_work == [], "nothing was left for the unit of work"
    async with db.sessions() as s:
        back = await _loaded(s, ids)
    assert [m.status for m in back] == ["sent"] * 30
    assert all(m.sent_at == sent and m.cost == Decimal("0.01234") for m in back)
    assert [m.external_id for m in back] == [f"ext-{i}" for i in ids]
    assert all(m.extra == {"tags": ["a"], "parts": 2} for m in back)


async def test_rows_with_different_changes_keep_key_order(db: Database, account: NewAccount) -> None:
    ids = await _messages(db, account.account_id, 6)
    with statements(db) as seen:
        async with db.transaction() as s:
            rows = await _loaded(s, ids)
            for m in rows:
                if m.id % 2:
                    m.status = "sent"
                else:
                    m.status, m.error_code = "failed", "x"
    # Alternating column sets cannot be merged without reordering rows (lock order on PostgreSQL).
    assert len(_updates(seen)) == 6
    async with db.sessions() as s:
        back = {m.id: (m.status, m.error_code) for m in await _loaded(s, ids)}
    assert back == {i: ("sent", None) if i % 2 else ("failed", "x") for i in ids}


async def test_a_value_set_back_is_not_written(db: Database, account: NewAccount) -> None:
    ids = await _messages(db, account.account_id, 3)
    with statements(db) as seen:
        async with db.transaction() as s:
            rows = await _loaded(s, ids)
            for m in rows:
                m.status = m.status
                m.locked_by = None
                m.extra = dict(m.extra)
            assert not s.dirty or all(not s.is_modified(m) for m in rows)
    assert _updates(seen) == []


async def test_new_changed_and_deleted_rows_in_one_flush(db: Database, account: NewAccount) -> None:
    ids = await _messages(db, account.account_id, 3)
    async with db.transaction() as s:
        first, second, third = await _loaded(s, ids)
        first.status = "sent"
        second.status = "sent"
        await s.delete(second)
        s.add(Event(account_id=account.account_id, message_id=third.id, kind="queued",
                    occurred_at=datetime.now(UTC) - timedelta(seconds=1), details={}))
        third.body = "changed"
    async with db.sessions() as s:
        back = {m.id: (m.status, m.body) for m in await _loaded(s, ids)}
        events = (await s.execute(select(Event.message_id))).scalars().all()
    assert back == {ids[0]: ("sent", "hi"), ids[2]: ("queued", "changed")}
    assert events == [ids[2]]


async def test_a_row_gone_meanwhile_fails_the_flush(db: Database, account: NewAccount) -> None:
    [only] = await _messages(db, account.account_id, 1)
    async with db.sessions() as s:
        message = (await s.execute(select(Message).where(Message.id == only))).scalar_one()
        await s.commit()  # the object stays loaded (expire_on_commit=False)
        async with db.transaction() as other:
            await other.execute(delete(Message).where(Message.id == only))
        message.status = "sent"
        with pytest.raises(StaleDataError):
            await s.flush()
        await s.rollback()


async def test_one_of_many_rows_gone_meanwhile_fails_the_flush(db: Database, account: NewAccount) -> None:
    """The rows written together (an executemany, or one statement from arrays) are counted as the unit of work
    counts them: one row deleted by another transaction fails the flush instead of being skipped."""
    ids = await _messages(db, account.account_id, 3)
    async with db.sessions() as s:
        rows = await _loaded(s, ids)
        await s.commit()
        async with db.transaction() as other:
            await other.execute(delete(Message).where(Message.id == ids[1]))
        for m in rows:
            m.status = "sent"
        with pytest.raises(StaleDataError):
            await s.flush()
        await s.rollback()


async def test_inserted_rows_hold_what_core_would_write(db: Database, account: NewAccount) -> None:
    ids = await _messages(db, account.account_id, 4)
    when = datetime(2026, 12, 2, 8, 0, 0, 5, tzinfo=UTC)
    rows = [{"account_id": account.account_id, "message_id": i, "sending_id": None, "campaign_id": None,
             "kind": "sent", "occurred_at": when, "details": {"n": i, "é": "ü"}} for i in ids]
    with statements(db) as seen:
        async with db.transaction() as s:
            await insert_rows(s, table_of(Event), rows)
    # One statement: an executemany on SQLite; on PostgreSQL one execution, every row from arrays.
    inserts = [(sql, many) for sql, many in seen if sql.lstrip().upper().startswith("INSERT INTO EVENTS")]
    assert len(inserts) == 1
    if db.engine.dialect.name == "postgresql":
        assert "unnest(" in inserts[0][0] and not inserts[0][1]
    async with db.sessions() as s:
        back = (await s.execute(select(Event).order_by(Event.message_id))).scalars().all()
    assert [(e.message_id, e.kind, e.occurred_at, e.details) for e in back] == [
        (i, "sent", when, {"n": i, "é": "ü"}) for i in ids]


async def test_rows_sharing_a_document_each_hold_it(db: Database, account: NewAccount) -> None:
    """A JSON document several rows share (one object, serialised once) is written to each; others stay their own."""
    ids = await _messages(db, account.account_id, 6)
    shared = {"stat": "DELIVRD", "parts": [1, 2]}
    rows = [{"account_id": account.account_id, "message_id": i, "kind": "delivered",
             "occurred_at": datetime.now(UTC), "details": shared if n % 2 == 0 else {"own": n}}
            for n, i in enumerate(ids)]
    async with db.transaction() as s:
        await insert_rows(s, table_of(Event), rows)
    async with db.sessions() as s:
        back = (await s.execute(select(Event).order_by(Event.message_id))).scalars().all()
    assert [e.details for e in back] == [shared if n % 2 == 0 else {"own": n} for n in range(6)]


async def test_rows_alike_in_every_column_are_each_inserted(db: Database, account: NewAccount) -> None:
    """On PostgreSQL a value every row has alike is bound once: rows alike in all their columns are still each a row."""
    (message_id,) = await _messages(db, account.account_id, 1)
    when = datetime(2026, 12, 2, 8, 0, 0, 5, tzinfo=UTC)
    row = {"account_id": account.account_id, "message_id": message_id, "kind": "opened", "occurred_at": when,
           "details": {"n": 1}}
    async with db.transaction() as s:
        await insert_rows(s, table_of(Event), [dict(row) for _ in range(3)])
        await insert_rows(s, table_of(Event), [dict(row, kind="clicked")])
    async with db.sessions() as s:
        back = (await s.execute(select(Event).order_by(Event.id))).scalars().all()
    assert [(e.message_id, e.kind, e.occurred_at, e.details) for e in back] == [
        *[(message_id, "opened", when, {"n": 1})] * 3, (message_id, "clicked", when, {"n": 1})]


async def test_inserted_rows_missing_a_column_get_its_default(db: Database, account: NewAccount) -> None:
    [message_id] = await _messages(db, account.account_id, 1)
    async with db.transaction() as s:
        await insert_rows(s, table_of(Event), [{"account_id": account.account_id, "message_id": message_id,
                                                "kind": "queued", "occurred_at": datetime.now(UTC)}])
    async with db.sessions() as s:
        event_row = (await s.execute(select(Event))).scalar_one()
    assert event_row.details == {} and event_row.sending_id is None


async def test_queued_rows_get_every_default_of_a_flush(db: Database, account: NewAccount) -> None:
    rows = [outbox.message_row(account_id=account.account_id, channel="email", sender="a@acme.test",
                               recipient=f"p{i}@globex.test", subject="Hello", body="Hi") for i in range(3)]
    async with db.transaction() as s:
        await outbox.queue_rows(s, rows)
        s.add(Message(account_id=account.account_id, channel="email", sender="a@acme.test",
                      recipient="orm@globex.test", subject="Hello", body="Hi"))
    async with db.sessions() as s:
        back = (await s.execute(select(Message).order_by(Message.id))).scalars().all()
    columns = ("attempts", "cost", "extra", "list_pending", "parts", "status", "direction")
    by_flush = {c: getattr(back[-1], c) for c in columns}
    for message in back[:-1]:
        assert {c: getattr(message, c) for c in columns} == by_flush
        assert message.created_at is not None and message.rfc_message_id


def test_every_model_is_a_plain_column_mapping() -> None:
    """docs/design.md: no relationships, onupdate, version counters or mapper events (each would send that
    model's changed rows back to the slower unit of work)."""
    import tidings.db.models  # noqa: F401 - every model registered
    from tidings.db.base import Base
    from tidings.db.plain_writes import _columns

    assert [m.class_.__name__ for m in Base.registry.mappers if _columns(m) is None] == []
