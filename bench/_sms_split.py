"""Where the CPU of the SMS end-to-end benchmark's PostgreSQL variant goes, per message and per process (session 32).

Not part of `make bench` (the leading underscore). Starts the variant as `bench/sms_end_to_end.py` does (`serve
--no-engine` and W `tidings worker`s on an emptied TIDINGS_BENCH_POSTGRES_URL, the fake SMSC), lets them start,
then runs RUNS runs of N SMS and prints, for each, the submit rate and the CPU each kind of process used during
that run only (from /proc, up to its last receipt): the workers, PostgreSQL, serve, the SMSC, this client; and how
much of the machine's cores they used together. No bare loop runs.
`TIDINGS_BENCH_POSTGRES_URL=... python bench/_sms_split.py [W]`; `python bench/_sms_split.py sqlite [no-receipts]`: the
SQLite variant (one `serve` with its engine; its threads apart: the event loop's and the rest) (session 33).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import httpx
import sms_end_to_end as e2e
from _cpu_split import HZ, _kind, processes
from sqlalchemy.ext.asyncio import create_async_engine

WORKERS = int(next((a for a in sys.argv[1:] if a.isdigit()), "2"))
SQLITE = "sqlite" in sys.argv[1:]
RECEIPTS = "no-receipts" not in sys.argv[1:]


def _threads(pid: str) -> dict[str, float]:
    """CPU seconds so far of a process's main thread and of its other threads together."""
    seen = {"main": 0.0, "threads": 0.0}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return seen
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        seen["main" if tid == pid else "threads"] += (int(fields[11]) + int(fields[12])) / HZ
    return seen


def _snapshot() -> dict[tuple[str, str], float]:
    """CPU seconds so far of every process of a kind we know, by (pid, kind); this one as the client."""
    own = str(os.getpid())
    seen: dict[tuple[str, str], float] = {}
    for pid, _, command, used in processes():
        kind = "client" if pid == own else _kind(command)
        if kind is not None:
            seen[(pid, kind)] = used
            if kind == "serve" and SQLITE:
                for part, value in _threads(pid).items():
                    seen[(pid, f"serve:{part}")] = value
    return seen


async def main() -> None:
    url = os.environ.get("TIDINGS_BENCH_POSTGRES_URL")
    if not url and not SQLITE:
        raise SystemExit("TIDINGS_BENCH_POSTGRES_URL names the PostgreSQL database to use (it is emptied)")
    with e2e._smsc(e2e.RECEIPTS_ANY_BIND) as smsc_port, tempfile.TemporaryDirectory() as tmp:
        if SQLITE:
            url = f"sqlite+aiosqlite:///{tmp}/bench.db"
        assert url is not None
        await e2e._empty(url)
        port, headers, procs = e2e._launch(url, smsc_port, Path(tmp), 0 if SQLITE else WORKERS, RECEIPTS)
        engine = create_async_engine(url)
        try:
            await asyncio.sleep(4)  # the workers' start (imports, migrations check) is not a run's CPU
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=300) as client:
                for run in range(e2e.RUNS):
                    before, started = _snapshot(), time.perf_counter()
                    seconds = await e2e._run(client, headers, engine, run * e2e.N, RECEIPTS)
                    after, wall = _snapshot(), time.perf_counter() - started
                    used: dict[str, float] = {}
                    for (pid, kind), total in after.items():
                        used[kind] = used.get(kind, 0.0) + total - before.get((pid, kind), 0.0)
                    parts = {kind: used.pop(kind) for kind in list(used) if ":" in kind}
                    per = ", ".join(f"{kind} {value / e2e.N * 1e6:.0f}" for kind, value in sorted(used.items()))
                    print(f"run {run + 1}: submit {e2e.N / seconds['submit']:.0f}/s, {wall:.2f} s to the last receipt; "
                          f"CPU us a message: {per}; {sum(used.values()) / wall * 100:.0f} % of a core"
                          + "".join(f"; {kind} {value / e2e.N * 1e6:.0f} ({value / wall * 100:.0f} %)"
                                    for kind, value in sorted(parts.items())), flush=True)
        finally:
            await engine.dispose()
            for proc in procs:
                e2e._stop(proc)


if __name__ == "__main__":
    asyncio.run(main())
