"""Event notifications at volume: account event notifications and per-message notificationUrl calls.

N SMS are posted to /api/rest/sms with a notificationUrl, on an account whose event notifications
are on; the sandbox provider answers each send and reports it delivered at once. The engine then
makes, per message, two account notifications (sent, delivered; signed form POSTs) and one
notificationUrl GET (delivered). A local receiver (a bare asyncio HTTP server in its own process)
answers each in 1 ms, then in 200 ms. Reported: notifications per second from the first engine
tick until the receiver has every one, and the engine's send rate in the same run for comparison
(the deliverer should keep up with it). SQLite, one process, the app in-process. Each figure is the
median of RUNS runs. TIDINGS_BENCH_EVENTS (N), TIDINGS_BENCH_RUNS.

N is 10,000 (about 10 s of sending): the last notifications of a run cannot arrive sooner than two receiver
answers after the last send (a message's `sent` before its `delivered`), 0.4 s with the 200 ms receiver,
which in a 2-second run (N = 2,000) read as a fifth behind.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from common import free_port, post_sms, wait_port
from sqlalchemy import func, select

from tidings.app import create_app
from tidings.config import Settings
from tidings.db.base import Base
from tidings.db.models import Message
from tidings.engine.context import EngineContext
from tidings.engine.runner import Runner
from tidings.messaging import event_webhooks
from tidings.runtime import boot, run_loop, tune_gc, warm
from tidings.tenancy.service import create_account
from tidings.tenancy.subject import AuthSubject

N = int(os.environ.get("TIDINGS_BENCH_EVENTS", "10000"))
RUNS = int(os.environ.get("TIDINGS_BENCH_RUNS", "3"))
TIMEOUT = 600.0

# The receiver: counts requests per path prefix; answers after DELAY seconds; keeps connections alive
# (HTTP/1.1, as the web servers behind real receivers do).
RECEIVER = r'''
import asyncio, sys
delay = float(sys.argv[2])
counts = {"account": 0, "message": 0}
async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            path = head.split(b" ", 2)[1]
            if path.startswith(b"/count"):
                body = f'{counts["account"]} {counts["message"]}'.encode()
            else:
                await asyncio.sleep(delay)
                counts["account" if path.startswith(b"/account") else "message"] += 1
                body = b"ok"
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            await writer.drain()
    except Exception:
        pass
    finally:
        writer.close()
async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", int(sys.argv[1]), backlog=1024)
    async with server:
        await server.serve_forever()
asyncio.run(main())
'''


def _start_receiver(port: int, delay: float) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", RECEIVER, str(port), str(delay)])
    wait_port(port, 5)
    return proc


async def _received(counter: httpx.AsyncClient, port: int) -> tuple[int, int]:
    account, message = (await counter.get(f"http://127.0.0.1:{port}/count")).text.split()
    return int(account), int(message)


async def _once(counter: httpx.AsyncClient, port: int, workdir: Path) -> dict[str, float]:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{workdir / 'bench.db'}", secret_key="bench",
                        data_dir=workdir, public_url="http://bench", outbound_allow_private=True,
                        sms_url="sandbox://?delivery=delivered", worker_batch=500,
                        rate_limits={"rest": "1000000/minute"})
    db = boot(settings)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
        await conn.run_sync(Base.metadata.create_all)
    await db.dispose()
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        async with app.state.db.transaction() as s:
            account = await create_account(s, name="Bench", email="bench@bench.test")
            subject = AuthSubject(account_id=account.account_id, user_id=1)
            await event_webhooks.configure(s, subject, f"http://127.0.0.1:{port}/account", ["sent", "delivered"],
                                           allow_private=True)
        before = await _received(counter, port)
        auth = base64.b64encode(f"{account.username}:{account.api_password}".encode()).decode()
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
            await post_sms(client, auth, N, notificationUrl=f"http://127.0.0.1:{port}/message?id=%i&s=%s")
        runner = Runner(EngineContext(app.state.db, settings, app.state.providers, "bench"))
        expected = (before[0] + 2 * N, before[1] + N)
        started = time.perf_counter()
        sent_at = 0.0
        # The engine as `tidings serve` runs it: warmed, run_forever, with its own dispatcher cycle.
        warm(settings)
        tune_gc()
        engine = asyncio.create_task(runner.run_forever())
        while time.perf_counter() - started < TIMEOUT:
            await asyncio.sleep(0.05)
            if not sent_at:
                async with app.state.db.sessions() as s:
                    open_ = (await s.execute(select(func.count()).select_from(Message)
                                             .where(Message.sent_at.is_(None)))).scalar()
                if not open_:
                    sent_at = time.perf_counter() - started
            got = await _received(counter, port)
            if got[0] >= expected[0] and got[1] >= expected[1]:
                break
        elapsed = time.perf_counter() - started
        runner.stop()
        await engine
    sent_in = sent_at or elapsed
    # Lag: from the moment every message was sent to the last notification received.
    return {"notifications_per_second": 3 * N / elapsed, "sends_per_second": N / sent_in,
            "seconds": elapsed, "lag_seconds": elapsed - sent_in}


async def _receiver_delay(delay: float) -> dict[str, Any]:
    port = free_port()
    proc = _start_receiver(port, delay)
    try:
        runs = []
        async with httpx.AsyncClient() as counter:
            for _ in range(RUNS):
                with tempfile.TemporaryDirectory() as tmp:
                    runs.append(await _once(counter, port, Path(tmp)))
    finally:
        proc.terminate()
        proc.wait(10)
    figures: dict[str, Any] = {key: round(statistics.median(r[key] for r in runs), 2 if key == "lag_seconds" else 1)
                               for key in ("notifications_per_second", "sends_per_second", "seconds", "lag_seconds")}
    # 1.0: notifications went out three per message as fast as the messages did (they cannot finish before
    # the sends they follow, so the lag says how far behind they ended).
    figures["pace"] = round(figures["notifications_per_second"] / (3 * figures["sends_per_second"]), 2)
    return figures


async def main() -> dict[str, Any]:
    result: dict[str, Any] = {"benchmark": "event_notifications", "database": "sqlite", "messages": N,
                              "notifications_per_message": 3, "runs": RUNS}
    for label, delay in (("receiver_1ms", 0.001), ("receiver_200ms", 0.2)):
        result[label] = await _receiver_delay(delay)
    return result


if __name__ == "__main__":
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(json.dumps(run_loop(main())))  # uvloop, as `tidings serve` and `tidings worker` run
