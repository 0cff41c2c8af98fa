"""Keeping SQLite's query planner informed: table statistics refreshed at start and every few hours.

Without statistics SQLite picks indexes by rule of thumb and, on large tables, chooses badly (a
thread's messages read through the account's index: 200 ms instead of 2 ms with 200,000 messages).
`analysis_limit` makes ANALYZE sample each index, so it takes milliseconds whatever the size.
PostgreSQL's autovacuum keeps its own statistics; nothing to do there.
"""

from __future__ import annotations

import time

import structlog
from sqlalchemy import text

from tidings.db.engine import Database
from tidings.engine.context import EngineContext
from tidings.engine.registry import loop

log = structlog.get_logger("tidings.maintenance")
EVERY_SECONDS = 6 * 3600
_last: dict[str, float] = {}


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
