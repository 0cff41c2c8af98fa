"""Process start-up shared by the server, the worker and the CLI: settings, secrets, database."""

from __future__ import annotations

import asyncio
import gc
import resource
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from sqlalchemy.orm import configure_mappers

from tidings.channels.registry import Providers
from tidings.config import Settings
from tidings.core import ids, secrets
from tidings.db.engine import Database
from tidings.messaging import otp, pricing, restrictions, shortlinks, tracking
from tidings.messaging.certificates import facts as certificates
from tidings.net import http

T = TypeVar("T")


def boot(settings: Settings) -> Database:
    """Configure the install secret and open the database."""
    key = settings.resolved_secret_key()
    ids.configure(key)
    secrets.configure(key)
    tracking.configure(key)
    shortlinks.configure(key)
    otp.configure(key)
    certificates.configure(key)
    # The mappers are set up by the first query otherwise (about 60 ms, paid by the first request or batch).
    configure_mappers()
    return Database(settings.database_url)


def providers_for(settings: Settings) -> Providers:
    return Providers({"email": settings.email_relay_url, "sms": settings.sms_url,
                      "voice": settings.voice_url, "whatsapp": settings.whatsapp_url})


def warm(settings: Settings) -> None:
    """Load what the engine reads for every SMS before the first one: the price list and the country rules.

    The rules build a holiday calendar per country (about 0.1 s); loaded at start, a broken operator file is
    logged now rather than at the first send, and `tune_gc` then freezes them with the other start-up objects.
    The TLS context of outbound calls loads the CA bundle (20 ms and more), which the first notification would
    otherwise do on the event loop.
    """
    pricing.price_list_for(settings)
    restrictions.rules_for(settings)
    http.verified_context()


OPEN_FILES_WANTED = 65536


def raise_open_files_limit() -> int:
    """Raise this process's soft limit on open files to its hard limit (at most 65,536); returns the soft limit.

    Every notification in flight holds a socket (`worker_io_concurrency`, 2,048 by default), on top of the
    database, SMTP and SMPP connections, and a service manager's usual soft limit is 1,024 in all.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard, OPEN_FILES_WANTED)
    if soft != resource.RLIM_INFINITY and soft < ceiling:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
            soft = ceiling
        except (ValueError, OSError):
            pass  # the runner keeps its calls in flight within what is allowed (Runner.io_slots)
    return int(soft)


def tune_gc() -> None:
    """Tune the cyclic collector for a long-running process, once its start-up objects exist.

    With the default thresholds a full collection ran every few hundred thousand allocations and walked
    every object the imports created: about 15 % of the engine's CPU in the SMS benchmark. Frozen objects
    are never walked again; a larger first threshold collects young garbage less often (docs/performance.md).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run a long-lived process's main coroutine on uvloop (as uvicorn runs `tidings serve`) when installed."""
    factory: Callable[[], asyncio.AbstractEventLoop] | None
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvicorn[standard] installs it where it builds
        factory = None
    else:
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)
