"""Rate limits shared by several server processes through Redis (Debian's redis-server), and a Redis outage."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from conftest import _free_port
from tidings.app import create_app
from tidings.config import Settings
from tidings.db.engine import Database

from helpers import bearer, unavailable


class Redis:
    """A redis-server of the test's own, which it may stop and start again on the same port."""

    def __init__(self, binary: str) -> None:
        self.binary, self.port = binary, _free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--daemonize", "no"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


@pytest.fixture
def redis() -> Iterator[Redis]:
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("redis", "redis-server is not installed (apt-get install redis-server)")
    server = Redis(binary)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def limited(settings: Settings, redis: Redis) -> Settings:
    return settings.model_copy(update={"rate_limit_storage": redis.url,
                                       "rate_limits": {**settings.rate_limits, "clients": "5/minute"}})


async def _servers(stack: AsyncExitStack, settings: Settings, count: int) -> list[httpx.AsyncClient]:
    """`count` independent apps (each its own limiter and storage connection), as separate processes would be."""
    clients = []
    for _ in range(count):
        app: FastAPI = create_app(settings)
        await stack.enter_async_context(LifespanManager(app))
        transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 40000))
        clients.append(await stack.enter_async_context(httpx.AsyncClient(transport=transport,
                                                                         base_url="http://tidings.test")))
    return clients


@pytest.fixture
async def token(db: Database, make_account: Any) -> AsyncIterator[str]:
    created = await make_account()
    yield created.api_token


async def _codes(servers: list[httpx.AsyncClient], token: str, rounds: int) -> list[int]:
    codes = []
    for _ in range(rounds):
        for http in servers:
            codes.append((await http.get("/api/v1/clients", headers=bearer(token))).status_code)
    return codes


async def test_a_limit_holds_across_servers_sharing_redis(limited: Settings, token: str) -> None:
    async with AsyncExitStack() as stack:
        servers = await _servers(stack, limited, 3)
        codes = await _codes(servers, token, 3)
    # 5 per minute for the user in all: the sixth request, whichever server gets it, is refused.
    assert codes[:5] == [200] * 5 and codes[5:] == [429] * 4


async def test_without_shared_storage_each_server_counts_alone(settings: Settings, token: str) -> None:
    alone = settings.model_copy(update={"rate_limits": {**settings.rate_limits, "clients": "5/minute"}})
    async with AsyncExitStack() as stack:
        servers = await _servers(stack, alone, 3)
        codes = await _codes(servers, token, 3)
    assert codes == [200] * 9  # the reason to configure redis:// for several processes


async def test_a_redis_outage_leaves_the_api_answering_and_is_reported(limited: Settings, token: str,
                                                                       redis: Redis) -> None:
    async with AsyncExitStack() as stack:
        (http,) = await _servers(stack, limited, 1)
        assert (await _codes([http], token, 2)) == [200, 200]
        redis.stop()
        # Fail open: an outage of the limiter's storage must not take every endpoint down with it.
        assert (await _codes([http], token, 6)) == [200] * 6
        health = (await http.get("/healthz")).json()
        assert "rate limit storage" in health["outages"] and health["status"] == "ok"
        redis.start()  # a fresh, empty Redis on the same port
        codes = await _codes([http], token, 7)
        assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
        assert "rate limit storage" not in (await http.get("/healthz")).json()["outages"]
