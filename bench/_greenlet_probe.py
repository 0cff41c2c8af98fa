"""Where SQLAlchemy's synchronous work goes, charged to the Tidings function that awaited it.

Not part of `make bench` (the leading underscore). py-spy cannot walk from a greenlet to the coroutine
that spawned it, so a third of a profile's samples (flushes, ORM loading, commits) had no owner. This
wraps `greenlet_spawn`, times only the stretches in which the greenlet runs, and prints the total per
caller (the two innermost Tidings frames) when the script ends. Times are wall-clock and include waits
for the GIL: compare them with each other, not with a process's CPU.
`python bench/_greenlet_probe.py SCRIPT [ARGS...]`, e.g. `python bench/_greenlet_probe.py bench/_engine_cpu.py 6000`.
"""

from __future__ import annotations

import atexit
import collections
import runpy
import sys
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy.ext.asyncio.engine as async_engine
import sqlalchemy.ext.asyncio.result as async_result
import sqlalchemy.ext.asyncio.session as async_session
import sqlalchemy.util as sa_util
import sqlalchemy.util.concurrency as concurrency

SPENT: collections.Counter[str] = collections.Counter()
CALLS: collections.Counter[str] = collections.Counter()


def _caller() -> str:
    frame = sys._getframe(2)
    names: list[str] = []
    while frame is not None and len(names) < 2:
        path = frame.f_code.co_filename
        if "/tidings/" in path and not path.endswith("/db/engine.py"):
            names.append(f"{path.split('/tidings/')[-1]}:{frame.f_code.co_name}:{frame.f_lineno}")
        frame = frame.f_back  # type: ignore[assignment]
    return " < ".join(names) or "(outside tidings)"


async def greenlet_spawn(fn: Callable[..., Any], *args: Any, _require_await: bool = False, **kwargs: Any) -> Any:
    """SQLAlchemy's greenlet_spawn, timing the greenlet's own stretches."""
    key = f"{_caller()} [{getattr(fn, '__qualname__', fn)}]"
    shim: Any = concurrency._concurrency_shim  # noqa: SLF001
    context = shim._AsyncIoGreenlet(fn, shim.getcurrent())  # noqa: SLF001
    started = time.perf_counter()
    result = context.switch(*args, **kwargs)
    spent = time.perf_counter() - started
    while not context.dead:
        try:
            value = await result
        except BaseException:
            started = time.perf_counter()
            result = context.throw(*sys.exc_info())
        else:
            started = time.perf_counter()
            result = context.switch(value)
        spent += time.perf_counter() - started
    SPENT[key] += spent
    CALLS[key] += 1
    return result


def _report() -> None:
    print(f"greenlet time in total: {sum(SPENT.values()):.3f} s")
    for key, seconds in SPENT.most_common(30):
        print(f"{seconds:8.3f} s {CALLS[key]:7d} calls  {key}")


for module in (concurrency, sa_util, async_engine, async_result, async_session):
    if hasattr(module, "greenlet_spawn"):
        module.greenlet_spawn = greenlet_spawn  # type: ignore[attr-defined]

if __name__ == "__main__":
    atexit.register(_report)
    script, sys.argv = sys.argv[1], sys.argv[1:]
    sys.path.insert(0, str(__import__("pathlib").Path(script).resolve().parent))
    runpy.run_path(script, run_name="__main__")
