"""Engine and session factories for SQLite (embedded default) and PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import orjson
from sqlalchemy import event, exc
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from tidings.db import plain_writes, sqlite_driver  # noqa: F401 - plain_writes registers its flush listener

READ_ONLY = "tidings_read_only"
# A pooled PostgreSQL connection idle longer than this is pinged before use (one used this recently is not).
PING_AFTER_IDLE_SECONDS = 1.0
_CHECKED_IN = "tidings_checked_in"


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def json_dumps(value: Any) -> str:
    """A JSON column's text: orjson's (ten times the standard library's speed, compact), the standard library's for
    what orjson refuses (an integer beyond 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return json.dumps(value)


def json_loads(text: str | bytes) -> Any:
    """A JSON column's value; the standard library reads what orjson refuses (NaN, an integer beyond 64 bits)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """An engine tuned for its backend: WAL and a busy timeout on SQLite, a pool on PostgreSQL.

    JSON columns go through orjson: a message's lifecycle reads and writes several documents (its options, each
    event's details), about 2 us each with the standard library (docs/performance.md).
    """
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", json_loads)
    if is_sqlite(url):
        kwargs.setdefault("module", sqlite_driver.dbapi())
        engine = create_async_engine(url, connect_args={"timeout": sqlite_driver.BUSY_TIMEOUT_SECONDS}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            # We emit BEGIN ourselves (below); the driver's implicit one would defeat it.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(sqlite_driver.BUSY_TIMEOUT_SECONDS * 1000)}")
            cur.close()

        # Let SQLite take the write lock at BEGIN so concurrent writers queue instead of failing; a
        # session opened by Database.reading() needs no lock (WAL readers never wait for writers).
        @event.listens_for(engine.sync_engine, "begin")
        def _begin(conn: Any) -> None:
            sql = "BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE"
            dbapi_conn = conn.connection.dbapi_connection
            if isinstance(dbapi_conn, sqlite_driver.OneTripConnection):
                dbapi_conn.defer_begin(sql)  # sent with the first statement: one trip to the thread less
            else:
                conn.exec_driver_sql(sql)

        engine.sync_engine.dialect._tidings_sqlite = True  # type: ignore[attr-defined]
        return engine
    engine = create_async_engine(url, pool_size=10, max_overflow=20, **kwargs)
    _ping_when_idle(engine)
    return engine


def _ping_when_idle(engine: AsyncEngine) -> None:
    """Ping a pooled connection before use only when it sat idle, instead of at every checkout.

    `pool_pre_ping` costs three round trips (BEGIN, a query, ROLLBACK) before every transaction, about a
    third of a small transaction's trips. A connection that went bad while in use is caught as before: the
    statement fails as unavailable, the pool is invalidated and the caller's backoff tries again.
    """
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info[_CHECKED_IN] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get(_CHECKED_IN)
        if since is None or time.monotonic() - since < PING_AFTER_IDLE_SECONDS:
            return  # new, or in use a moment ago
        try:
            dialect.do_ping(dbapi_conn)
        except Exception as error:
            # The pool discards this connection and checks out a new one (or fails to connect: unavailable).
            raise exc.DisconnectionError(str(error)) from error


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class Database:
    """An engine with its session factory; one per process."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)

    @property
    def sqlite(self) -> bool:
        return is_sqlite(self.url)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed on success and rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[AsyncSession]:
        """A session that only reads: on SQLite it does not queue for the write lock, as every other one does.

        Many concurrent readers (the notification deliverers, the loops' lookups) would otherwise take turns
        on the lock with the dispatcher, each turn a sleep in SQLite's busy handler. Writing in it is a mistake.
        """
        async with self.sessions() as session:
            if self.sqlite:
                await session.connection(execution_options={READ_ONLY: True})
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
