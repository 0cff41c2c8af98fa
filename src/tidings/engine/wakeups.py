"""Wake-ups between processes on PostgreSQL: the API NOTIFYs after a write, idle engines LISTEN.

With `serve --no-engine` and `tidings worker` processes, an idle worker found new work only at its
next poll (`worker_poll_seconds`): a one-time password sent by SMS waited up to that long before
its first attempt. Now the API sends `NOTIFY tidings_work` after a successful write and every
engine on PostgreSQL holds a connection that LISTENs and wakes its runner. Polling stays as it
was, so a lost notification (or a lost listening connection, re-opened with backoff) costs at
most one poll interval, never work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Final

import structlog
from sqlalchemy import text

from tidings.db.engine import Database
from tidings.engine.health import Backoff, is_unavailable, sleep_unless

log = structlog.get_logger("tidings.wakeups")
CHANNEL: Final = "tidings_work"
_NOTIFY: Final = text(f"NOTIFY {CHANNEL}")


class Notifier:
    """The API side: one NOTIFY at a time; writes during one are folded into one more after it."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._task: asyncio.Task[None] | None = None
        self._again = False

    def poke(self) -> None:
        """Tell idle engines to look for work now (does not wait; failures are left to their poll)."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.create_task(self._send())

    async def _send(self) -> None:
        try:
            while True:
                self._again = False
                async with self.db.engine.connect() as conn:
                    await conn.execute(_NOTIFY)
                    await conn.commit()  # a notification is delivered when its transaction commits
                if not self._again:
                    return
        except Exception as exc:  # noqa: BLE001 - the engines' poll finds the work; the API must not fail
            log.debug("wake-up not sent", error=type(exc).__name__)

    async def close(self) -> None:
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


async def listen(db: Database, wake: Callable[[], None], stop: asyncio.Event) -> None:
    """Hold a LISTENing connection until `stop`, calling `wake` on each notification; re-opened after an outage."""
    backoff = Backoff(first=1.0, cap=30.0)
    lost = False

    def listening() -> None:
        nonlocal lost
        backoff.reset()
        if lost:
            log.warning("wake-ups received again")
            lost = False

    while not stop.is_set():
        try:
            await _hold(db, wake, stop, on_listening=listening)
        except Exception as exc:  # noqa: BLE001 - polling goes on; listening resumes when the database is back
            if not lost:
                log.warning("wake-ups not received, polling until the database answers again",
                            error=type(exc).__name__, unavailable=is_unavailable(exc))
                lost = True
            await sleep_unless(stop, backoff.next())


async def _hold(db: Database, wake: Callable[[], None], stop: asyncio.Event, *,
                on_listening: Callable[[], None]) -> None:
    """One listening connection, until `stop` (returns) or until it is closed (raises)."""
    async with db.engine.connect() as conn:
        raw = await conn.get_raw_connection()
        driver: Any = raw.driver_connection
        raw.detach()  # its own connection from now on: never handed to other work with a listener on it
        closed = asyncio.Event()
        await driver.add_listener(CHANNEL, lambda *_: wake())
        driver.add_termination_listener(lambda *_: closed.set())
        on_listening()
        wake()  # work queued while nobody listened
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(closed.wait())]
        try:
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()
        if not stop.is_set():
            raise ConnectionError("the listening connection was closed")
