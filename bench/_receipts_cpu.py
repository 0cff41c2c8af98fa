"""The CPU of recording SMS delivery receipts, alone: no network, so steadier than the engine probe (session 24).

Not part of `make bench` (the leading underscore). N SMS are accepted through the REST API in process and
marked sent as the dispatcher leaves them (provider id, sent_at, status), then their receipts are recorded as
`engine.receipts.drain_receipts` records them (2,000 a transaction, one events batch): the process CPU per
receipt, best of `ROUNDS` rounds of N each. SQLite unless TIDINGS_BENCH_DATABASE_URL names another database
(it is emptied). `--profile` prints a cProfile of the last round (its dump in /tmp/receipts.prof), timed by the
event loop's thread's CPU with `--cpu-timer`. Prints the event loop's thread's share of each round's CPU.
`python bench/_receipts_cpu.py [N] [--profile [--cpu-timer]]`
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

import httpx
from common import fresh_app, post_sms
from sqlalchemy import String, cast, literal, select, update

from tidings.channels.sms import Receipt
from tidings.config import Settings
from tidings.core import clock
from tidings.db.models import Message
from tidings.messaging import events
from tidings.messaging.receipts import apply_receipts
from tidings.runtime import run_loop, tune_gc, warm

N = int(next((a for a in sys.argv[1:] if a.isdigit()), "6000"))
ROUNDS = 3
BATCH = 2000
PROFILE = "--profile" in sys.argv
# `--cpu-timer`: cProfile timed by the event loop's thread's CPU (truer own times than the wall clock).
UNNAMED = "--unnamed" in sys.argv  # receipts that do not name their message (heard after a restart)
TIMER = (time.thread_time,) if "--cpu-timer" in sys.argv else ()


async def main(workdir: Path) -> None:
    url = os.environ.get("TIDINGS_BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    settings = Settings(database_url=url, secret_key="bench", data_dir=workdir, worker_batch=500,
                        rate_limits={"rest": "1000000/minute"})
    async with fresh_app(settings) as (app, auth):
        db = app.state.db
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        warm(settings)
        tune_gc()
        best = float("inf")
        profile = cProfile.Profile(*TIMER) if PROFILE else None
        for round_ in range(ROUNDS):
            async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
                await post_sms(client, auth, N)
            async with db.transaction() as s:
                ids = list((await s.execute(select(Message.id).where(Message.status == "queued")
                                            .order_by(Message.id))).scalars())
                await s.execute(update(Message).where(Message.id.in_(ids)).values(
                    status="sent", sent_at=clock.now(), due_at=None,
                    external_id=literal("p").concat(cast(Message.id, String))))  # each receipt's provider id
            receipts = [Receipt("sms", f"p{i}", "DELIVRD", "delivered", "000", None, None if UNNAMED else str(i))
                        for i in ids]
            if profile is not None and round_ == ROUNDS - 1:
                profile.enable()
            cpu, main_cpu, wall = time.process_time(), time.thread_time(), time.perf_counter()
            for first in range(0, len(receipts), BATCH):
                async with db.transaction() as session, events.batch(session):
                    missing = await apply_receipts(session, receipts[first:first + BATCH])
                assert not missing
            cpu, main_cpu = time.process_time() - cpu, time.thread_time() - main_cpu
            wall = time.perf_counter() - wall
            if profile is not None and round_ == ROUNDS - 1:
                profile.disable()
            best = min(best, cpu)
            print(f"round {round_ + 1}: {len(receipts)} receipts, {cpu / len(receipts) * 1e6:.0f} us CPU each "
                  f"(the event loop's thread {main_cpu / len(receipts) * 1e6:.0f}, SQLite's the rest), "
                  f"{wall / len(receipts) * 1e6:.0f} us of wall time each")
        async with db.sessions() as s:
            done = len(list((await s.execute(select(Message.id).where(Message.delivered_at.is_not(None)))).scalars()))
        assert done == N * ROUNDS, done
        if profile is not None:
            for key in ("tottime", "cumulative"):
                pstats.Stats(profile).sort_stats(key).print_stats(35)
            profile.dump_stats(os.environ.get("TIDINGS_BENCH_PROFILE_FILE", "/tmp/receipts.prof"))
        print(f"receipts: best of {ROUNDS} rounds {best / N * 1e6:.0f} us of process CPU per receipt")


if __name__ == "__main__":
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory() as tmp:
        run_loop(main(Path(tmp)))
