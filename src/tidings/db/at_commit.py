"""Work a transaction gathers in its session and writes in one go just before it commits.

Counters, charges and jobs accumulate message by message through a batch; each kind is written by a few
statements inside the committing transaction (so it commits or rolls back with the rest of it), and what
was gathered is dropped when the transaction rolls back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

from tidings.db.sqlite_driver import deferred_writes

T = TypeVar("T")


class Pending(Generic[T]):
    """One kind of gathered work, kept in `session.info[key]` and handed to `write` when the session commits.

    `shared`: the rows it writes are ones concurrent transactions also write (a campaign's counters, an account's
    balance). Those kinds are written after every other, so on PostgreSQL their row locks are held for the COMMIT
    only: written first, two workers' record transactions waited on each other for the rest of the other's writes.
    """

    _every: ClassVar[list[Pending[Any]]] = []  # in writing order; made at import, not changed after

    def __init__(self, key: str, empty: Callable[[], T], write: Callable[[Session, T], None], *,
                 shared: bool = False) -> None:
        self.key, self._empty, self._write, self.shared = key, empty, write, shared
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
    for pending in Pending._every:
        pending._before_commit(session)  # noqa: SLF001 - the class's own listener


@event.listens_for(Session, "after_rollback")
def _drop_every(session: Session) -> None:
    for pending in Pending._every:
        pending._drop(session)  # noqa: SLF001
