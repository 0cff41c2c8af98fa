"""Shared fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from TIDINGS_TEST_POSTGRES_URL, or from a throwaway cluster started here when the
server binaries are installed; without either, the PostgreSQL runs are skipped, visibly.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession

from tidings.app import create_app
from tidings.config import Settings
from tidings.core import clock as clock_module
from tidings.core.clock import ManualClock
from tidings.db import models  # noqa: F401
from tidings.db.base import Base
from tidings.db.engine import Database
from tidings.engine.context import EngineContext
from tidings.engine.runner import Runner
from tidings.runtime import boot
from tidings.tenancy.service import NewAccount, create_account

from helpers import script_values

ROOT = Path(__file__).resolve().parent.parent
PG_SKIPPED = "PostgreSQL unavailable"
_pg: dict[str, Any] = {"url": None, "reason": None, "dir": None, "schema_ready": False}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _share_route_contexts() -> None:
    """Build each module-level route's FastAPI context once for the whole run instead of once per app.

    FastAPI (0.16x) builds every route's context, its dependant and pydantic fields, for each app on the
    first request that matches through its router: 0.5-0.8 s per app for all of ours, which the ~1,500 tests
    that make an app each paid. The context depends on the route and how its router is included, which are
    the same in every app; only the dependency-overrides holder differs, and no test overrides a dependency.
    Routes made per app (their endpoint is a closure) are built as before. Without these FastAPI internals
    (another version), nothing changes.
    """
    try:
        from fastapi import routing as fastapi_routing

        effective = fastapi_routing._EffectiveRouteContext  # type: ignore[attr-defined]
        build = effective.from_api_route.__func__
    except AttributeError:
        return
    built: dict[tuple[Any, ...], Any] = {}

    def from_api_route(cls: Any, *, original_route: Any, include_context: Any) -> Any:
        c = include_context
        if "<locals>" in getattr(original_route.endpoint, "__qualname__", "<locals>"):
            return build(cls, original_route=original_route, include_context=c)
        key = (id(original_route), id(c.included_router), c.prefix, tuple(map(str, c.tags)),
               tuple(id(d.dependency) for d in c.dependencies), c.max_body_size, repr(c.default_response_class),
               repr(c.responses), c.include_in_schema, c.deprecated)
        if key not in built:  # holding the route and router keeps their ids theirs for the run
            built[key] = (build(cls, original_route=original_route, include_context=c), original_route, c)
        return built[key][0]

    effective.from_api_route = classmethod(from_api_route)


def _xdist_controller(config: pytest.Config) -> bool:
    """True in the process that hands tests to `-n` workers: it runs none itself, so it needs no database."""
    return bool(getattr(config.option, "numprocesses", None)) and "PYTEST_XDIST_WORKER" not in os.environ


def pytest_configure(config: pytest.Config) -> None:
    _share_route_contexts()
    if _xdist_controller(config):
        _pg["reason"] = "the -n workers find PostgreSQL themselves"
        return
    _find_postgres()
    if os.environ.get("TIDINGS_TEST_REQUIRE_POSTGRES") and not _pg["url"]:
        raise pytest.UsageError(f"PostgreSQL is required here but unavailable: {_pg['reason']}")


def _find_postgres() -> None:
    url = os.environ.get("TIDINGS_TEST_POSTGRES_URL")
    if url:
        _pg["url"] = _worker_database(url)
        return
    if os.environ.get("TIDINGS_TEST_NO_POSTGRES"):
        _pg["reason"] = "TIDINGS_TEST_NO_POSTGRES is set"
        return
    try:
        out = subprocess.run([str(ROOT / "scripts" / "pg-throwaway.sh"), "start", str(_free_port())],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _pg["reason"] = f"could not start PostgreSQL: {exc}"
        return
    if out.returncode != 0:
        _pg["reason"] = "could not start PostgreSQL: " + (out.stderr.strip() or f"exit {out.returncode}")
        return
    values = script_values(out.stdout)
    _pg["url"], _pg["dir"] = values["URL"], values["DIR"]


def _worker_database(url: str) -> str:
    """Under `-n`, each worker's own database on the given server: the tests truncate every table."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    parsed = make_url(url)
    name = f"{parsed.database}_{worker}"

    async def create() -> None:
        conn = await asyncpg.connect(host=parsed.host, port=parsed.port, user=parsed.username,
                                     password=parsed.password, database=parsed.database)
        try:
            if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
                await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    asyncio.run(create())
    return parsed.set(database=name).render_as_string(hide_password=False)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _pg["dir"]:
        subprocess.run([str(ROOT / "scripts" / "pg-throwaway.sh"), "stop", _pg["dir"]], capture_output=True)


def pytest_report_header(config: pytest.Config) -> str:
    if _xdist_controller(config):
        return "postgresql: a database per -n worker"
    return f"postgresql: {_pg['url'] or 'SKIPPED (' + str(_pg['reason']) + ')'}"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Under `-n` the workers' reports reach the controller here: it notes why PostgreSQL runs were skipped."""
    if report.skipped and isinstance(report.longrepr, tuple) and PG_SKIPPED in str(report.longrepr[2]):
        _pg["skipped"] = str(report.longrepr[2]).split(PG_SKIPPED, 1)[1].lstrip(": ")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    reason = _pg.get("skipped") if _xdist_controller(terminalreporter.config) else (
        None if _pg["url"] else _pg["reason"])
    if reason:
        terminalreporter.write_line(f"NOTE: PostgreSQL runs were skipped: {reason}", yellow=True, bold=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not _pg["url"]:
        pytest.skip(f"{PG_SKIPPED}: {_pg['reason']}")
    return str(request.param)


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}" if backend == "sqlite" else str(_pg["url"])


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, secret_key="test-secret-key", data_dir=tmp_path,
                    public_url="http://tidings.test", outbound_allow_private=True,
                    rate_limits={"default": "1000/minute", "clients": "1000/minute", "contacts_search": "1000/minute"})


async def _reset_schema(db: Database) -> None:
    async with db.engine.begin() as conn:
        if db.sqlite:
            await conn.run_sync(Base.metadata.create_all)
            return
        if not _pg["schema_ready"]:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
            await conn.run_sync(Base.metadata.create_all)
            _pg["schema_ready"] = True
        else:
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            await conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = boot(settings)
    await _reset_schema(database)
    yield database
    await database.dispose()


@pytest.fixture
async def session(db: Database) -> AsyncIterator[AsyncSession]:
    async with db.sessions() as s:
        yield s


@pytest.fixture
def clock() -> Iterator[ManualClock]:
    manual = ManualClock()
    previous = clock_module.set_clock(manual)
    yield manual
    clock_module.set_clock(previous)


@pytest.fixture
async def app(settings: Settings, db: Database) -> AsyncIterator[Any]:
    application = create_app(settings)
    async with LifespanManager(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://tidings.test") as c:
        yield c


@pytest.fixture
async def make_account(db: Database) -> Any:
    async def make(name: str = "Acme", email: str = "owner@acme.test") -> NewAccount:
        async with db.transaction() as s:
            return await create_account(s, name=name, email=email)

    return make


@pytest.fixture
async def account(make_account: Any) -> NewAccount:
    created: NewAccount = await make_account()
    return created


@pytest.fixture
def engine_ctx(app: Any) -> EngineContext:
    """The engine context sharing the app's database and providers."""
    return EngineContext(app.state.db, app.state.settings, app.state.providers, "test-worker")


@pytest.fixture
def runner(engine_ctx: EngineContext) -> Runner:
    return Runner(engine_ctx)
