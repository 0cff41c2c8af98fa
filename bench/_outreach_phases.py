"""Cold email's engine phases alone, without the network: CPU per email of scheduling, claiming and preparing,
and recording the sends (session 25).

Not part of `make bench` (the leading underscore). The campaign of `outreach_send.py` (N contacts, 10
mailboxes, SQLite) is scheduled by `schedule_campaign` rounds, claimed and prepared by the dispatcher's
`_claim_and_prepare` (its worker batch), and its sends recorded as accepted by `_record_all` in groups of
`RECORD_GROUP` (11, about what the group commit takes in the end-to-end run), one phase after the other,
nothing else running: each phase's process CPU per email, and the event loop's thread's share of it.
`--profile PHASE` (schedule, claim, record) prints a cProfile of that phase and dumps it to /tmp/phase.prof.
`python bench/_outreach_phases.py [N] [--profile PHASE]`
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

N = next((a for a in sys.argv[1:] if a.isdigit()), "6000")
os.environ["TIDINGS_BENCH_CONTACTS"] = N  # outreach_send reads its size at import
PROFILED = sys.argv[sys.argv.index("--profile") + 1] if "--profile" in sys.argv else None
# `--cpu-timer`: cProfile timed by the event loop's thread's CPU (truer own times than the wall clock).
TIMER = (time.thread_time,) if "--cpu-timer" in sys.argv else ()
# About what the group commit takes in the end-to-end run; TIDINGS_BENCH_RECORD_GROUP sets another.
RECORD_GROUP = int(os.environ.get("TIDINGS_BENCH_RECORD_GROUP", "11"))

import outreach_send as bench  # noqa: E402
from sqlalchemy import func, select, update  # noqa: E402

from tidings.channels.base import SendResult  # noqa: E402
from tidings.db.models import Campaign, Message  # noqa: E402
from tidings.engine.context import EngineContext  # noqa: E402
from tidings.engine.dispatcher import _claim_and_prepare, _record_all  # noqa: E402
from tidings.outreach.engine.scheduler import schedule_campaign  # noqa: E402
from tidings.runtime import boot, providers_for, run_loop, tune_gc, warm  # noqa: E402


class _Phase:
    """Times one phase's process CPU; profiles it when it is the one asked for."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.profile = (cProfile.Profile(*TIMER) if name == PROFILED else None)

    def __enter__(self) -> _Phase:
        if self.profile is not None:
            self.profile.enable()
        self.cpu, self.main = time.process_time(), time.thread_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.cpu, self.main = time.process_time() - self.cpu, time.thread_time() - self.main
        if self.profile is not None:
            self.profile.disable()
            self.profile.dump_stats("/tmp/phase.prof")
            pstats.Stats(self.profile).sort_stats("tottime").print_stats(35)
        print(f"{self.name}: {self.cpu / int(N) * 1e6:.0f} µs CPU per email "
              f"(the event loop's thread {self.main / int(N) * 1e6:.0f}, SQLite's the rest)")


async def main(workdir: Path) -> None:
    settings = bench._settings(f"sqlite+aiosqlite:///{workdir / 'bench.db'}", workdir)
    db = boot(settings)
    campaign_id = await bench._setup(db, 9)  # no mail goes out: nothing listens there
    async with db.transaction() as s:
        await s.execute(update(Campaign).where(Campaign.id == campaign_id).values(status="RUNNING"))
    ctx = EngineContext(db, settings, providers_for(settings), "probe")
    warm(settings)
    tune_gc()
    with _Phase("schedule"):
        while True:
            async with db.transaction() as s:
                if not await schedule_campaign(s, campaign_id, limit=settings.worker_batch):
                    break
    with _Phase("claim"):
        batches = []
        while True:
            ready, claimed = await _claim_and_prepare(ctx)
            if not ready:
                break
            batches.append((ready, claimed))
    with _Phase("record"):
        for ready, claimed in batches:
            for first in range(0, len(ready), RECORD_GROUP):
                group = ready[first:first + RECORD_GROUP]
                await _record_all(ctx, {m: SendResult(True, f"<{m}@sink>") for m, _ in group}, claimed)
    async with db.reading() as s:
        sent = int((await s.execute(select(func.count()).select_from(Message).where(Message.status == "sent")))
                   .scalar() or 0)
    assert sent == int(N), sent
    await ctx.providers.close()
    await db.dispose()


if __name__ == "__main__":
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as tmp:
        run_loop(main(Path(tmp)))
