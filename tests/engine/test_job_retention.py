"""Finished jobs are deleted after their retention; live and recent ones stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from tidings.config import Settings
from tidings.core.clock import ManualClock
from tidings.db.engine import Database
from tidings.db.jobs import enqueue
from tidings.db.models import Job
from tidings.engine import maintenance
from tidings.engine.context import EngineContext
from tidings.engine.runner import Runner
from tidings.runtime import providers_for


def _runner(db: Database, settings: Settings) -> Runner:
    return Runner(EngineContext(db, settings, providers_for(settings), "W"))


async def _jobs(db: Database) -> dict[str, str]:
    async with db.sessions() as s:
        return {job.payload["name"]: job.status for job in (await s.execute(select(Job))).scalars()}


async def _queue(db: Database, *names: str, kind: str = "test.retention", later: timedelta | None = None) -> None:
    async with db.transaction() as s:
        for name in names:
            await enqueue(s, kind, {"name": name}, max_attempts=1,
                          due_at=None if later is None else maintenance.clock.now() + later)


@pytest.fixture(autouse=True)
def _sweep_due(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maintenance, "_swept", {})  # as at a worker's start: the first round sweeps


async def test_jobs_finished_longer_ago_than_the_retention_are_deleted(db: Database, settings: Settings,
                                                                       clock: ManualClock,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from tidings.engine import registry

    async def noop(ctx: EngineContext, session: object, job: Job) -> None:
        return None

    monkeypatch.setitem(registry.HANDLERS, "test.retention", noop)
    runner = _runner(db, settings)
    await _queue(db, "old done")
    await _queue(db, "old failed", kind="test.no_such_handler")
    await runner.run_jobs()
    await _queue(db, "waiting a month", later=timedelta(days=30))
    clock.advance(timedelta(days=6))
    await _queue(db, "done six days later")
    await runner.run_jobs()
    clock.advance(timedelta(days=1, minutes=1))  # the first two finished 7 days and a minute ago
    await _queue(db, "queued now")
    assert await maintenance.sweep_jobs(runner.ctx) == 2
    assert await _jobs(db) == {"done six days later": "done", "waiting a month": "queued", "queued now": "queued"}
    assert await maintenance.sweep_jobs(runner.ctx) == 0, "once an hour"


async def test_a_large_sweep_goes_on_a_chunk_a_round(db: Database, settings: Settings, clock: ManualClock,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(maintenance, "SWEEP_CHUNK", 3)
    await _queue(db, *(f"job {i}" for i in range(7)), kind="test.no_such_handler")
    runner = _runner(db, settings)
    await runner.run_jobs()
    assert set((await _jobs(db)).values()) == {"failed"}
    clock.advance(timedelta(days=8))
    assert [await maintenance.sweep_jobs(runner.ctx) for _ in range(4)] == [3, 3, 1, 0]
    assert await _jobs(db) == {}


async def test_a_retention_of_zero_keeps_finished_jobs(db: Database, settings: Settings, clock: ManualClock) -> None:
    await _queue(db, "kept", kind="test.no_such_handler")
    runner = _runner(db, settings.model_copy(update={"job_retention_days": 0}))
    await runner.run_jobs()
    clock.advance(timedelta(days=400))
    await runner.tick()
    assert await _jobs(db) == {"kept": "failed"}
