"""The SQLite adapter that runs a statement's whole cursor life in one trip to aiosqlite's thread."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, OperationalError

from tidings.db.engine import make_engine
from tidings.db.sqlite_driver import OneTripDbapi, deferred_writes


async def test_statements_rows_counts_and_errors(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/driver.db")
    assert isinstance(engine.dialect.dbapi, OneTripDbapi)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)"))
            first = await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
            assert first.lastrowid == 1 and first.rowcount == 1
            many = await conn.execute(text("INSERT INTO t (name) VALUES (:name)"), [{"name": n} for n in "bcd"])
            assert many.rowcount == 3
            back = await conn.execute(text("INSERT INTO t (name) VALUES ('e'), ('f') RETURNING id, name"))
            assert sorted(back.all()) == [(5, "e"), (6, "f")]
            result = await conn.execute(text("SELECT id, name FROM t ORDER BY id"))
            assert list(result.keys()) == ["id", "name"]
            assert result.fetchone() == (1, "a")
            assert result.fetchmany(2) == [(2, "b"), (3, "c")]
            assert result.all() == [(4, "d"), (5, "e"), (6, "f")]
            updated = await conn.execute(text("UPDATE t SET name = name || '!' WHERE id > 4"))
            assert updated.rowcount == 2
        async with engine.connect() as conn:
            with pytest.raises(IntegrityError):
                await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
            await conn.rollback()
            with pytest.raises(OperationalError):
                await conn.execute(text("SELECT nope FROM t"))
            await conn.rollback()
            streamed = [row async for row in await conn.stream(text("SELECT name FROM t ORDER BY id"))]
            assert [r[0] for r in streamed] == ["a", "b", "c", "d", "e!", "f!"]
    finally:
        await engine.dispose()


async def test_deferred_writes_go_with_the_commit_and_fail_it_as_a_whole(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path}/driver.db")
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL)"))
            await conn.execute(text("INSERT INTO t (name) VALUES ('a')"))
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO t (name) VALUES ('b')"))
            with deferred_writes(conn.sync_connection):
                await conn.execute(text("INSERT INTO t (name) VALUES (:n)"), [{"n": "c"}, {"n": "d"}])
                await conn.execute(text("UPDATE t SET name = 'a!' WHERE name = 'a'"))
                back = await conn.execute(text("INSERT INTO t (name) VALUES ('e') RETURNING id"))
                assert back.scalar_one() == 5, "a statement that returns rows is not deferred (nor what came before)"
                await conn.execute(text("INSERT INTO t (name) VALUES ('f')"))
                held = conn.sync_connection.connection.dbapi_connection.deferred  # type: ignore[union-attr]
                assert [sql for _, _, sql, _ in held] == ["INSERT INTO t (name) VALUES ('f')"], "waits for the commit"
        async with engine.connect() as conn:
            names = (await conn.execute(text("SELECT name FROM t ORDER BY id"))).scalars().all()
        assert names == ["a!", "b", "c", "d", "e", "f"], "every write, in order, with the commit"

        # A streamed read in the same transaction sees the writes held before it.
        async with engine.begin() as conn:
            with deferred_writes(conn.sync_connection):
                await conn.execute(text("UPDATE t SET name = 'f!' WHERE name = 'f'"))
            streamed = [row[0] async for row in await conn.stream(text("SELECT name FROM t WHERE id = 6"))]
            assert streamed == ["f!"]
            await conn.execute(text("UPDATE t SET name = 'f' WHERE name = 'f!'"))

        # A deferred write that fails fails the commit, and nothing of the transaction stays.
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(text("INSERT INTO t (name) VALUES ('g')"))
                with deferred_writes(conn.sync_connection):
                    await conn.execute(text("INSERT INTO t (name) VALUES ('b')"))  # not unique
        async with engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 6
            # The connection is usable afterwards, its deferred writes forgotten.
            await conn.execute(text("INSERT INTO t (name) VALUES ('h')"))
            await conn.commit()
            assert (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one() == 7
    finally:
        await engine.dispose()


async def test_a_reading_session_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    """Database.reading() on SQLite begins a deferred transaction: it reads while another one holds the write lock."""
    from tidings.db.engine import Database

    db = Database(f"sqlite+aiosqlite:///{tmp_path}/read.db")
    try:
        async with db.transaction() as s:
            await s.execute(text("CREATE TABLE t (n INTEGER)"))
            await s.execute(text("INSERT INTO t VALUES (1)"))
        async with db.sessions() as writer:
            await writer.execute(text("INSERT INTO t VALUES (2)"))  # BEGIN IMMEDIATE: the write lock is held
            async with db.reading() as reader:
                seen = await asyncio.wait_for(reader.execute(text("SELECT n FROM t ORDER BY n")), 5)
                assert [r[0] for r in seen] == [1], "the committed rows, without waiting for the writer"
            await writer.commit()
    finally:
        await db.dispose()


async def test_a_transaction_holds_the_write_lock_from_its_first_statement(tmp_path: Path) -> None:
    """BEGIN IMMEDIATE travels with the first statement: a read-then-write transaction still excludes other writers."""
    from tidings.db.engine import Database

    path = tmp_path / "lock.db"
    db = Database(f"sqlite+aiosqlite:///{path}")

    def write_elsewhere(n: int) -> None:
        conn = sqlite3.connect(path, timeout=0.2, isolation_level=None)
        try:
            conn.execute(f"INSERT INTO t VALUES ({n})")
        finally:
            conn.close()

    try:
        async with db.transaction() as s:
            await s.execute(text("CREATE TABLE t (n INTEGER)"))
        async with db.transaction() as s:
            assert (await s.execute(text("SELECT count(*) FROM t"))).scalar() == 0  # first statement: a read
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                await asyncio.to_thread(write_elsewhere, 9)
            await s.execute(text("INSERT INTO t VALUES (1)"))
        async with db.transaction():  # nothing runs: nothing to commit, and nothing is left open
            pass
        await asyncio.to_thread(write_elsewhere, 2)
        with pytest.raises(RuntimeError):
            async with db.transaction() as s:
                await s.execute(text("INSERT INTO t VALUES (3)"))
                raise RuntimeError("rolled back")
        async with db.sessions() as s:
            assert (await s.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all() == [1, 2]
    finally:
        await db.dispose()
