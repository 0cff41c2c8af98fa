"""The job runner: claims due jobs under a lease, runs their handlers, records the outcome."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from contextlib import nullcontext
from datetime import timedelta
from typing import Any

import structlog
from sqlalchemy import ColumnElement, bindparam, literal_column, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.core import clock
from tidings.db.base import one_of
from tidings.db.models import Job
from tidings.db.models.job import LIVE
from tidings.db.queue import claim
from tidings.engine import (
    plugins,  # noqa: F401 - registers loops, jobs and hooks
    wakeups,
)
from tidings.engine.context import EngineContext
from tidings.engine.health import DATABASE, Backoff, is_unavailable, sleep_unless
from tidings.engine.registry import (
    AT_STOP,
    BATCH_SCOPES,
    BATCHED,
    HANDLERS,
    IO_HANDLERS,
    IO_ORDER,
    IO_PREFETCH,
    LOOPS,
    RetryLater,
    prefetching,
)

log = structlog.get_logger("tidings.engine")
# A claimed job, if still ours; built once, not per job.
_OWN_JOB = select(Job).where(Job.id == bindparam("id"), Job.locked_by == bindparam("worker"))
_OWN_JOBS = select(Job).where(one_of(Job.id), Job.locked_by == bindparam("worker"))
# The jobs the claims may take: the claim index's own condition, as written (a bound parameter would hide it
# from the planners). Also beside `status = 'running'`: SQLite uses a partial index only for a query that
# repeats its condition.
_LIVE: ColumnElement[bool] = literal_column(LIVE)
DISPATCH = "dispatch"
# Longest wait between two attempts to reach a database that is down.
OUTAGE_BACKOFF_CAP = 30.0
# The longest rest of the loops' and jobs' cycle after a busy round (`Runner._cycle`). On SQLite every round is
# a turn at the write lock (`db.sqlite_driver.WriteTurns`): rounds back to back in small transactions cost the
# SMS path 9 % and notifications 20 % (docs/performance.md, session 11).
TICK_REST_SECONDS = 0.1
# At most this many last rounds of an `at_stop` loop at shutdown.
LAST_ROUNDS = 5


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def io_slots(wanted: int) -> int:
    """Network-bound jobs in flight at once: `wanted`, within half of the process's open-files limit (each holds
    a socket; the rest is for the database, providers and the API)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return min(wanted, max(8, int(soft) // 2))


def backoff(attempt: int) -> float:
    """Seconds before retry n: 30 s, 1 min, 2 min, ... capped at one hour."""
    return float(min(3600, 30 * 2 ** max(0, attempt - 1)))


class Runner:
    """One worker: `tick()` does one round of every loop and of the job queue."""

    def __init__(self, ctx: EngineContext) -> None:
        self.ctx = ctx
        ctx.wake_loops = self.wake_loops
        self._stop = asyncio.Event()
        self._io: set[asyncio.Task[None]] = set()
        self._in_flight: set[int] = set()  # network-bound jobs claimed and not finished: never claimed twice
        self._done: list[int] = []  # network-bound jobs that succeeded, marked done by the next round
        self._wakes: list[asyncio.Event] = []  # one per cycle: `wake()` ends its idle wait
        self._loop_wakes: list[asyncio.Event] = []  # the loops' cycle's (`wake_loops()`)
        self.io_slots = io_slots(ctx.settings.worker_io_concurrency)

    async def run_jobs(self, limit: int | None = None) -> int:
        """Run the due jobs; network-bound ones are started in the background, as many as have a free slot."""
        settings = self.ctx.settings
        io_kinds = sorted(IO_HANDLERS)
        free = self.io_slots - len(self._io)
        async with self.ctx.db.transaction() as session:
            completed = await self._complete_io(session)
            jobs = await claim(session, Job, worker=self.ctx.worker, limit=limit or settings.worker_batch,
                               lease_seconds=settings.worker_lease_seconds,
                               where=[_LIVE, Job.kind.not_in(io_kinds)])
            claimed = [(j.id, j.kind) for j in jobs]
            # Claimed only when a slot is free, so a job never waits out its lease before it starts.
            io_jobs = [] if free <= 0 else await claim(
                session, Job, worker=self.ctx.worker, limit=free, lease_seconds=settings.worker_lease_seconds,
                where=[_LIVE, Job.kind.in_(io_kinds), Job.id.not_in(sorted(self._in_flight))])
            self._in_flight.update(j.id for j in io_jobs)
            lanes: dict[tuple[str, object], list[Job]] = {}
            for j in io_jobs:  # claims come in (due_at, id) order
                field = IO_ORDER.get(j.kind)
                lane = (j.kind, (j.payload or {}).get(field) if field else j.id)
                lanes.setdefault(lane, []).append(j)
            loaded: dict[int, Any] = {}
            for kind in {j.kind for j in io_jobs} & set(IO_PREFETCH):
                loaded.update(await IO_PREFETCH[kind](session, [j for j in io_jobs if j.kind == kind]))
            session.expunge_all()  # the claimed rows go to the lanes as they are: no second load per job
        self._completed(completed)
        await self._run_claimed(claimed)
        claimed_at = time.monotonic()
        for lane_jobs in lanes.values():
            task = asyncio.create_task(self._run_lane(lane_jobs, claimed_at, loaded))
            self._io.add(task)
            task.add_done_callback(self._io.discard)
        return len(claimed) + len(io_jobs)

    async def _complete_io(self, session: AsyncSession) -> list[int]:
        """Mark the network-bound jobs that succeeded since the last round done: one UPDATE for all of them.

        Returns their ids for `_completed` once the transaction has committed (if it fails, they stay
        to be marked by the next round).
        """
        done = list(self._done)
        if done:
            await session.execute(update(Job).where(Job.id.in_(done), Job.locked_by == self.ctx.worker).values(
                status="done", finished_at=clock.now(), locked_until=None, last_error=None))
        return done

    def _completed(self, done: list[int]) -> None:
        del self._done[:len(done)]  # jobs that succeeded meanwhile were appended after these
        self._in_flight.difference_update(done)

    async def _run_lane(self, jobs: list[Job], claimed_at: float, loaded: dict[int, Any]) -> None:
        for job in jobs:
            succeeded = False
            try:
                with prefetching(loaded.get(job.id)):
                    succeeded = await self._run_io(job, claimed_at)
            except Exception as exc:  # noqa: BLE001 - the database went away: the lease lapses, the job runs again
                if is_unavailable(exc):
                    self.ctx.health.down(DATABASE, exc)
                else:
                    log.error("background job crashed", job_id=job.id, kind=job.kind, error=type(exc).__name__)
            if succeeded:
                self._done.append(job.id)  # still in flight until the next round marks it done
            else:
                self._in_flight.discard(job.id)

    async def settle(self) -> None:
        """Wait for the network-bound jobs in flight and mark them done (tests, one-shot runs and shutdown)."""
        while self._io:
            await asyncio.gather(*list(self._io), return_exceptions=True)
        if self._done:
            async with self.ctx.db.transaction() as session:
                completed = await self._complete_io(session)
            self._completed(completed)

    async def _run_claimed(self, claimed: list[tuple[int, str]]) -> None:
        """Run claimed jobs in claim order; consecutive jobs of a batched kind share a transaction."""
        i = 0
        while i < len(claimed):
            kind = claimed[i][1]
            end = i + 1
            if kind in BATCHED:
                while end < len(claimed) and claimed[end][1] == kind:
                    end += 1
            ids = [job_id for job_id, _ in claimed[i:end]]
            if len(ids) == 1 or not await self._run_batch(ids, kind):
                for job_id in ids:
                    await self._run_one(job_id, kind)
            i = end

    async def _run_batch(self, job_ids: list[int], kind: str) -> bool:
        """Jobs of a batched kind in one transaction; False (nothing kept) when one of them failed."""
        handler = HANDLERS[kind]
        try:
            async with self.ctx.db.transaction() as session:
                rows = (await session.execute(_OWN_JOBS, {"ids": job_ids, "worker": self.ctx.worker})).scalars()
                found = {job.id: job for job in rows}
                scope = BATCH_SCOPES.get(kind)
                async with scope(session, list(found.values())) if scope is not None else nullcontext():
                    for job_id in job_ids:
                        job = found.get(job_id)
                        if job is None:
                            continue  # our lease ran out and another worker took the job
                        await handler(self.ctx, session, job)
                        job.status, job.finished_at, job.locked_until, job.last_error = "done", clock.now(), None, None
            return True
        except Exception as exc:  # noqa: BLE001 - each job runs again on its own, which records its failure
            if isinstance(exc, SQLAlchemyError) and is_unavailable(exc):
                raise
            log.info("batched jobs run again one by one", kind=kind, jobs=len(job_ids), error=type(exc).__name__)
            return False

    async def _run_one(self, job_id: int, kind: str) -> None:
        error: str | None = None
        retry_in: float | None = None
        try:
            await self._attempt(job_id, kind)
            return
        except RetryLater as exc:
            retry_in, error = exc.seconds, str(exc) or "retry later"
        except Exception as exc:  # noqa: BLE001 - a failing job must never stop the runner
            if isinstance(exc, SQLAlchemyError) and is_unavailable(exc):
                raise  # the database, not the job, failed: no attempt is counted; its lease lapses and it runs again
            error = f"{type(exc).__name__}: {exc}"
            log.warning("job failed", job_id=job_id, kind=kind, error=error)
        await self._failed(job_id, error, retry_in)

    async def _attempt(self, job_id: int, kind: str) -> None:
        handler = HANDLERS.get(kind)
        if handler is None:
            raise LookupError(f"no handler for job kind {kind}")
        async with self.ctx.db.transaction() as session:
            job = (await session.execute(_OWN_JOB, {"id": job_id, "worker": self.ctx.worker})).scalar_one_or_none()
            if job is None:
                return  # our lease ran out and another worker took the job
            await handler(self.ctx, session, job)
            job.status, job.finished_at, job.locked_until, job.last_error = "done", clock.now(), None, None

    async def _run_io(self, job: Job, claimed_at: float) -> bool:
        """A network-bound job: its handler runs outside any transaction; True when it succeeded.

        Success is recorded by the next round (`_complete_io`), with every other job's. A job that waited
        long in its lane has its lease renewed first, unless another worker has taken it meanwhile.
        """
        lease = self.ctx.settings.worker_lease_seconds
        if time.monotonic() - claimed_at > lease / 3:
            async with self.ctx.db.transaction() as session:
                renewed = await session.execute(
                    update(Job).where(Job.id == job.id, Job.locked_by == self.ctx.worker, Job.status == "running")
                    .values(locked_until=clock.now() + timedelta(seconds=lease))
                    .execution_options(synchronize_session=False))
                if not renewed.rowcount:  # type: ignore[attr-defined]
                    return False
        error: str | None = None
        retry_in: float | None = None
        try:
            await IO_HANDLERS[job.kind](self.ctx, job)
            return True
        except RetryLater as exc:
            retry_in, error = exc.seconds, str(exc) or "retry later"
        except Exception as exc:  # noqa: BLE001 - a failing job must never stop the runner
            error = f"{type(exc).__name__}: {exc}"
            log.warning("job failed", job_id=job.id, kind=job.kind, error=error)
        await self._failed(job.id, error, retry_in)
        return False

    async def _failed(self, job_id: int, error: str, retry_in: float | None) -> None:
        """Queue the job again after a backoff (or when it asked), or mark it failed after its last attempt."""
        async with self.ctx.db.transaction() as session:
            job = await session.get(Job, job_id)
            if job is None or job.locked_by != self.ctx.worker:
                return
            job.last_error, job.locked_until = error, None
            if retry_in is not None:
                job.status, job.due_at = "queued", clock.now() + timedelta(seconds=retry_in)
                job.attempts -= 1
            elif job.attempts >= job.max_attempts:
                job.status, job.finished_at, job.due_at = "failed", clock.now(), None
            else:
                job.status, job.due_at = "queued", clock.now() + timedelta(seconds=backoff(job.attempts))

    async def tick(self, *, skip: tuple[str, ...] = ()) -> int:
        """One round: every registered loop (but those in `skip`), then due jobs; returns how much was done."""
        done = 0
        for name, fn in list(LOOPS.items()):
            if name in skip:
                continue
            try:
                done += await fn(self.ctx)
            except Exception as exc:  # noqa: BLE001 - one broken loop must not stop the others
                if is_unavailable(exc):
                    raise  # every loop needs the database: the caller backs off
                log.error("engine loop failed", loop=name, error=f"{type(exc).__name__}: {exc}")
        done += await self.run_jobs()
        return done

    async def run_until_idle(self, max_rounds: int = 100) -> int:
        """Tick until nothing is due (tests and one-shot runs)."""
        total = 0
        for _ in range(max_rounds):
            n = await self.tick()
            await self.settle()
            total += n
            if n == 0:
                break
        return total

    async def run_forever(self) -> None:
        """Run until stopped; an unreachable database (or any other failure) is waited out, never fatal.

        The dispatcher has its own cycle beside the round of every other loop and the jobs: a batch
        takes seconds to send, and receipts, notifications and schedules must not wait for it.
        """
        health = self.ctx.health
        health.worker, health.engine_state = self.ctx.worker, "starting"
        log.info("engine started", worker=self.ctx.worker)
        cycles = [self._cycle(lambda: self.tick(skip=(DISPATCH,)), rest=TICK_REST_SECONDS, loops=True)]
        if DISPATCH in LOOPS:
            cycles.append(self._cycle(lambda: LOOPS[DISPATCH](self.ctx)))
        if not self.ctx.db.sqlite:
            # Other processes (the API of `serve --no-engine`) NOTIFY when they queue work: no poll to wait out.
            cycles.append(wakeups.listen(self.ctx.db, self.wake, self._stop))
        await asyncio.gather(*cycles)
        await self._last_rounds()
        await self.settle()  # each call is bounded by its HTTP timeout
        health.engine_state = "stopped"
        log.info("engine stopped", worker=self.ctx.worker)

    async def _last_rounds(self) -> None:
        """The `at_stop` loops' last rounds, the dispatcher stopped: what they hold in memory goes to the database
        (a few rounds at most, in case more keeps arriving; an unreachable database loses it, and says so)."""
        for name in sorted(AT_STOP):
            try:
                for _ in range(LAST_ROUNDS):
                    if not await LOOPS[name](self.ctx):
                        break
            except Exception as exc:  # noqa: BLE001 - shutting down: say what was lost, then go on
                log.warning("engine loop's last round failed at shutdown", loop=name,
                            error=f"{type(exc).__name__}: {exc}")

    async def _cycle(self, round_: Callable[[], Awaitable[int]], rest: float = 0.0, loops: bool = False) -> None:
        """Repeat one round until stopped, idle for the poll interval when it found nothing to do.

        After a busy round it rests as long as the round took, at most `rest` seconds: under load the next
        round then takes what gathered meanwhile in one transaction (receipts, job rounds), where rounds back to
        back would each write a handful in a transaction of its own; a round for one message rests milliseconds.
        """
        health = self.ctx.health
        backoff = Backoff(first=max(0.2, self.ctx.settings.worker_poll_seconds), cap=OUTAGE_BACKOFF_CAP)
        woken = asyncio.Event()
        self._wakes.append(woken)
        if loops:
            self._loop_wakes.append(woken)
        while not self._stop.is_set():
            woken.clear()  # work committed from now on is seen by this round or wakes the next
            started = time.monotonic()
            try:
                busy = await round_()
            except Exception as exc:  # noqa: BLE001 - a worker that exits stops sending while the API accepts
                health.engine_state = "degraded"
                health.down(DATABASE if is_unavailable(exc) else "engine", exc)
                await sleep_unless(self._stop, backoff.next())
                continue
            health.up(DATABASE)
            health.up("engine")
            health.ticked()
            backoff.reset()
            if busy:
                # What this round did may have queued work for the other cycle (a sent message's events and
                # notifications, a job's messages): it looks now rather than at its next poll.
                for other in self._wakes:
                    if other is not woken:
                        other.set()
                pause = min(rest, time.monotonic() - started)
                if pause > 0:
                    await sleep_unless(self._stop, pause)
            else:
                await self._idle(woken)

    async def _idle(self, woken: asyncio.Event) -> None:
        """Wait for the poll interval, or less: until a network-bound job ends (its slot may take a due one)
        or `wake()` is called."""
        if woken.is_set():
            return
        waits = [asyncio.ensure_future(self._stop.wait()), asyncio.ensure_future(woken.wait())]
        try:
            await asyncio.wait([*waits, *self._io], timeout=self.ctx.settings.worker_poll_seconds,
                               return_when=asyncio.FIRST_COMPLETED)
        finally:
            for wait in waits:
                wait.cancel()

    def wake(self) -> None:
        """Look for work now rather than at the next poll: the API of this process has just queued some."""
        for woken in self._wakes:
            woken.set()

    def wake_loops(self) -> None:
        """Run the loops' round now (the receipts the dispatcher held), without a claim round of the dispatcher."""
        for woken in self._loop_wakes:
            woken.set()

    def stop(self) -> None:
        self._stop.set()


async def release_worker(ctx: EngineContext) -> None:
    """Give back this worker's leases at shutdown so others need not wait for them to expire."""
    try:
        async with ctx.db.transaction() as session:
            await session.execute(update(Job).where(Job.locked_by == ctx.worker, Job.status == "running", _LIVE)
                                  .values(locked_until=None, status="queued"))
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        log.warning("leases not released (the database is unavailable); they lapse by themselves",
                    worker=ctx.worker)
