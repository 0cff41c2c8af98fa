"""Job handlers by kind, and the periodic loops later capabilities add to the runner."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, contextmanager
from contextvars import ContextVar
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from tidings.db.models import Job
from tidings.engine.context import EngineContext

JobHandler = Callable[[EngineContext, AsyncSession, Job], Awaitable[None]]
# A handler that waits on the network gets the job detached and opens its own short transactions.
IoJobHandler = Callable[[EngineContext, Job], Awaitable[None]]
# Loads, in the claim's transaction, what a round's jobs of one kind need: {job id: rows}, one query
# for all of them instead of reads per job; the handler gets its entry from `prefetched()`.
IoPrefetch = Callable[[AsyncSession, list[Job]], Awaitable[dict[int, Any]]]
# Wraps a batch's handlers in its transaction: loads the rows they will read (one query for all instead of
# one per job; held while the batch runs, so handlers find them in the session's identity map) and may
# open what the batch shares (one INSERT of all its events).
BatchScope = Callable[[AsyncSession, list[Job]], AbstractAsyncContextManager[object]]
# A loop does one round of its work and says how many items it handled.
Loop = Callable[[EngineContext], Awaitable[int]]

HANDLERS: dict[str, JobHandler] = {}
IO_HANDLERS: dict[str, IoJobHandler] = {}
# The payload field whose jobs of one claim run one after another, in their order (e.g. one message's events).
IO_ORDER: dict[str, str] = {}
IO_PREFETCH: dict[str, IoPrefetch] = {}
_PREFETCHED: ContextVar[Any] = ContextVar("tidings_io_prefetched", default=None)
LOOPS: dict[str, Loop] = {}
# Loops that hold in memory what exists nowhere else (receipts already answered): one last round at shutdown.
AT_STOP: set[str] = set()


# Kinds whose due jobs of one claim share one transaction (handled in claim order).
BATCHED: set[str] = set()
BATCH_SCOPES: dict[str, BatchScope] = {}


def job(kind: str, *, batched: bool = False,
        scope: BatchScope | None = None) -> Callable[[JobHandler], JobHandler]:
    """Register the handler of a job kind; it runs inside the job's transaction.

    `batched`: the claimed jobs of this kind run one after another in one transaction (a transaction's
    fixed cost is most of a small job's); if any of them fails, that transaction is rolled back and each
    job runs again in its own, as unbatched jobs do. For handlers that only touch the database.
    `scope` (batched kinds): wraps a batch's handlers (see BatchScope).
    """

    def decorate(fn: JobHandler) -> JobHandler:
        HANDLERS[kind] = fn
        if batched:
            BATCHED.add(kind)
            if scope is not None:
                BATCH_SCOPES[kind] = scope
        return fn

    return decorate


def io_job(kind: str, *, ordered_by: str | None = None,
           prefetch: IoPrefetch | None = None) -> Callable[[IoJobHandler], IoJobHandler]:
    """Register a handler that calls out over the network (webhooks): it runs outside any transaction.

    On SQLite every transaction holds the write lock, so a slow receiver must not be waited on inside
    one; these jobs also run concurrently, so one slow receiver does not hold up the queue.
    """

    def decorate(fn: IoJobHandler) -> IoJobHandler:
        IO_HANDLERS[kind] = fn
        if ordered_by is not None:
            IO_ORDER[kind] = ordered_by
        if prefetch is not None:
            IO_PREFETCH[kind] = prefetch
        return fn

    return decorate


def prefetched() -> Any:
    """What the kind's prefetch loaded for the job being handled; None when it was not (then read it)."""
    return _PREFETCHED.get()


@contextmanager
def prefetching(value: Any) -> Iterator[None]:
    """Make `value` what `prefetched()` answers while the runner handles one job."""
    token = _PREFETCHED.set(value)
    try:
        yield
    finally:
        _PREFETCHED.reset(token)


def loop(name: str, *, at_stop: bool = False) -> Callable[[Loop], Loop]:
    """Register a loop that every runner tick calls (dispatcher, scheduler, poller...); `at_stop`: also once more
    when the runner stops, after the other loops."""

    def decorate(fn: Loop) -> Loop:
        LOOPS[name] = fn
        if at_stop:
            AT_STOP.add(name)
        return fn

    return decorate


class RetryLater(Exception):
    """Raised by a handler that wants to run again later without counting a failure."""

    def __init__(self, seconds: float, reason: str = "") -> None:
        super().__init__(reason)
        self.seconds = seconds
