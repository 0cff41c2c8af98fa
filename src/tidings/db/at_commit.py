"""Work a transaction gathers in its session and writes in one go just before it commits.

Counters, charges and jobs accumulate message by message through a batch; each kind is written by a few
statements inside the committing transaction (so it commits or rolls back with the rest of it), and what
was gathered is dropped when the transaction rolls back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, NamedTuple, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from tidings.db.sqlite_driver import deferred_writes

T = TypeVar("T")


class SharedWrite(NamedTuple):
    """A shared kind's data-modifying statement on PostgreSQL: its text, each parameter written `{}`, in order."""

    sql: str
    params: tuple[Any, ...]


class Pending(Generic[T]):
    """One kind of gathered work, kept in `session.info[key]` and handed to `write` when the session commits.

    `shared`: the rows it writes are ones concurrent transactions also write (a campaign's counters, an account's
    balance). Those kinds are written after every other, so on PostgreSQL their row locks are held for the COMMIT
    only: written first, two workers' record transactions waited on each other for the rest of the other's writes.
    `together`: on PostgreSQL, a shared kind's writes as statements that go with every other shared kind's in one
    statement (one round trip), so those locks are held from that trip to the COMMIT (`_write_together`).
    """

    _every: ClassVar[list[Pending[Any]]] = []  # in writing order; made at import, not changed after

    def __init__(self, key: str, empty: Callable[[], T], write: Callable[[Session, T], None], *,
                 shared: bool = False, together: Callable[[T, Dialect], list[SharedWrite]] | None = None) -> None:
        if together is not None and not shared:
            raise ValueError("only a shared kind is written together")
        self.key, self._empty, self._write, self.shared, self.together = key, empty, write, shared, together
        Pending._every.append(self)
        Pending._every.sort(key=lambda pending: pending.shared)  # stable: otherwise in the order they were made

    def of(self, session: Session) -> T:
        """What the session has gathered so far (empty at first); add to it."""
        gathered: T | None = session.info.get(self.key)
        if gathered is None:
            gathered = session.info[self.key] = self._empty()
        return gathered

    def _before_commit(self, session: Session) -> None:
        gathered: T | None = session.info.pop(self.key, None)
        if gathered:
            session.flush()  # what the unit of work writes checks its row counts: not deferred
            with deferred_writes(session.connection()):  # on SQLite, written with the COMMIT's trip to its thread
                self._write(session, gathered)

    def _drop(self, session: Session) -> None:
        session.info.pop(self.key, None)


@event.listens_for(Session, "before_commit")
def _write_every(session: Session) -> None:
    together: list[SharedWrite] = []
    for pending in Pending._every:
        if pending.together is not None and session.info.get(pending.key):
            dialect = session.connection().dialect
            if dialect.name == "postgresql":
                together += pending.together(session.info.pop(pending.key), dialect)
                continue
        pending._before_commit(session)  # noqa: SLF001 - the class's own listener
    if together:
        session.flush()
        _write_together(session, together)


def _write_together(session: Session, writes: list[SharedWrite]) -> None:
    """The shared kinds' statements in one (each a data-modifying WITH query), run in their order.

    Two workers recording sends of one account wait on each other's locks of its balance and counters: three
    statements, each a turn of a busy event loop, held them before the COMMIT; now one. The main query reads each
    WITH query in turn, so they run, and lock their rows, in the order written, as the statements did.
    """
    statements: list[str] = []
    values: list[Any] = []
    for write in writes:
        statements.append(write.sql.format(*(f"${len(values) + i}" for i in range(1, len(write.params) + 1))))
        values += write.params
    sql = statements[0] if len(statements) == 1 else (
        "WITH " + ", ".join(f"w{i} AS ({statement} RETURNING 1)" for i, statement in enumerate(statements))
        + " SELECT " + ", ".join(f"(SELECT count(*) FROM w{i})" for i in range(len(statements))))
    session.connection().exec_driver_sql(sql, tuple(values))


@event.listens_for(Session, "after_rollback")
def _drop_every(session: Session) -> None:
    for pending in Pending._every:
        pending._drop(session)  # noqa: SLF001
