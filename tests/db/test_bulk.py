"""db.bulk.insert_all: many new rows in a few statements, each object persistent with its own id and values."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from tidings.db import bulk
from tidings.db.engine import Database
from tidings.db.models import Message
from tidings.messaging import outbox
from tidings.tenancy.service import NewAccount


async def test_every_object_gets_the_id_of_its_own_row(db: Database, account: NewAccount) -> None:
    # More than one SQLite statement's worth, with values that differ per row and types that need binding.
    count = bulk.SQLITE_ROWS_PER_STATEMENT + 7
    messages = [outbox.new_message(account_id=account.account_id, channel="sms", sender="ACME",
                                   recipient=f"34666{i:06d}", body=f"body {i}", parts=1 + i % 3,
                                   extra={"n": i, "tags": ["a", "é"]}) for i in range(count)]
    async with db.transaction() as s:
        await bulk.insert_all(s, messages)
        assert all(m.id is not None for m in messages)
        assert len({m.id for m in messages}) == count
        messages[3].body = "changed after insert"  # persistent: a change is an UPDATE at commit
    async with db.sessions() as s:
        rows = {m.id: m for m in (await s.execute(select(Message))).scalars()}
    assert len(rows) == count
    for i, message in enumerate(messages):
        row = rows[message.id]
        assert row.recipient == f"34666{i:06d}" and row.parts == 1 + i % 3
        assert row.extra == {"n": i, "tags": ["a", "é"]}
        assert row.body == ("changed after insert" if i == 3 else f"body {i}")
        # Column defaults applied as a flush would: present on the object and in the row.
        assert row.cost == Decimal("0") and message.cost == Decimal("0")
        assert row.attempts == 0 and row.created_at is not None and message.created_at is not None
        assert row.due_at is not None and row.status == "queued"


async def test_nothing_to_insert(db: Database) -> None:
    async with db.transaction() as s:
        await bulk.insert_all(s, [])


async def test_untracked_objects_are_inserted_and_left_out_of_the_session(db: Database, account: NewAccount) -> None:
    messages = [outbox.new_message(account_id=account.account_id, channel="sms", sender="ACME",
                                   recipient=f"34666{i:06d}", body=f"body {i}") for i in range(3)]
    async with db.transaction() as s:
        await bulk.insert_all(s, messages, track=False)
        assert [m.id for m in messages] == sorted({m.id for m in messages}) and messages[0].id is not None
        assert not any(m in s for m in messages)
        assert messages[0].status == "queued" and messages[0].attempts == 0  # defaults filled all the same
    async with db.sessions() as s:
        rows = (await s.execute(select(Message).order_by(Message.id))).scalars().all()
    assert [(r.id, r.body) for r in rows] == [(m.id, f"body {i}") for i, m in enumerate(messages)]


async def test_concurrent_inserts_each_get_their_own_rows(db: Database, account: NewAccount) -> None:
    # Two requests accepting at once: on PostgreSQL their rows take ids from one sequence, interleaved or not;
    # every object must still be told the id of the row holding its own values.
    scheduled = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)

    async def accept(tag: str) -> list[Message]:
        messages = [outbox.new_message(account_id=account.account_id, channel="sms", sender="ACME",
                                       recipient=f"{tag}{i:06d}", body=f'{tag} {i} "quoted" {{braces}}, \\ é',
                                       due_at=scheduled + timedelta(minutes=i) if i % 2 else None,
                                       expires_at=None, extra={"tag": tag, "i": i, "none": None})
                    for i in range(bulk.SQLITE_ROWS_PER_STATEMENT + 3)]
        async with db.transaction() as s:
            await bulk.insert_all(s, messages, track=False)
        return messages

    batches = await asyncio.gather(accept("34666"), accept("34777"))
    async with db.sessions() as s:
        rows = {m.id: m for m in (await s.execute(select(Message))).scalars()}
    assert len(rows) == sum(len(b) for b in batches)
    for tag, messages in zip(("34666", "34777"), batches, strict=True):
        for i, message in enumerate(messages):
            row = rows[message.id]
            assert row.recipient == f"{tag}{i:06d}" and row.body == f'{tag} {i} "quoted" {{braces}}, \\ é'
            assert row.extra == {"tag": tag, "i": i, "none": None} and row.expires_at is None
            assert row.scheduled_at == (scheduled + timedelta(minutes=i) if i % 2 else None)


async def test_rows_alike_in_every_column_each_get_a_row_of_their_own(db: Database, account: NewAccount) -> None:
    # On PostgreSQL a column with one value in every row is bound once: rows alike in all columns still make as
    # many rows, each with the values (the JSON document and the date included), and one row alone too.
    due = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)

    def alike() -> Message:
        return outbox.new_message(account_id=account.account_id, channel="sms", sender="ACME", recipient="34666000001",
                                  body="same é", due_at=due, extra={"k": ["v", None]})

    twins = [alike() for _ in range(3)]
    single = [alike()]
    async with db.transaction() as s:
        await bulk.insert_all(s, twins, track=False)
        await bulk.insert_all(s, single, track=False)
    async with db.sessions() as s:
        rows = (await s.execute(select(Message).order_by(Message.id))).scalars().all()
    assert [r.id for r in rows] == [m.id for m in [*twins, *single]] and len({r.id for r in rows}) == 4
    for row in rows:
        assert (row.recipient, row.body, row.extra, row.due_at, row.sender) == (
            "34666000001", "same é", {"k": ["v", None]}, due, "ACME")
        assert row.status == "queued" and row.attempts == 0 and row.cost == Decimal("0")
