"""Cold email's CPU per email on one SQLite process: the A/B probe for `bench/outreach_send.py` (session 25).

Not part of `make bench` (the leading underscore). The benchmark's campaign (N contacts, 10 mailboxes) is set
up as `outreach_send.py` sets it up, then the engine runs as `tidings serve` runs it (run_forever, uvloop,
tuned collector) to the pipelining SMTP sink in its own process until every message is sent. Prints the wall
time and this process's CPU per email (the event loop's thread and SQLite's together); `--profile` prints and
dumps (`/tmp/outreach.prof`) a cProfile of the sending phase (its CPU figure is then not comparable).
`--statements` prints how many times each SQL statement ran while sending. TIDINGS_BENCH_WORKER_BATCH and
TIDINGS_BENCH_MAILBOXES change the benchmark's worker batch (1,000) and mailboxes (10).
`python bench/_outreach_cpu.py [N] [--statements] [--profile]`
"""

from __future__ import annotations

import asyncio
import collections
import cProfile
import os
import pstats
import re
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

N = next((a for a in sys.argv[1:] if a.isdigit()), "6000")
os.environ["TIDINGS_BENCH_CONTACTS"] = N  # outreach_send reads its size at import
PROFILE = "--profile" in sys.argv
STATEMENTS = "--statements" in sys.argv

import outreach_send as bench  # noqa: E402

# Other shapes than the benchmark's, for experiments: the worker batch and the number of mailboxes.
bench.BATCH = int(os.environ.get("TIDINGS_BENCH_WORKER_BATCH", bench.BATCH))
bench.MAILBOXES = int(os.environ.get("TIDINGS_BENCH_MAILBOXES", bench.MAILBOXES))
from sqlalchemy import event  # noqa: E402

from tidings.engine.context import EngineContext  # noqa: E402
from tidings.engine.runner import Runner  # noqa: E402
from tidings.runtime import boot, providers_for, run_loop, tune_gc  # noqa: E402


def _thread_cpu() -> dict[int, float]:
    """CPU seconds of each of this process's threads (Linux /proc), by thread id."""
    out = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
    return out


async def main(workdir: Path, port: int) -> None:
    settings = bench._settings(f"sqlite+aiosqlite:///{workdir / 'bench.db'}", workdir)
    db = boot(settings)
    campaign_id = await bench._setup(db, port)
    runner = Runner(EngineContext(db, settings, providers_for(settings), "probe"))
    tune_gc()
    counts: collections.Counter[str] = collections.Counter()
    if STATEMENTS:
        def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
            counts[re.sub(r"\s+", " ", statement)[:120]] += 1

        event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    engine = asyncio.create_task(runner.run_forever())
    profiler = cProfile.Profile() if PROFILE else None
    try:
        await asyncio.sleep(0.5)  # the engine's first idle rounds: not part of sending
        counts.clear()
        threads, cpu, wall = _thread_cpu(), time.process_time(), time.perf_counter()
        if profiler:
            profiler.enable()
        result = await bench._until_sent(db, campaign_id)
        if profiler:
            profiler.disable()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        after = _thread_cpu()
    finally:
        runner.stop()
        await engine
        await runner.ctx.providers.close()
        await db.dispose()
    sent = int(result["messages"])
    print(f"{sent} emails in {wall:.2f} s ({sent / wall:.0f}/s), process CPU {cpu:.2f} s "
          f"({cpu / wall:.0%} of wall), {cpu / sent * 1e6:.0f} µs CPU per email")
    for statement, n in counts.most_common(30):
        print(f"{n:6d}  {statement}")
    main_thread = os.getpid()
    split = sorted(((after[t] - threads.get(t, 0.0), t) for t in after), reverse=True)
    print("threads' CPU per email (µs): " + ", ".join(
        f"{'event loop' if t == main_thread else 'thread'} {s / sent * 1e6:.0f}" for s, t in split if s > 0))
    if profiler:
        profiler.dump_stats("/tmp/outreach.prof")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(40)


if __name__ == "__main__":
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    port = bench._free_port()
    sink = bench._start_sink(port)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_loop(main(Path(tmp), port))
    finally:
        sink.terminate()
        sink.wait(10)
