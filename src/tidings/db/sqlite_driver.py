"""SQLAlchemy's aiosqlite adapter with one trip to the connection's thread per statement.

The stock adapter makes three or four trips per statement (open the cursor, execute, fetch the
rows, close), and every trip waits for the event loop's next turn to get its answer back: under
load (a dispatcher's send lanes, receipts, HTTP) that is a millisecond or more per trip, several
per transaction. Here a statement's whole cursor life runs in the thread at once, a transaction's
BEGIN goes with its first statement (`defer_begin`), and a rollback or commit with nothing to end (the
pool's reset after a commit) makes no trip. Writers of one process queue for a database file's write
lock in turn (`WriteTurns`) before SQLite sees their BEGIN IMMEDIATE. Everything else (connections,
server-side cursors, errors) is the stock adapter's.
"""

from __future__ import annotations

import asyncio
import collections
import sqlite3
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import aiosqlite
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
)
from sqlalchemy.engine import Connection

try:  # SQLAlchemy 2.1 names it await_; 2.0 only await_only
    from sqlalchemy.util.concurrency import await_ as await_only
except ImportError:  # pragma: no cover - SQLAlchemy 2.0
    from sqlalchemy.util.concurrency import await_only


# How long a writer waits for the write lock, in our queue and then in SQLite's busy handler (PRAGMA busy_timeout).
BUSY_TIMEOUT_SECONDS = 30.0

# A write held for the next trip: the transaction's BEGIN if it was the first statement, executemany or not,
# the SQL and its parameters.
Deferred = tuple[str | None, bool, str, Any]


class OneTripCursor(AsyncAdapt_aiosqlite_cursor):
    """A buffered cursor whose execute runs cursor, execute, fetchall and close in the thread."""

    __slots__ = ("_description", "_rowcount", "_lastrowid", "_size")

    def __init__(self, adapt_connection: Any) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._rows: collections.deque[Any] = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._size = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._size

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._size = value

    def _run(self, begin: str | None, many: bool, operation: str, parameters: Any,
             deferred: list[Deferred] | None = None) -> None:
        """In the connection's thread: the transaction's deferred BEGIN and writes, then the statement's whole
        cursor life."""
        if deferred:
            _run_deferred(self._connection._conn, deferred)
        if begin is not None:
            self._connection._conn.execute(begin)
        cursor: sqlite3.Cursor = self._connection._conn.cursor()
        try:
            _execute(cursor, many, operation, parameters)
            self._description = cursor.description
            self._rows = collections.deque(cursor.fetchall() if cursor.description else ())
            self._rowcount, self._lastrowid = cursor.rowcount, cursor.lastrowid
        finally:
            cursor.close()

    async def _call(self, many: bool, operation: str, parameters: Any) -> None:
        adapt = self._adapt_connection
        assert isinstance(adapt, OneTripConnection)
        async with adapt._execute_mutex:
            if adapt.begin_pending is not None:
                await adapt.take_turn()
            begin, adapt.begin_pending, adapt.dirty = adapt.begin_pending, None, True
            if adapt.deferring and "RETURNING" not in operation:
                # A write whose result nobody reads: it goes with the connection's next trip (at the latest its COMMIT).
                adapt.deferred.append((begin, many, operation, parameters))
                self._description, self._rowcount, self._lastrowid = None, -1, None
                self._rows.clear()
                return
            deferred, adapt.deferred = adapt.deferred, []
            await self._connection._execute(self._run, begin, many, operation, parameters, deferred)

    def execute(self, operation: Any, parameters: Any = None) -> Any:
        try:
            return await_only(self._call(False, operation, parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> Any:
        try:
            return await_only(self._call(True, operation, seq_of_parameters))
        except Exception as error:
            self._adapt_connection._handle_exception(error)

    async def _async_soft_close(self) -> None:
        return None  # nothing is open in the thread between statements

    def close(self) -> None:
        self._rows.clear()

    def nextset(self) -> None:
        return None

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None

    def __iter__(self) -> Iterator[Any]:
        while self._rows:
            yield self._rows.popleft()

    def fetchone(self) -> Any:
        return self._rows.popleft() if self._rows else None

    def fetchmany(self, size: int | None = None) -> Sequence[Any]:
        rows = self._rows
        return [rows.popleft() for _ in range(min(size or self._size, len(rows)))]

    def fetchall(self) -> Sequence[Any]:
        rows = list(self._rows)
        self._rows.clear()
        return rows


class WriteTurns:
    """The writers of one database file in this process, queued first come first served for its write lock.

    SQLite's busy handler retries a waiting BEGIN IMMEDIATE after sleeps of up to 100 ms, and the writer that
    ends a transaction and begins the next in the meantime wins again: a cycle writing back to back (a
    scheduler round) kept a send's record, or an API request, waiting for seconds. Here a writer takes its
    turn in order before its BEGIN goes to SQLite, so it waits for the transactions ahead of it only. Other
    processes still meet at SQLite's lock (its busy handler).
    """

    _by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, asyncio.Lock]] = \
        weakref.WeakKeyDictionary()

    @classmethod
    def lock(cls, database: str) -> asyncio.Lock:
        """The queue for `database` (as the engine names it) on the running event loop."""
        locks = cls._by_loop.setdefault(asyncio.get_running_loop(), {})
        found = locks.get(database)
        if found is None:
            found = locks[database] = asyncio.Lock()
        return found


def _shared_file(database: Any) -> str | None:
    """The name under which connections share a database file; None for a private in-memory database."""
    if not isinstance(database, str) or database in ("", ":memory:") or "mode=memory" in database:
        return None
    return database


