"""Housekeeping: SQLite's planner statistics, and finished jobs deleted after their retention.

Without statistics SQLite picks indexes by rule of thumb and, on large tables, chooses badly (a
thread's messages read through the account's index: 200 ms instead of 2 ms with 200,000 messages).
`analysis_limit` makes ANALYZE sample each index, so it takes milliseconds whatever the size.
PostgreSQL's autovacuum keeps its own statistics; nothing to do there.

Every notification, webhook call and provider event is a job; a finished one is never read again, so
without a sweep the jobs table grows by a few rows a message for ever.
"""

from __future__ import annotations

import time
from datetime import timedelta

import structlog
from sqlalchemy import text

from tidings.core import clock
from tidings.db.engine import Database
from tidings.db.jobs import delete_finished
from tidings.engine.context import EngineContext
from tidings.engine.registry import loop

log = structlog.get_logger("tidings.maintenance")
EVERY_SECONDS = 6 * 3600
_last: dict[str, float] = {}
SWEEP_EVERY_SECONDS = 3600
# Jobs deleted per transaction: short, since on SQLite it holds the write lock the sends also need; a sweep that
# finds more goes on at the next round.
SWEEP_CHUNK = 2_000
_swept: dict[str, float] = {}
_sweeping: dict[str, int] = {}  # jobs deleted so far by a sweep still going on


async def analyze(db: Database) -> None:
    """Refresh SQLite's statistics (sampled); a no-op on PostgreSQL."""
    if not db.sqlite:
        return
    async with db.engine.connect() as conn:
        await conn.exec_driver_sql("PRAGMA analysis_limit=1000")
        await conn.execute(text("ANALYZE"))
        await conn.commit()


@loop("db.analyze")
async def refresh_statistics(ctx: EngineContext) -> int:
    if not ctx.db.sqlite or time.monotonic() - _last.get(ctx.db.url, -EVERY_SECONDS) < EVERY_SECONDS:
        return 0
    _last[ctx.db.url] = time.monotonic()
    try:
        await analyze(ctx.db)
    except Exception as exc:  # statistics are an optimisation: never stop the engine for them
        log.warning("could not refresh SQLite statistics", error=type(exc).__name__)
    return 0


async def delete_old_jobs(ctx: EngineContext) -> int:
    """Delete a chunk of the jobs finished longer than the retention ago; how many."""
    days = ctx.settings.job_retention_days
    if days <= 0:
        return 0
    async with ctx.db.transaction() as session:
        return await delete_finished(session, clock.now() - timedelta(days=days), limit=SWEEP_CHUNK)


@loop("jobs.sweep")
async def sweep_jobs(ctx: EngineContext) -> int:
    """Every hour, delete finished jobs past their retention, a chunk a round until none is left."""
    if time.monotonic() - _swept.get(ctx.db.url, -SWEEP_EVERY_SECONDS) < SWEEP_EVERY_SECONDS:
        return 0
    deleted = await delete_old_jobs(ctx)  # the database away: the runner backs off and the sweep runs again
    _sweeping[ctx.db.url] = total = _sweeping.get(ctx.db.url, 0) + deleted
    if deleted < SWEEP_CHUNK:
        _swept[ctx.db.url] = time.monotonic()
        del _sweeping[ctx.db.url]
        if total:
            log.info("finished jobs deleted", jobs=total, retention_days=ctx.settings.job_retention_days)
    return deleted
