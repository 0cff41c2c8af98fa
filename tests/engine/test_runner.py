"""The due-queue: leases, retries, dead workers, and concurrent claimers."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.config import Settings
from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.jobs import enqueue
from tidings.db.models import Job
from tidings.db.queue import claim
from tidings.engine import registry
from tidings.engine.context import EngineContext
from tidings.engine.runner import Runner
from tidings.runtime import providers_for
from tidings.tenancy.service import NewAccount

RAN: list[tuple[str, int]] = []


@registry.job("test.record")
async def _record(ctx: EngineContext, session: AsyncSession, job: Job) -> None:
    RAN.append((ctx.worker, job.payload["n"]))


@registry.job("test.flaky")
async def _flaky(ctx: EngineContext, session: AsyncSession, job: Job) -> None:
    if job.attempts < 3:
        raise RuntimeError("provider down")
    RAN.append((ctx.worker, job.payload["n"]))


@registry.job("test.batched", batched=True)
async def _batched(ctx: EngineContext, session: AsyncSession, job: Job) -> None:
    # What the handler writes must commit or roll back with the batch: it counts the jobs it saw.
    await enqueue(session, "test.seen", {"n": job.payload["n"]})
    if job.payload.get("fail"):
        raise RuntimeError("this one fails")
    RAN.append((ctx.worker, job.payload["n"]))


def _ctx(db: Database, settings: Settings, worker: str) -> EngineContext:
    return EngineContext(db, settings, providers_for(settings), worker)


async def test_a_dead_workers_job_is_taken_over(db: Database, settings: Settings, clock: ManualClock) -> None:
    RAN.clear()
    async with db.transaction() as s:
        await enqueue(s, "test.record", {"n": 1})
    # Worker A claims the job and dies before finishing it.
    async with db.transaction() as s:
        taken = await claim(s, Job, worker="A", limit=10, lease_seconds=60)
    assert len(taken) == 1
    b = Runner(_ctx(db, settings, "B"))
    assert await b.run_jobs() == 0, "the lease still holds"
    clock.advance(61)
    assert await b.run_jobs() == 1
    assert RAN == [("B", 1)]
    async with db.sessions() as s:
        job = (await s.execute(select(Job))).scalar_one()
    assert job.status == "done" and job.attempts == 2


async def test_failures_retry_with_backoff_then_succeed(db: Database, settings: Settings, clock: ManualClock) -> None:
    RAN.clear()
    async with db.transaction() as s:
        await enqueue(s, "test.flaky", {"n": 7})
    runner = Runner(_ctx(db, settings, "W"))
    assert await runner.run_jobs() == 1
    assert RAN == []
    assert await runner.run_jobs() == 0, "not due until the backoff has passed"
    clock.advance(timedelta(minutes=5))
    await runner.run_jobs()
    clock.advance(timedelta(minutes=5))
    await runner.run_jobs()
    assert RAN == [("W", 7)]


async def test_a_job_that_keeps_failing_ends_failed(db: Database, settings: Settings, clock: ManualClock) -> None:
    async with db.transaction() as s:
        await enqueue(s, "no.such.handler", max_attempts=2)
    runner = Runner(_ctx(db, settings, "W"))
    for _ in range(4):
        await runner.run_jobs()
        clock.advance(timedelta(hours=2))
    async with db.sessions() as s:
        job = (await s.execute(select(Job))).scalar_one()
    assert job.status == "failed" and "no handler" in (job.last_error or "")


async def test_concurrent_claimers_never_run_a_job_twice(db: Database, settings: Settings, backend: str) -> None:
    RAN.clear()
    total = 300
    async with db.transaction() as s:
        for n in range(total):
            await enqueue(s, "test.record", {"n": n})
    # Separate engines, as separate worker processes would have.
    workers = [Database(settings.database_url) for _ in range(4)]
    try:
        async def drain(i: int, wdb: Database) -> None:
            runner = Runner(_ctx(wdb, settings.model_copy(update={"worker_batch": 7}), f"w{i}"))
            # Yield between batches so that the four workers interleave.
            while await runner.run_jobs():  # noqa: ASYNC110
                await asyncio.sleep(0)

        await asyncio.gather(*(drain(i, w) for i, w in enumerate(workers)))
    finally:
        for w in workers:
            await w.dispose()
    numbers = [n for _, n in RAN]
    assert sorted(numbers) == list(range(total)), "every job ran exactly once"
    if backend == "postgresql":
        assert len({w for w, _ in RAN}) > 1, "the work was shared between workers"
    async with db.sessions() as s:
        done = (await s.execute(select(func.count()).select_from(Job).where(Job.status == "done"))).scalar_one()
    assert done == total


async def test_registered_loops_run_each_tick(db: Database, settings: Settings) -> None:
    calls: list[str] = []

    @registry.loop("test.loop")
    async def _loop(ctx: EngineContext) -> int:
        calls.append(ctx.worker)
        return 0

    try:
        await Runner(_ctx(db, settings, "L")).tick()
    finally:
        registry.LOOPS.pop("test.loop")
    assert calls == ["L"]


CALLS: list[tuple[int, int]] = []
GATE: dict[str, asyncio.Event] = {}


@registry.io_job("test.call", ordered_by="message_id")
async def _call(ctx: EngineContext, job: Job) -> None:
    """A network-bound job: waits on the outside world (GATE) and records the call."""
    if "open" in GATE:
        await GATE["open"].wait()
    CALLS.append((job.payload["message_id"], job.payload["n"]))


async def test_one_messages_network_jobs_run_in_order_and_others_beside_them(
        db: Database, settings: Settings) -> None:
    CALLS.clear()
    GATE.clear()
    async with db.transaction() as s:
        for message_id, n in ((1, 1), (2, 1), (1, 2), (1, 3), (2, 2)):
            await enqueue(s, "test.call", {"message_id": message_id, "n": n})
    await Runner(_ctx(db, settings, "A")).run_until_idle()
    assert [n for m, n in CALLS if m == 1] == [1, 2, 3], "one message's calls keep their order"
    assert [n for m, n in CALLS if m == 2] == [1, 2]
    async with db.sessions() as s:
        assert set((await s.execute(select(Job.status))).scalars()) == {"done"}


async def test_a_network_job_waiting_past_its_lease_is_not_claimed_again(
        db: Database, settings: Settings, clock: ManualClock) -> None:
    CALLS.clear()
    GATE.clear()
    GATE["open"] = asyncio.Event()
    async with db.transaction() as s:
        await enqueue(s, "test.call", {"message_id": 7, "n": 1})
    runner = Runner(_ctx(db, settings, "A"))
    assert await runner.run_jobs() == 1
    await asyncio.sleep(0)  # the call starts and waits on its receiver
    clock.advance(settings.worker_lease_seconds + 1)
    assert await runner.run_jobs() == 0, "still in flight here: not claimed a second time"
    GATE["open"].set()
    await runner.settle()
    assert CALLS == [(7, 1)]
    GATE.clear()


async def test_network_jobs_in_flight_are_bounded_by_the_io_concurrency(db: Database, settings: Settings) -> None:
    CALLS.clear()
    GATE.clear()
    GATE["open"] = asyncio.Event()
    async with db.transaction() as s:
        for n in range(12):
            await enqueue(s, "test.call", {"message_id": 100 + n, "n": n})
    runner = Runner(_ctx(db, settings.model_copy(update={"worker_io_concurrency": 5}), "A"))
    assert await runner.run_jobs() == 5, "no more claimed than may wait on their receivers at once"
    assert await runner.run_jobs() == 0, "every slot is taken while the receivers have not answered"
    GATE["open"].set()
    await runner.settle()
    await runner.run_until_idle()
    assert sorted(n for _, n in CALLS) == list(range(12))
    GATE.clear()


async def test_network_jobs_finish_while_the_dispatcher_is_still_sending(db: Database, settings: Settings) -> None:
    """run_forever gives the dispatcher its own cycle: a batch that takes long does not hold up other jobs."""
    CALLS.clear()
    GATE.clear()
    sending = asyncio.Event()
    release = asyncio.Event()

    async def _slow_dispatch(ctx: EngineContext) -> int:  # stands in for a long batch of sends
        sending.set()
        await release.wait()
        return 0

    original = registry.LOOPS.get("dispatch")
    registry.LOOPS["dispatch"] = _slow_dispatch
    runner = Runner(_ctx(db, settings, "A"))
    task = asyncio.create_task(runner.run_forever())
    try:
        await asyncio.wait_for(sending.wait(), 5)
        async with db.transaction() as s:
            await enqueue(s, "test.call", {"message_id": 9, "n": 1})
        for _ in range(200):
            async with db.sessions() as s:
                status = (await s.execute(select(Job.status).where(Job.kind == "test.call"))).scalar_one()
            if status == "done":
                break
            await asyncio.sleep(0.05)
        assert CALLS == [(9, 1)] and status == "done", "the job ran and was recorded while the batch was sending"
        assert not release.is_set()
    finally:
        release.set()
        runner.stop()
        await asyncio.wait_for(task, 10)
        if original is not None:
            registry.LOOPS["dispatch"] = original


async def test_batched_jobs_share_a_transaction_and_a_failure_reruns_each_alone(db: Database,
                                                                              settings: Settings) -> None:
    RAN.clear()
    async with db.transaction() as s:
        for n in range(4):
            await enqueue(s, "test.batched", {"n": n, "fail": n == 2})
    runner = Runner(_ctx(db, settings, "W"))
    await runner.run_jobs()
    # The batch ran up to the failure and was rolled back (nothing of it kept: handlers only touch the
    # database), then each job ran again in its own transaction.
    assert RAN == [("W", 0), ("W", 1), ("W", 0), ("W", 1), ("W", 3)]
    async with db.sessions() as s:
        jobs = {j.payload["n"]: j for j in (await s.execute(select(Job).where(Job.kind == "test.batched"))).scalars()}
        seen = sorted(j.payload["n"] for j in (await s.execute(select(Job).where(Job.kind == "test.seen"))).scalars())
    assert [jobs[n].status for n in range(4)] == ["done", "done", "queued", "done"]
    assert jobs[2].last_error == "RuntimeError: this one fails" and jobs[2].attempts == 1
    assert seen == [0, 1, 3], "the failed batch left nothing behind; the failing job's own transaction neither"


async def test_batched_jobs_all_done_in_one_round(db: Database, settings: Settings) -> None:
    RAN.clear()
    async with db.transaction() as s:
        for n in range(5):
            await enqueue(s, "test.batched", {"n": n})
        await enqueue(s, "test.record", {"n": 99})
    runner = Runner(_ctx(db, settings, "W"))
    assert await runner.run_jobs() == 6
    assert sorted(RAN) == [("W", 0), ("W", 1), ("W", 2), ("W", 3), ("W", 4), ("W", 99)]
    async with db.sessions() as s:
        statuses = (await s.execute(select(Job.status).where(Job.kind.in_(("test.batched", "test.record"))))).scalars()
        assert set(statuses) == {"done"}


async def test_an_api_request_wakes_the_engine_of_its_process(settings: Settings, db: Database,
                                                              account: NewAccount) -> None:
    # The engine polls every 30 s here: the SMS goes out at once only because the request woke it, and its
    # delivery (a job the send queued) is recorded at once only because the busy dispatcher woke the jobs.
    from asgi_lifespan import LifespanManager

    from tidings.app import create_app
    from tidings.channels.registry import build_provider
    from tidings.db.models import Message

    from helpers import basic

    app = create_app(settings.model_copy(update={"worker_poll_seconds": 30.0}), engine=True)
    async with LifespanManager(app):
        app.state.providers.set("sms", build_provider("sms", "sandbox://?delivery=delivered"))
        await asyncio.sleep(0.2)  # the engine's first rounds found nothing: it is waiting out its poll
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://tidings.test") as client:
            r = await client.post("/api/rest/sms", headers=basic(account.username, account.api_password),
                                  json={"to": ["34666555444"], "from": "TIDINGS", "message": "Your code: 1234"})
        assert r.status_code == 202, r.text
        for _ in range(100):
            async with db.sessions() as s:
                delivered = (await s.execute(select(func.count()).select_from(Message)
                                             .where(Message.delivered_at.is_not(None)))).scalar()
            if delivered:
                break
            await asyncio.sleep(0.05)
        assert delivered == 1, "sent and delivered within 5 s, long before the next poll"


async def test_on_postgresql_an_api_without_engine_wakes_the_idle_workers(settings: Settings, db: Database,
                                                                         account: NewAccount, backend: str) -> None:
    # `serve --no-engine` and a worker polling every 30 s: the API's NOTIFY wakes the worker. Then its
    # listening connection is killed (as a database restart would): it listens again and the next SMS is woken too.
    if backend != "postgresql":
        return  # SQLite has one process: its API wakes its own engine (the test above)
    from asgi_lifespan import LifespanManager
    from sqlalchemy import text
    from structlog.testing import capture_logs

    from tidings.app import create_app
    from tidings.channels.registry import build_provider
    from tidings.db.models import Message
    from tidings.engine import wakeups

    from helpers import basic

    polling = settings.model_copy(update={"worker_poll_seconds": 30.0})
    worker = Runner(EngineContext(db, polling, providers_for(polling), "W"))
    worker.ctx.providers.set("sms", build_provider("sms", "sandbox://"))
    app = create_app(polling, engine=False)

    async def sent() -> int:
        async with db.sessions() as s:
            return int((await s.execute(select(func.count()).select_from(Message)
                                        .where(Message.sent_at.is_not(None)))).scalar_one())

    async def send_and_wait(client: httpx.AsyncClient, expected: int) -> None:
        r = await client.post("/api/rest/sms", headers=basic(account.username, account.api_password),
                              json={"to": ["34666555444"], "from": "TIDINGS", "message": "Your code: 1234"})
        assert r.status_code == 202, r.text
        for _ in range(100):
            if await sent() == expected:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("not sent within 5 s: the worker was not woken")

    with capture_logs() as logs:
        async with LifespanManager(app):
            task = asyncio.create_task(worker.run_forever())
            try:
                await asyncio.sleep(0.5)  # listening, and idle until its next poll
                transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
                async with httpx.AsyncClient(transport=transport, base_url="http://tidings.test") as client:
                    await send_and_wait(client, 1)
                    async with db.engine.connect() as conn:
                        killed = (await conn.execute(text(
                            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE :q"),
                            {"q": f'LISTEN "{wakeups.CHANNEL}"%'})).all()
                        await conn.commit()
                    assert killed, "the worker's listening connection was found"
                    for _ in range(100):
                        if any(e["event"] == "wake-ups received again" for e in logs):
                            break
                        await asyncio.sleep(0.05)
                    await send_and_wait(client, 2)
            finally:
                worker.stop()
                await asyncio.wait_for(task, 10)
                await worker.ctx.providers.close()
    events = [e["event"] for e in logs]
    assert "wake-ups not received, polling until the database answers again" in events
    assert "wake-ups received again" in events


def test_calls_in_flight_stay_within_half_the_open_files_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    import resource

    from tidings.engine import runner as runner_module

    monkeypatch.setattr(resource, "getrlimit", lambda _: (256, 4096))
    assert runner_module.io_slots(1024) == 128
    assert runner_module.io_slots(50) == 50
    monkeypatch.setattr(resource, "getrlimit", lambda _: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert runner_module.io_slots(1024) == 1024


def test_serve_and_worker_raise_their_open_files_limit() -> None:
    # In a process of its own, started with a service manager's usual soft limit.
    import subprocess
    import sys

    code = ("import resource\n"
            "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
            "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
            "from tidings.runtime import OPEN_FILES_WANTED, raise_open_files_limit\n"
            "raised = raise_open_files_limit()\n"
            "expected = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES_WANTED)\n"
            "assert raised == resource.getrlimit(resource.RLIMIT_NOFILE)[0] == expected, (raised, expected)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
