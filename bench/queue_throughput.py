"""Due-queue throughput: jobs claimed and completed per second with 1 and 4 workers.

Baseline, measured in the same run on the same database: a bare loop that marks the same number
of rows done with one UPDATE each (no claim, no lease), repeated until it has run at least 2 s, so
`ratio` shows what the queue costs.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import for_at_least, postgres  # noqa: E402
from sqlalchemy import text, update  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncSession  # noqa: E402

from tidings.config import Settings  # noqa: E402
from tidings.db.base import Base  # noqa: E402
from tidings.db.engine import Database  # noqa: E402
from tidings.db.models import Job  # noqa: E402
from tidings.engine import registry  # noqa: E402
from tidings.engine.context import EngineContext  # noqa: E402
from tidings.engine.runner import Runner  # noqa: E402
from tidings.runtime import boot, providers_for  # noqa: E402

JOBS = 3000


@registry.job("bench.noop")
async def _noop(ctx: EngineContext, session: AsyncSession, job: Job) -> None:
    return None


async def _fill(db: Database, n: int) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    async with db.transaction() as s:
        from tidings.core import clock

        now = clock.now()
        s.add_all([Job(kind="bench.noop", payload={}, due_at=now) for _ in range(n)])


async def _workers(settings: Settings, n_workers: int) -> float:
    dbs = [Database(settings.database_url) for _ in range(n_workers)]

    async def drain(i: int, db: Database) -> None:
        runner = Runner(EngineContext(db, settings, providers_for(settings), f"bench-{i}"))
        # Yield between batches so that the workers interleave.
        while await runner.run_jobs():  # noqa: ASYNC110
            await asyncio.sleep(0)

    started = time.perf_counter()
    await asyncio.gather(*(drain(i, d) for i, d in enumerate(dbs)))
    elapsed = time.perf_counter() - started
    for d in dbs:
        await d.dispose()
    return JOBS / elapsed


async def _baseline(db: Database) -> float:
    async with db.sessions() as s:
        ids = [r[0] for r in (await s.execute(text("SELECT id FROM jobs"))).all()]

    async def one_round() -> tuple[int, float]:
        started = time.perf_counter()
        for job_id in ids:
            async with db.transaction() as s:
                await s.execute(update(Job).where(Job.id == job_id).values(status="done"))
        return len(ids), time.perf_counter() - started

    return (await for_at_least(one_round))["per_second"]


async def measure(url: str) -> dict[str, float]:
    settings = Settings(database_url=url, secret_key="bench", worker_batch=50)
    db = boot(settings)
    out: dict[str, float] = {}
    await _fill(db, JOBS)
    out["baseline_bare_updates_per_s"] = round(await _baseline(db), 1)
    for n in (1, 4):
        await _fill(db, JOBS)
        out[f"jobs_per_s_{n}_worker{'s' if n > 1 else ''}"] = round(await _workers(settings, n), 1)
    out["ratio_1_worker_vs_baseline"] = round(out["jobs_per_s_1_worker"] / out["baseline_bare_updates_per_s"], 2)
    await db.dispose()
    return out


def main() -> None:
    result: dict[str, object] = {"benchmark": "queue_throughput", "jobs": JOBS}
    with tempfile.TemporaryDirectory() as tmp:
        result["sqlite"] = asyncio.run(measure(f"sqlite+aiosqlite:///{tmp}/bench.db"))
    with postgres() as url:
        result["postgresql"] = asyncio.run(measure(url)) if url else "skipped: no PostgreSQL server could be started"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
