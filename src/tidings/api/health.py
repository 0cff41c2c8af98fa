"""`/healthz`, and the answer every dialect gives while the database cannot be reached."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Literal

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from tidings.api import errors
from tidings.core.errors import DomainError
from tidings.engine.health import DATABASE, Health, is_unavailable

log = structlog.get_logger("tidings.app")
router = APIRouter()
CHECK_TIMEOUT = 2.0  # /healthz answers quickly even when the database hangs
RETRY_AFTER = "5"


class EngineHealth(BaseModel):
    state: Literal["off", "starting", "running", "degraded", "stopped"] = Field(
        description="`off` when this process runs no engine (`serve --no-engine`; see the workers' logs)")
    worker: str | None = None
    last_tick: datetime | None = Field(None, description="When the engine last completed a round (UTC)")


class DependencyHealth(BaseModel):
    since: datetime
    error: str = Field(description="The kind of failure, e.g. ConnectionRefusedError; the details are in the log")
    failures: int


class HealthOut(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]
    engine: EngineHealth
    outages: dict[str, DependencyHealth] = Field(
        default_factory=dict, description="What this process cannot reach now (database, providers, Redis)")


def _health(request: Request) -> Health:
    health: Health | None = getattr(request.app.state, "health", None)
    if health is None:
        health = request.app.state.health = Health()
    return health


@router.get("/healthz", tags=["ops"], response_model=HealthOut,
            responses={503: {"model": HealthOut, "description": "The database cannot be reached"}})
async def healthz(request: Request) -> JSONResponse:
    """ok (200) or degraded (503, while the database cannot be reached), with the engine's state."""
    health = _health(request)
    try:
        async with request.app.state.db.reading() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), CHECK_TIMEOUT)
        health.up(DATABASE)
    except Exception as exc:  # noqa: BLE001 - any failure to answer SELECT 1 is an unavailable database
        health.down(DATABASE, exc)
    down = health.is_down(DATABASE)
    body = HealthOut(
        status="degraded" if down else "ok", database="unavailable" if down else "ok",
        engine=EngineHealth(state=health.engine_state, worker=health.worker, last_tick=health.last_tick),
        # Only the kind of error: /healthz is public, and the details (addresses, ports) are in the log.
        outages={name: DependencyHealth(since=o.since, error=o.error.split(":", 1)[0], failures=o.failures)
                 for name, o in health.outages.items()})
    return JSONResponse(body.model_dump(mode="json"), status_code=503 if down else 200)


def install(app: FastAPI) -> None:
    """Answer in each dialect's envelope, with Retry-After, when the database cannot be reached."""

    async def unavailable(request: Request, exc: Exception) -> JSONResponse:
        if not is_unavailable(exc):
            log.error("unhandled error", path=request.url.path, error=type(exc).__name__)
            err = DomainError("Internal error", nrs_code=101)
            err.status = 500
            return errors.render(request, err)
        _health(request).down(DATABASE, exc)
        # The messaging dialect's documented code for this is 101 (Internal Database error).
        err = DomainError("Service temporarily unavailable, try again later.", nrs_code=101)
        err.status = 503
        response = errors.render(request, err)
        response.headers["Retry-After"] = RETRY_AFTER
        return response

    app.add_exception_handler(SQLAlchemyError, unavailable)
    app.add_exception_handler(OSError, unavailable)
