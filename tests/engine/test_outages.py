"""A runner keeps going through a database outage, says so once in its logs and in /healthz, and sends afterwards."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select, text
from structlog.testing import capture_logs

from conftest import ROOT, _free_port
from tidings.app import create_app
from tidings.config import Settings
from tidings.db import engine as db_engine
from tidings.db.base import Base
from tidings.db.models import Message
from tidings.engine.context import EngineContext
from tidings.engine.dispatcher import dispatch
from tidings.engine.health import DATABASE, is_unavailable
from tidings.engine.receipts import drain_receipts
from tidings.engine.runner import Runner
from tidings.messaging import outbox
from tidings.runtime import boot, providers_for
from tidings.tenancy.service import create_account
from tidings.tenancy.subject import AuthSubject

from fakes.smsc import FakeSmsc
from helpers import bearer, script_values, unavailable

SCRIPT = ROOT / "scripts" / "pg-throwaway.sh"


@pytest.fixture
def own_postgres() -> Iterator[tuple[str, str]]:
    """A PostgreSQL cluster of this test's own, which it may stop and start: (url, dir)."""
    out = subprocess.run([str(SCRIPT), "start", str(_free_port())], capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        unavailable("postgres", out.stderr.strip() or f"exit {out.returncode}")
    values = script_values(out.stdout)
    try:
        yield values["URL"], values["DIR"]
    finally:
        subprocess.run([str(SCRIPT), "stop", values["DIR"]], capture_output=True)


def _pg(command: str, directory: str) -> None:
    subprocess.run([str(SCRIPT), command, directory], check=True, capture_output=True, timeout=60)


async def _queue_sms(settings: Settings, account_id: int, count: int, start: int) -> None:
    db = boot(settings)
    try:
        async with db.transaction() as s:
            sending = await outbox.open_sending(s, AuthSubject(account_id=account_id, user_id=1), channel="sms",
                                                source="test")
            s.add_all([outbox.new_message(account_id=account_id, channel="sms", sender="TIDINGS",
                                          recipient=f"34666{start + i:06d}", sending=sending, body=f"Code {start + i}",
                                          extra={"kind": "transactional"}) for i in range(count)])
    finally:
        await db.dispose()


async def _sent(settings: Settings) -> int:
    db = boot(settings)
    try:
        async with db.sessions() as s:
            return int((await s.execute(select(func.count()).select_from(Message)
                                        .where(Message.sent_at.is_not(None)))).scalar() or 0)
    finally:
        await db.dispose()


async def _wait_for(predicate: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.2)
    return False


@pytest.fixture
async def outage_setup(own_postgres: tuple[str, str], tmp_path: Path) -> AsyncIterator[tuple[Settings, str, Any]]:
    url, directory = own_postgres
    settings = Settings(database_url=url, secret_key="test-secret-key", data_dir=tmp_path,
                        public_url="http://tidings.test", worker_poll_seconds=0.05, worker_lease_seconds=5)
    db = boot(settings)
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
    async with db.transaction() as s:
        account = await create_account(s, name="Acme", email="owner@acme.test")
    await db.dispose()
    yield settings, directory, account


async def test_a_runner_survives_a_postgres_restart_and_sends_what_was_queued_meanwhile(
        outage_setup: tuple[Settings, str, Any]) -> None:
    settings, directory, account = outage_setup
    await _queue_sms(settings, account.account_id, 20, 0)
    app = create_app(settings)
    with capture_logs() as logs:
        async with LifespanManager(app):
            ctx = EngineContext(app.state.db, settings, providers_for(settings), "outage-test", app.state.health)
            runner = Runner(ctx)
            task = asyncio.create_task(runner.run_forever())
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://tidings.test") as http:
                try:
                    assert await _wait_for(lambda: _is(_sent(settings), 20), 30)
                    assert await _wait_for(lambda: _state_is(http, "running"), 10)

                    _pg("pause", directory)
                    await asyncio.sleep(2.0)  # several ticks and backoffs against a stopped server
                    assert not task.done(), "the runner exited during the outage"
                    health = await http.get("/healthz")
                    assert health.status_code == 503
                    body = health.json()
                    assert body["status"] == "degraded" and body["database"] == "unavailable"
                    assert body["engine"]["state"] == "degraded" and body["engine"]["last_tick"] is not None
                    api = await http.get("/api/v1/campaigns", headers=bearer(account.api_token))
                    assert api.status_code == 503 and "message" in api.json()
                    assert api.headers["retry-after"]

                    _pg("resume", directory)
                    await _queue_sms(settings, account.account_id, 30, 1000)  # accepted after the restart
                    assert await _wait_for(lambda: _is(_sent(settings), 50), 45), "queued messages were not sent"
                    assert not task.done()
                    health = await http.get("/healthz")
                    assert health.status_code == 200 and health.json()["database"] == "ok"
                    assert await _wait_for(lambda: _state_is(http, "running"), 10), health.json()
                    assert not ctx.health.is_down(DATABASE)
                finally:
                    runner.stop()
                    await asyncio.wait_for(task, 30)
            await ctx.providers.close()
    started = [e for e in logs if e["event"] == "dependency unavailable, retrying with backoff"
               and e.get("dependency") == DATABASE]
    ended = [e for e in logs if e["event"] == "dependency available again" and e.get("dependency") == DATABASE]
    assert len(started) == 1 and len(ended) == 1, "one line when the outage starts, one when it ends"
    assert ended[0]["failed_attempts"] >= 2


async def _state_is(http: httpx.AsyncClient, state: str) -> bool:
    return bool((await http.get("/healthz")).json()["engine"]["state"] == state)


async def _is(value: Any, expected: int) -> bool:
    return bool(await value >= expected)


async def test_healthz_reports_the_database_and_the_engine(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok", "database": "ok",
                        "engine": {"state": "off", "worker": None, "last_tick": None}, "outages": {}}


async def test_an_unreachable_database_is_a_503_in_the_dialect_envelope_not_a_500(
        outage_setup: tuple[Settings, str, Any]) -> None:
    settings, directory, account = outage_setup
    app = create_app(settings)
    async with LifespanManager(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://tidings.test") as http:
            _pg("pause", directory)
            try:
                outreach = await http.get("/api/v1/campaigns", headers=bearer(account.api_token))
                assert outreach.status_code == 503 and outreach.headers["retry-after"]
                assert outreach.json() == {"message": "Service temporarily unavailable, try again later."}
            finally:
                _pg("resume", directory)
            assert (await http.get("/api/v1/campaigns", headers=bearer(account.api_token))).status_code == 200
            async with app.state.db.sessions() as s:
                assert (await s.execute(text("SELECT 1"))).scalar() == 1


async def test_receipts_heard_while_postgres_restarts_are_recorded_after_it(
        outage_setup: tuple[Settings, str, Any], tmp_path: Path) -> None:
    settings, directory, account = outage_setup
    await _queue_sms(settings, account.account_id, 5, 0)
    async with FakeSmsc() as smsc:
        with_smpp = Settings(database_url=settings.database_url, secret_key="test-secret-key", data_dir=tmp_path,
                             public_url="http://tidings.test", sms_url=smsc.url())
        db = boot(with_smpp)
        ctx = EngineContext(db, with_smpp, providers_for(with_smpp), "receipts-outage")
        try:
            assert await dispatch(ctx) == 5
            provider = ctx.providers.get("sms")
            assert await _wait_for(lambda: _is(_waiting(provider), 5), 10)
            _pg("pause", directory)
            try:
                with pytest.raises(Exception) as failed:
                    await drain_receipts(ctx)
                assert is_unavailable(failed.value)
                assert provider.receipts.qsize() == 5  # acknowledged to the SMSC, so kept for the database's return
            finally:
                _pg("resume", directory)
            assert await drain_receipts(ctx) == 5
            async with db.sessions() as s:
                delivered = (await s.execute(select(func.count()).select_from(Message)
                                             .where(Message.status == "delivered"))).scalar()
            assert delivered == 5
        finally:
            await ctx.providers.close()
            await db.dispose()


async def _waiting(provider: Any) -> int:
    return int(provider.receipts.qsize())


async def _select_one(db: Any) -> int:
    async with db.transaction() as s:
        return int((await s.execute(text("SELECT 1"))).scalar_one())


async def test_a_connection_idle_in_the_pool_is_checked_before_use_so_a_restart_goes_unnoticed(
        outage_setup: tuple[Settings, str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    settings, directory, _ = outage_setup
    monkeypatch.setattr(db_engine, "PING_AFTER_IDLE_SECONDS", 0.0)  # the restart below counts as idle time
    db = boot(settings)
    try:
        assert await _select_one(db) == 1  # a connection now waits in the pool
        _pg("pause", directory)
        _pg("resume", directory)
        assert await _select_one(db) == 1  # its ping failed, so a new connection took its place
    finally:
        await db.dispose()


async def test_a_connection_used_a_moment_ago_is_not_pinged_and_a_restart_costs_one_unavailable_call(
        outage_setup: tuple[Settings, str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    settings, directory, _ = outage_setup
    monkeypatch.setattr(db_engine, "PING_AFTER_IDLE_SECONDS", 3600.0)
    db = boot(settings)
    try:
        assert await _select_one(db) == 1
        _pg("pause", directory)
        _pg("resume", directory)
        with pytest.raises(Exception) as failed:
            await _select_one(db)
        assert is_unavailable(failed.value)  # what the engine's backoff and the API's 503 are made for
        assert await _select_one(db) == 1  # the pool was invalidated with it
    finally:
        await db.dispose()