class OneTripConnection(AsyncAdapt_aiosqlite_connection):
    """The connection runs in autocommit mode (isolation_level None): a transaction is open only after a BEGIN."""

    __slots__ = ("begin_pending", "dirty", "deferring", "deferred", "database", "turn")
    _cursor_cls = OneTripCursor

    def __init__(self, dbapi: Any, connection: Any, database: str | None = None) -> None:
        super().__init__(dbapi, connection)
        self.begin_pending: str | None = None
        self.dirty = False  # a statement ran since the last commit or rollback
        self.deferring = False  # inside `deferred_writes`
        self.deferred: list[Deferred] = []  # writes waiting for the next trip
        self.database = database
        self.turn: asyncio.Lock | None = None  # the write turn this connection holds until its commit or rollback

    async def take_turn(self) -> None:
        """Wait for this process's earlier writers of the file before a BEGIN that takes the write lock."""
        if self.turn is not None or self.database is None or not (self.begin_pending or "").startswith(
                ("BEGIN IMMEDIATE", "BEGIN EXCLUSIVE")):
            return
        lock = WriteTurns.lock(self.database)
        try:
            async with asyncio.timeout(BUSY_TIMEOUT_SECONDS):
                await lock.acquire()
        except TimeoutError:
            raise sqlite3.OperationalError("database is locked") from None
        self.turn = lock

    def end_turn(self) -> None:
        turn, self.turn = self.turn, None
        if turn is not None:
            turn.release()

    def defer_begin(self, sql: str) -> None:
        """Open the transaction with this BEGIN, sent together with its first statement."""
        self.begin_pending = sql

    def cursor(self, server_side: bool = False) -> Any:
        if server_side and (self.begin_pending is not None or self.deferred):
            # The stock streaming cursor knows nothing of a deferred BEGIN or deferred writes: send them now.
            try:
                await_only(self.take_turn())
            except Exception as error:
                self._handle_exception(error)
            begin, self.begin_pending, self.dirty = self.begin_pending, None, True
            deferred, self.deferred = self.deferred, []
            try:
                await_only(self._connection._execute(_begin_after, self._connection._conn, deferred, begin))
            except Exception as error:
                self._handle_exception(error)
        if server_side:
            self.dirty = True
        return super().cursor(server_side)

    def commit(self) -> None:
        self.begin_pending = None
        deferred, self.deferred = self.deferred, []
        try:
            if deferred:
                try:  # the transaction's last writes and its COMMIT in one trip
                    await_only(self._connection._execute(_commit_after, self._connection._conn, deferred))
                except Exception as error:
                    self.dirty = True  # the caller rolls back
                    self._handle_exception(error)
                self.dirty = False
            elif self.dirty:
                super().commit()
                self.dirty = False
        finally:
            # A failed COMMIT leaves SQLite's lock to the caller's rollback: a writer let in meanwhile waits for
            # it in the busy handler, as writers of other processes do.
            self.end_turn()

    def rollback(self) -> None:
        self.begin_pending = None
        self.deferred = []
        try:
            if self.dirty:
                super().rollback()
                self.dirty = False
        finally:
            self.end_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.end_turn()

    def terminate(self) -> None:
        try:
            super().terminate()
        finally:
            self.end_turn()


def _execute(target: sqlite3.Cursor | sqlite3.Connection, many: bool, operation: str, parameters: Any) -> None:
    """One statement as SQLAlchemy handed it over (executemany or not, with or without parameters)."""
    if many:
        target.executemany(operation, parameters)
    elif parameters is None:
        target.execute(operation)
    else:
        target.execute(operation, parameters)


def _run_deferred(conn: sqlite3.Connection, deferred: list[Deferred]) -> None:
    for begin, many, operation, parameters in deferred:
        if begin is not None:
            conn.execute(begin)
        _execute(conn, many, operation, parameters)


def _begin_after(conn: sqlite3.Connection, deferred: list[Deferred], begin: str | None) -> None:
    _run_deferred(conn, deferred)
    if begin is not None:
        conn.execute(begin)


def _commit_after(conn: sqlite3.Connection, deferred: list[Deferred]) -> None:
    _run_deferred(conn, deferred)
    conn.commit()


@contextmanager
def deferred_writes(connection: Connection) -> Iterator[None]:
    """Writes on this connection in this block (without RETURNING) go to SQLite with its next trip, usually the
    COMMIT, instead of one trip each; an error surfaces there and fails the transaction as it would have here.

    Nothing in the block may read what it writes or count the rows it changed (flush ORM changes first: the unit
    of work checks its UPDATEs' row counts). On other databases it changes nothing.
    """
    dbapi_connection = connection.connection.dbapi_connection
    if not isinstance(dbapi_connection, OneTripConnection) or dbapi_connection.deferring:
        yield
        return
    dbapi_connection.deferring = True
    try:
        yield
    finally:
        dbapi_connection.deferring = False


class OneTripDbapi(AsyncAdapt_aiosqlite_dbapi):
    """The DBAPI module SQLAlchemy's aiosqlite dialect is given (`create_engine(module=...)`)."""

    def connect(self, *arg: Any, **kw: Any) -> OneTripConnection:
        stock = super().connect(*arg, **kw)
        return OneTripConnection(self, stock._connection, _shared_file(arg[0] if arg else kw.get("database")))


def dbapi() -> OneTripDbapi:
    return OneTripDbapi(aiosqlite, sqlite3)
