"""Helpers shared by benchmarks: a throwaway PostgreSQL when one can be started."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def postgres() -> Iterator[str | None]:
    """A PostgreSQL URL (TIDINGS_BENCH_POSTGRES_URL or a throwaway cluster), or None."""
    url = os.environ.get("TIDINGS_BENCH_POSTGRES_URL")
    if url:
        yield url
        return
    script = ROOT / "scripts" / "pg-throwaway.sh"
    out = subprocess.run([str(script), "start", str(_free_port())], capture_output=True, text=True)
    if out.returncode != 0:
        yield None
        return
    values = dict(line.split("=", 1) for line in out.stdout.splitlines() if "=" in line)
    try:
        yield values["URL"]
    finally:
        subprocess.run([str(script), "stop", values["DIR"]], capture_output=True)


MIN_BASELINE_SECONDS = 2.0


async def for_at_least(one_round: Callable[[], Awaitable[tuple[int, float]]],
                       seconds: float = MIN_BASELINE_SECONDS) -> dict[str, float]:
    """Repeat a baseline round (returning items done and its timed seconds) until the rounds ran `seconds` in all.

    A baseline of a fraction of a second swings with every hiccup of a shared machine, and so does
    every ratio computed against it.
    """
    items, elapsed, rounds = 0, 0.0, 0
    while elapsed < seconds:
        done, took = await one_round()
        items, elapsed, rounds = items + done, elapsed + took, rounds + 1
    return {"messages": float(items), "seconds": round(elapsed, 3), "per_second": round(items / elapsed, 1),
            "rounds": float(rounds)}
