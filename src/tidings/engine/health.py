"""Outages of what a long-running process depends on (database, providers, Redis) and the engine's state.

A process keeps running through any outage: callers report each failure with `down()` and each
success with `up()`; only the transitions are logged (one line when an outage starts, one when it
ends, never one per retry), and `/healthz` shows the current state.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from sqlalchemy import exc as sa_exc

from tidings.core import clock

log = structlog.get_logger("tidings.health")
DATABASE = "database"


def is_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says a dependency cannot be reached now (retry later), rather than a bug in our code."""
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated or isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError):
            return True
        return is_unavailable(exc.orig) if isinstance(exc.orig, BaseException) else False
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError | OSError | TimeoutError):
        return True  # OSError covers ConnectionRefusedError and ConnectionResetError
    name = type(exc).__name__
    module = type(exc).__module__
    # asyncpg's own classes (the server shutting down or starting up, a closed connection), without importing it.
    if module.startswith("asyncpg"):
        return name in {"ConnectionDoesNotExistError", "InterfaceError", "ConnectionFailureError",
                        "CannotConnectNowError", "AdminShutdownError", "CrashShutdownError",
                        "OperatorInterventionError", "TooManyConnectionsError", "InternalClientError"} \
            or "Connection" in name
    return False


@dataclass
class Outage:
    since: datetime
    error: str
    failures: int = 1


@dataclass
class Health:
    """What one process knows about its dependencies and its engine; shared by its server, engine and listeners."""

    outages: dict[str, Outage] = field(default_factory=dict)
    engine_state: str = "off"  # off | starting | running | degraded | stopped
    worker: str | None = None
    last_tick: datetime | None = None

    def down(self, dependency: str, error: BaseException | str) -> None:
        """Note a failure; the first of an outage is logged."""
        detail = error if isinstance(error, str) else f"{type(error).__name__}: {error}".strip()
        detail = detail.splitlines()[0][:300] if detail else "unavailable"
        outage = self.outages.get(dependency)
        if outage is not None:
            outage.failures += 1
            return
        self.outages[dependency] = Outage(since=clock.now(), error=detail)
        log.warning("dependency unavailable, retrying with backoff", dependency=dependency, error=detail)

    def up(self, dependency: str) -> None:
        """Note a success; the end of an outage is logged with how long it lasted."""
        outage = self.outages.pop(dependency, None)
        if outage is not None:
            seconds = round((clock.now() - outage.since).total_seconds(), 1)
            log.warning("dependency available again", dependency=dependency, outage_seconds=seconds,
                        failed_attempts=outage.failures)

    def is_down(self, dependency: str) -> bool:
        return dependency in self.outages

    def ticked(self) -> None:
        self.last_tick = clock.now()
        self.engine_state = "running"


class Backoff:
    """Capped exponential delays with jitter: first, 2*first, 4*first ... at most `cap` seconds."""

    def __init__(self, first: float = 0.5, cap: float = 30.0) -> None:
        self.first, self.cap = first, cap
        self._next = first

    def next(self) -> float:
        delay = self._next
        self._next = min(self.cap, self._next * 2)
        # Jitter keeps many workers from hammering a database that has just come back at the same instant.
        return delay * random.uniform(0.8, 1.2)  # noqa: S311 - not a secret

    def reset(self) -> None:
        self._next = self.first


async def sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    """Wait `seconds`, or less if `stop` is set meanwhile."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
