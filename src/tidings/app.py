"""The ASGI application: the four dialects, public routes, health and metrics."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest

from tidings import api, dashboard, net
from tidings.api import deps, email_v1, errors, omni_v1, outreach_v1, protection, rest
from tidings.api import health as health_api
from tidings.config import Settings, get_settings
from tidings.engine import imap_poller, inbound_smtp, wakeups
from tidings.engine.context import EngineContext
from tidings.engine.runner import Runner, release_worker, worker_name
from tidings.logging import redact_access_log, redact_path
from tidings.runtime import boot, providers_for

log = structlog.get_logger("tidings.app")
REQUESTS = Counter("tidings_http_requests_total", "HTTP requests", ["dialect", "status"])
LATENCY = Histogram("tidings_http_request_seconds", "HTTP request latency", ["dialect"])


def _dialect(path: str) -> str:
    for prefix, name in (("/api/v1", "outreach"), ("/api/rest", "messaging"), ("/v1/email", "email"),
                         ("/v1/omni", "omni")):
        if path.startswith(prefix):
            return name
    return "other"


async def _warm_routes(app: FastAPI) -> None:
    """Match a path no route has, once, at start: FastAPI builds every route's matching context on the first
    request that looks at it (about 0.3 s for all of ours), which the first API call after a restart paid."""
    scope = {"type": "http", "method": "GET", "path": "/_warm-up", "raw_path": b"/_warm-up", "root_path": "",
             "query_string": b"", "headers": [], "scheme": "http", "server": ("127.0.0.1", 80),
             "http_version": "1.1"}

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: object) -> None:
        return None

    await app.router(scope, receive, send)  # the router alone: no middleware, logs or metrics see it


def create_app(settings: Settings | None = None, *, engine: bool = False, warm: bool = False) -> FastAPI:
    """Build the app; with `engine=True` the job runner runs inside the server process; with `warm=True`
    (`tidings serve`) its routes are made ready at start rather than by the first request."""
    settings = settings or get_settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        redact_access_log()  # after uvicorn configured its loggers
        db = boot(settings)
        app.state.db = db
        app.state.settings = settings
        app.state.providers = providers_for(settings)
        runner_task: asyncio.Task[None] | None = None
        ctx = EngineContext(db, settings, app.state.providers, worker_name())
        app.state.health = ctx.health
        app.state.rate_limiter = deps.RateLimiter(settings, ctx.health)
        app.state.notifier = None if db.sqlite else wakeups.Notifier(db)
        if engine:
            runner = Runner(ctx)
            app.state.runner = runner
            runner_task = asyncio.create_task(runner.run_forever())
        if warm:
            await _warm_routes(app)
        smtp_server = (await inbound_smtp.start(db, settings.inbound_smtp_port, settings.inbound_smtp_host,
                                                health=ctx.health)
                       if settings.inbound_smtp_port else None)
        try:
            yield
        finally:
            if smtp_server is not None:
                await inbound_smtp.stop(smtp_server)
            await imap_poller.stop_watchers(db)
            if runner_task is not None:
                app.state.runner.stop()
                await runner_task
                await release_worker(ctx)
            if app.state.notifier is not None:
                await app.state.notifier.close()
            await app.state.providers.close()
            await net.close_shared_clients()
            await db.dispose()

    app = FastAPI(title="Tidings", version="0.1.0", lifespan=lifespan,
                  description="Self-hosted outreach and messaging platform.")
    errors.install(app)
    health_api.install(app)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error", path=redact_path(request.url.path), error=type(exc).__name__)
        from tidings.core.errors import DomainError

        err = DomainError("Internal error", nrs_code=101)
        err.status = 500
        return errors.render(request, err)

    protection.install(app, deps.authenticate_request)

    @app.middleware("http")
    async def _after_each_request(request: Request, call_next):  # type: ignore[no-untyped-def]
        """Request metrics, and a wake-up for the engine of this process (one middleware: each costs a hop)."""
        dialect = _dialect(request.url.path)
        with LATENCY.labels(dialect).time():
            response: Response = await call_next(request)
        REQUESTS.labels(dialect, str(response.status_code)).inc()
        if request.method != "GET" and response.status_code < 300:
            # A change that may have queued messages or jobs (an SMS sent, a campaign started): the engine
            # in this process, and on PostgreSQL every idle worker, looks now instead of at its next poll
            # (up to `worker_poll_seconds` later).
            runner: Runner | None = getattr(request.app.state, "runner", None)
            if runner is not None:
                runner.wake()
            notifier: wakeups.Notifier | None = getattr(request.app.state, "notifier", None)
            if notifier is not None:
                notifier.poke()
        return response

    for module in (outreach_v1, rest, email_v1, omni_v1):
        app.include_router(module.router)
    for extra in api.extra_routers():
        app.include_router(extra)
    dashboard.install(app)

    app.include_router(health_api.router)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics(request: Request) -> Response:
        protection.require_metrics_token(settings, request)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return app
