"""Writers of one process take SQLite's write lock in the order they asked for it (db.sqlite_driver.WriteTurns)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from tidings.db import sqlite_driver
from tidings.db.engine import Database


@pytest.fixture
async def db(tmp_path: Path) -> Database:
    database = Database(f"sqlite+aiosqlite:///{tmp_path}/turns.db")
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE log (id INTEGER PRIMARY KEY, who TEXT NOT NULL)"))
    yield database  # type: ignore[misc]
    await database.dispose()


async def _write(db: Database, who: str, order: list[str], hold: asyncio.Event | None = None,
                 began: asyncio.Event | None = None) -> None:
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO log (who) VALUES (:who)"), {"who": who})
        order.append(who)
        if began is not None:
            began.set()
        if hold is not None:
            await hold.wait()


async def _queued(db: Database, waiting: int) -> None:
    """Until `waiting` writers wait for the file's turn."""
    lock = sqlite_driver.WriteTurns.lock(str(db.engine.url.database))
    for _ in range(500):
        if len(getattr(lock, "_waiters", None) or ()) >= waiting:
            return
        await asyncio.sleep(0.002)
    raise AssertionError("the writers did not queue")


async def test_a_writer_that_begins_again_at_once_waits_behind_those_already_waiting(db: Database) -> None:
    # With SQLite's busy handler alone the first writer, beginning again while the others sleep between
    # retries, usually won: a loop writing back to back kept everyone else waiting for seconds.
    order: list[str] = []
    release, began = asyncio.Event(), asyncio.Event()
    first = asyncio.create_task(_write(db, "first", order, release, began))
    await began.wait()
    others = []
    for waiting, name in enumerate(("second", "third"), start=1):
        others.append(asyncio.create_task(_write(db, name, order)))
        await _queued(db, waiting)

    async def again() -> None:
        await first
        await _write(db, "first again", order)

    repeat = asyncio.create_task(again())
    release.set()
    await asyncio.gather(repeat, *others)
    assert order == ["first", "second", "third", "first again"]
    async with db.reading() as session:
        rows = (await session.execute(text("SELECT who FROM log ORDER BY id"))).scalars().all()
    assert rows == order


async def test_a_failed_or_cancelled_writer_gives_its_turn_back(db: Database) -> None:
    order: list[str] = []
    with pytest.raises(RuntimeError):
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO log (who) VALUES ('rolled back')"))
            raise RuntimeError("the handler failed")
    # Cancelled while holding the turn, then while waiting for it.
    release, began = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_write(db, "cancelled holder", order, release, began))
    await began.wait()
    waiter = asyncio.create_task(_write(db, "cancelled waiter", order))
    await _queued(db, 1)
    waiter.cancel()
    holder.cancel()
    for task in (holder, waiter):
        with pytest.raises(asyncio.CancelledError):
            await task
    await asyncio.wait_for(_write(db, "after", order), 5)
    async with db.reading() as session:
        rows = (await session.execute(text("SELECT who FROM log ORDER BY id"))).scalars().all()
    assert rows == ["after"]


async def test_readers_do_not_wait_for_a_writer(db: Database) -> None:
    order: list[str] = []
    release, began = asyncio.Event(), asyncio.Event()
    writer = asyncio.create_task(_write(db, "writing", order, release, began))
    await began.wait()
    async with db.reading() as session:
        assert (await session.execute(text("SELECT count(*) FROM log"))).scalar() == 0  # WAL: the last commit
    release.set()
    await writer


async def test_a_writer_waiting_longer_than_the_busy_timeout_fails_as_sqlite_would(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_driver, "BUSY_TIMEOUT_SECONDS", 0.2)
    order: list[str] = []
    release, began = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(_write(db, "long", order, release, began))
    await began.wait()
    with pytest.raises(OperationalError, match="database is locked"):
        await _write(db, "late", order)
    release.set()
    await holder
    await _write(db, "later", order)
    assert order == ["long", "later"]
