"""The engine's CPU per SMS, and the statements it runs: the A/B probe of docs/performance.md (session 6).

Not part of `make bench` (the leading underscore). N SMS are accepted through the REST API in process
(its CPU per message printed apart: the API and the HTTP client together), then the engine (one Runner,
as `tidings serve` runs it: uvloop, tuned collector) sends them over SMPP to the fake SMSC in its own
process, receipts on, until every receipt is recorded. Prints the wall time and the process CPU per
message of that phase; with `--statements`, also how many times each SQL statement ran (accept and
engine apart). SQLite unless TIDINGS_BENCH_DATABASE_URL names another database (it is emptied).
`--profile` profiles the engine phase, `--profile-accept` the accept phase; `--cpu-timer` times them by CPU.
`--no-receipts`: the SMS URL asks for none and the phase ends when every message is sent (session 34).
`python bench/_engine_cpu.py [N] [--statements] [--profile | --profile-accept] [--no-receipts]`
The process CPU is steadier than the end-to-end rates on a shared machine: compare two commits back to
back with it (`git stash`, run, `git stash pop`, run).
"""

from __future__ import annotations

import collections
import cProfile
import os
import pstats
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

import httpx  # noqa: E402
from common import free_port, fresh_app, post_sms, until_delivered, wait_port  # noqa: E402
from sqlalchemy import event  # noqa: E402

from tidings.config import Settings  # noqa: E402
from tidings.engine.context import EngineContext  # noqa: E402
from tidings.engine.runner import Runner  # noqa: E402
from tidings.runtime import run_loop, tune_gc, warm  # noqa: E402

N = int(next((a for a in sys.argv[1:] if a.isdigit()), "6000"))
STATEMENTS = "--statements" in sys.argv
PROFILE = "--profile" in sys.argv  # cProfile of the engine phase (its CPU figure is then not comparable)
PROFILE_ACCEPT = "--profile-accept" in sys.argv  # cProfile of the accept phase instead
# cProfile's default timer is the wall clock: a function awaiting the database through a greenlet gets the wait as
# its own time. `--cpu-timer` times the event loop's thread's CPU instead (slower to profile, truer own times).
TIMER = (time.thread_time,) if "--cpu-timer" in sys.argv else ()
RECEIPTS = "--no-receipts" not in sys.argv


def _print_counts(title: str, counts: collections.Counter[str]) -> None:
    print(f"--- {title}")
    for statement, n in counts.most_common(25):
        print(f"{n:6d}  {statement}")
    counts.clear()


async def main(workdir: Path, smsc_port: int) -> None:
    url = os.environ.get("TIDINGS_BENCH_DATABASE_URL") or f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
    settings = Settings(database_url=url, secret_key="bench", data_dir=workdir, worker_batch=500,
                        outbound_allow_private=True, rate_limits={"rest": "1000000/minute"},
                        sms_url=f"smpp://tidings:secret@127.0.0.1:{smsc_port}?window=10&binds=2"
                        + ("" if RECEIPTS else "&receipts=false"))
    counts: collections.Counter[str] = collections.Counter()
    async with fresh_app(settings) as (app, auth):
        db = app.state.db
        if STATEMENTS:
            def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
                counts[re.sub(r"\s+", " ", statement)[:110]] += 1

            event.listen(db.engine.sync_engine, "before_cursor_execute", count)
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        accepting = cProfile.Profile(*TIMER) if PROFILE_ACCEPT else None
        wall, cpu = time.perf_counter(), time.process_time()
        if accepting is not None:
            accepting.enable()
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
            await post_sms(client, auth, N)
        if accepting is not None:
            accepting.disable()
            pstats.Stats(accepting).sort_stats("cumulative").print_stats(45)
            accepting.dump_stats(os.environ.get("TIDINGS_BENCH_PROFILE_FILE", "/tmp/accept.prof"))
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"accept: {N} SMS in {wall:.2f} s ({N / wall:.0f}/s), process CPU {cpu:.2f} s, "
              f"{cpu / N * 1e6:.0f} us per message (the API and the client in one process)")
        if STATEMENTS:
            _print_counts("accept", counts)
        runner = Runner(EngineContext(db, settings, app.state.providers, "bench"))
        warm(settings)
        tune_gc()
        profile = cProfile.Profile(*TIMER) if PROFILE else None
        wall, cpu = time.perf_counter(), time.process_time()
        if profile is not None:
            profile.enable()
        await until_delivered(runner, db, N, sent_only=not RECEIPTS)
        if profile is not None:
            profile.disable()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        if profile is not None:
            for key in ("tottime", "cumulative"):
                pstats.Stats(profile).sort_stats(key).print_stats(45)
            # For bench/_profile_packages.py: the same profile grouped by package.
            profile.dump_stats(os.environ.get("TIDINGS_BENCH_PROFILE_FILE", "/tmp/engine.prof"))
        await app.state.providers.close()
        if STATEMENTS:
            _print_counts("engine", counts)
        print(f"engine: {N} SMS in {wall:.2f} s ({N / wall:.0f}/s), process CPU {cpu:.2f} s, "
              f"{cpu / N * 1e6:.0f} us per message")


if __name__ == "__main__":
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    port = free_port()
    smsc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "fakes" / "smsc.py"), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        with tempfile.TemporaryDirectory() as tmp:
            run_loop(main(Path(tmp), port))
    finally:
        smsc.terminate()
        smsc.wait(10)
