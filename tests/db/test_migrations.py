"""Migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, async_sessionmaker

from tidings.core import clock
from tidings.db.base import Base, table_of
from tidings.db.engine import make_engine
from tidings.db.migrate import upgrade
from tidings.db.models import Account, Event, Message, MessagePart, Sending
from tidings.messaging.receipts import find_message


async def _diff(url: str) -> list[object]:
    engine = make_engine(url)
    async with engine.connect() as conn:
        diff = await conn.run_sync(lambda c: compare_metadata(MigrationContext.configure(c), Base.metadata))
    await engine.dispose()
    return list(diff)


@contextlib.asynccontextmanager
async def _migrated(database_url: str, backend: str, revision: str = "head") -> AsyncIterator[str]:
    """A database of its own, upgraded to `revision` by the migrations; its URL."""
    url = database_url
    admin = None
    if backend == "postgresql":
        name = "migr_" + uuid.uuid4().hex[:8]
        admin = make_engine(database_url, isolation_level="AUTOCOMMIT")
        async with admin.connect() as conn:
            await conn.execute(text(f"CREATE DATABASE {name}"))
        url = make_url(database_url).set(database=name).render_as_string(hide_password=False)
    else:
        url = database_url.replace("test.db", "migrated.db")
    try:
        await asyncio.to_thread(upgrade, url, revision)
        yield url
    finally:
        if admin is not None:
            async with admin.connect() as conn:
                await conn.execute(text(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)"))
            await admin.dispose()


# SQLite cannot reflect an index on an expression: the test below compares those by their definitions.
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
async def test_migrations_match_models(database_url: str, backend: str) -> None:
    async with _migrated(database_url, backend) as url:
        assert await _diff(url) == []


async def _index_definitions(url: str, table: str) -> set[str]:
    engine = make_engine(url)
    sql = ("SELECT indexdef FROM pg_indexes WHERE tablename = :t" if engine.dialect.name == "postgresql"
           else "SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = :t AND sql IS NOT NULL")
    async with engine.connect() as conn:
        found = {str(row[0]) for row in await conn.execute(text(sql), {"t": table})}
    await engine.dispose()
    return found


async def test_migrated_message_indexes_are_the_models_partial_ones(db: object, database_url: str,
                                                                   backend: str) -> None:
    """The comparison above sees index names and columns only: the conditions of the partial indexes that keep
    message updates cheap must be the models' too."""
    async with _migrated(database_url, backend) as url:
        migrated = await _index_definitions(url, "messages")
        events = await _index_definitions(url, "events")
        contacts = await _index_definitions(url, "contacts")
        jobs = await _index_definitions(url, "jobs")
    assert migrated == await _index_definitions(database_url, "messages")  # the `db` fixture's create_all
    assert contacts == await _index_definitions(database_url, "contacts")
    assert any("ix_contacts_account_landline" in d and "landline IS NOT NULL" in d for d in contacts)
    assert any("external_id IS NOT NULL" in d for d in migrated)
    assert not any("ix_messages_account_id " in d for d in migrated)
    assert any("ix_messages_outreach_recipient" in d and "enrollment_id IS NOT NULL" in d for d in migrated)
    assert events == await _index_definitions(database_url, "events")
    assert any("ix_events_sending_time" in d and "sending_id IS NOT NULL" in d for d in events)
    assert jobs == await _index_definitions(database_url, "jobs")
    assert any("ix_jobs_queue" in d and "'queued'" in d and "'running'" in d for d in jobs)
    assert any("ix_jobs_finished" in d and "finished_at IS NOT NULL" in d for d in jobs)


async def _account_row(conn: AsyncConnection, now: datetime) -> int:
    """An account inserted as the schema of an older revision has it; its id."""
    accounts = table_of(Account)
    return int((await conn.execute(insert(accounts).values(
        name="A", email="a@example.test", username="a", created_at=now).returning(accounts.c.id))).scalar_one())


async def test_the_part_ids_of_recent_multipart_messages_are_carried_into_message_parts(
        database_url: str, backend: str) -> None:
    """Migration 0014: a receipt naming a later part of a message sent before the upgrade still finds it."""
    async with _migrated(database_url, backend, "0013") as url:
        engine = make_engine(url)
        now = clock.now()
        async with engine.begin() as conn:
            account = await _account_row(conn, now)
            rows = [(["p1", "p2", "p3"], now - timedelta(hours=1)), (["q1", "q2"], now - timedelta(days=8)),
                    (["r1"], now), (None, now)]
            for part_ids, sent_at in rows:
                extra = {"kind": "transactional"} | ({"part_ids": part_ids} if part_ids else {})
                await conn.execute(insert(table_of(Message)).values(
                    account_id=account, channel="sms", direction="out", status="sent", sender="T", recipient="34600",
                    body="x", parts=len(part_ids or [1]), cost=0, list_pending=False, attempts=1, created_at=now,
                    sent_at=sent_at, external_id=(part_ids or ["none"])[0], extra=extra))
        await asyncio.to_thread(upgrade, url)
        async with engine.connect() as conn:
            parts = {(r.provider_id, r.part) for r in await conn.execute(select(table_of(MessagePart)))}
        assert parts == {("p2", 2), ("p3", 3)}  # older than the seven days the lookup covered: not carried over
        sessions = async_sessionmaker(engine)
        async with sessions() as session:
            found = await find_message(session, "sms", "p3")
        assert found is not None and found[0].external_id == "p1" and found[1] == 3
        await engine.dispose()


async def test_events_keep_through_0020_and_still_go_with_their_message(database_url: str, backend: str) -> None:
    """Migration 0020 drops the events' keys to the account and the sending (SQLite rebuilds the table): the rows
    stay, and deleting a sending still removes its events, through its messages."""
    async with _migrated(database_url, backend, "0019") as url:
        engine = make_engine(url)
        now = clock.now()
        async with engine.begin() as conn:
            account = await _account_row(conn, now)
            sending = (await conn.execute(insert(table_of(Sending)).values(
                account_id=account, channel="sms", source="rest", status="done", total=1, accepted=1, cost=0,
                options={}, created_at=now).returning(table_of(Sending).c.id))).scalar_one()
            message = (await conn.execute(insert(table_of(Message)).values(
                account_id=account, sending_id=sending, channel="sms", direction="out", status="sent", sender="T",
                recipient="34600000000", body="x", parts=1, cost=0, list_pending=False, attempts=1, created_at=now,
                extra={}).returning(table_of(Message).c.id))).scalar_one()
            await conn.execute(insert(table_of(Event)).values(
                account_id=account, message_id=message, sending_id=sending, kind="sent", occurred_at=now, details={}))
        await asyncio.to_thread(upgrade, url)
        async with engine.begin() as conn:
            kinds = (await conn.execute(select(table_of(Event).c.kind))).scalars().all()
            assert kinds == ["sent"]
            await conn.execute(table_of(Sending).delete())
            assert (await conn.execute(select(table_of(Event).c.id))).first() is None
        await engine.dispose()
