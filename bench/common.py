"""Helpers shared by benchmarks: ports, a throwaway PostgreSQL when one can be started, SMS through the API."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@asynccontextmanager
async def fresh_app(settings: Any) -> AsyncIterator[tuple[Any, str]]:
    """The API app (no engine) running on an emptied database with one account: the app and its Basic credentials."""
    import base64

    from tidings.app import create_app
    from tidings.db.base import Base
    from tidings.tenancy.service import create_account

    app = create_app(settings, engine=False)
    async with app.router.lifespan_context(app):
        db = app.state.db
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.drop_all)
            await conn.run_sync(Base.metadata.create_all)
        async with db.transaction() as s:
            account = await create_account(s, name="Bench", email="bench@bench.test")
        yield app, base64.b64encode(f"{account.username}:{account.api_password}".encode()).decode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, seconds: float = 30) -> None:
    """Return once something listens on the local port; RuntimeError after `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on port {port}")


def poll_delay(remaining: int, done: int, elapsed: float, *, finest: float = 0.02, coarsest: float = 0.5) -> float:
    """How long to wait before counting again: half the time the remaining work should take at the rate so far,
    between `finest` and `coarsest` seconds.

    Every count reads the run's rows on the database being measured (about 10 ms of PostgreSQL's CPU for 6,000
    messages): counted every 50 ms, that took a sixteenth of a core from the variant. Counting rarely while much
    remains and often near the end keeps the finish as precise as before.
    """
    if remaining <= 0:
        return finest
    if done <= 0 or elapsed <= 0:
        return min(coarsest, max(finest, 0.1))
    return min(coarsest, max(finest, 0.5 * remaining * elapsed / done))


async def post_sms(client: Any, auth: str, n: int, **fields: Any) -> None:
    """POST n SMS to /api/rest/sms, 1,000 recipients a request (34600000000 upwards), through an httpx client."""
    for first in range(0, n, 1000):
        to = [f"34{600000000 + first + i}" for i in range(min(1000, n - first))]
        r = await client.post("/api/rest/sms", headers={"Authorization": f"Basic {auth}"},
                              json={"to": to, "from": "TIDINGS", "message": "Your code is ready.", **fields})
        r.raise_for_status()


async def until_delivered(runner: Any, db: Any, n: int, sent_only: bool = False) -> None:
    """Run the engine until n messages have their delivery recorded (`sent_only`: until n are sent)."""
    from sqlalchemy import func, select

    from tidings.db.models import Message

    while True:
        await runner.run_until_idle(max_rounds=10_000)
        async with db.sessions() as s:
            column = Message.sent_at if sent_only else Message.delivered_at
            done = (await s.execute(select(func.count()).select_from(Message)
                                    .where(column.is_not(None)))).scalar()
        if done == n:
            return
        await asyncio.sleep(0.01)


@contextmanager
def postgres() -> Iterator[str | None]:
    """A PostgreSQL URL (TIDINGS_BENCH_POSTGRES_URL, a database the benchmarks empty, or a throwaway cluster)."""
    url = os.environ.get("TIDINGS_BENCH_POSTGRES_URL")
    if url:
        yield url
        return
    script = ROOT / "scripts" / "pg-throwaway.sh"
    out = subprocess.run([str(script), "start", str(free_port())], capture_output=True, text=True)
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
